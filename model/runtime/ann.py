"""Writing index files and their pointers safely: readers see the old file or the new one.

The index structures themselves (flat, IVF, IVF-PQ) and their one search interface live in
`model.matching.vector_index`.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import faiss


def fsync_dir(path: Path) -> None:
    """Flush folder `path`'s entries to disk, so a rename inside it survives a power cut.

    :raises OSError: the folder cannot be opened.
    """
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_text(path: Path, text: str) -> None:
    """Write new, fsync, rename, fsync the folder: readers see the old file or the new one."""
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_index_atomic(index: faiss.Index, path: Path) -> None:
    """Write a FAISS index to `path` the same way as `atomic_write_text`: old file or new one.

    The temp file sits beside `path` (same filesystem, so the rename is atomic) and is removed
    whatever happens.

    :raises RuntimeError: FAISS cannot write the index.
    """
    fd, tmp = tempfile.mkstemp(prefix=".index-", dir=path.parent)
    os.close(fd)
    try:
        faiss.write_index(index, tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        fsync_dir(path.parent)
    finally:
        Path(tmp).unlink(missing_ok=True)
