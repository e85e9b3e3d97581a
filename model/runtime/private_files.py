"""Data files that only their owner may read: databases of listings, decisions and keys."""

from __future__ import annotations

import os
from pathlib import Path


def create_private(path: Path) -> Path:
    """Create `path` empty with mode 0600 if it does not exist yet; an existing file is left.

    Called before SQLite opens a database: its ``-wal`` and ``-shm`` files take the database
    file's mode, so all three stay private whatever the process umask.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    return path
