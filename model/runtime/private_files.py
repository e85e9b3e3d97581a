"""Data files that only their owner may read: databases of listings, decisions and keys."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def create_private(path: Path) -> Path:
    """Create `path` empty with mode 0600 if it does not exist yet; an existing file is left.

    Called before SQLite opens a database: its ``-wal`` and ``-shm`` files take the database
    file's mode, so all three stay private whatever the process umask.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    return path


def write_private(path: Path, text: str, prefix: str = ".secret-") -> None:
    """Write `text` to `path` atomically with mode 0600 (never readable by others).

    The text goes to a temporary file in the same folder, is flushed to disk, then renamed over
    `path`, so a reader sees the old file or the new one, never half of either.
    """
    fd, tmp = tempfile.mkstemp(prefix=prefix, dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), 0o600)
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
