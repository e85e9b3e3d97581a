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
