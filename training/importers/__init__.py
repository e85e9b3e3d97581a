"""Regulator feeds and hand-made lists → `BlocklistEntry`s, ready for the blocklist store.

`read_entries(path, source)` recognises the format from the file itself:

- ``cpsc``: the CPSC Recall API JSON and the CPSC snapshot formats in ``data/``;
- ``eu``: the EU Safety Gate TIS2024 CSVs in ``data/`` and the Commission's public export;
- ``manual``: a CSV or JSONL list of products, validated row by row.

Why all-or-nothing: a file with one bad row is refused whole, with every bad line listed, so a
half-imported notice never silently leaves recalled toys unblocked.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from .common import ImportBatch, ImportFileError
from .cpsc import read_cpsc
from .eu import read_eu
from .manual import read_manual

SOURCES = ("cpsc", "eu", "manual")


def read_entries(path: Path, source: str) -> ImportBatch:
    """Read a regulator or manual file; raises ImportFileError (a ValueError) naming the place."""
    path = Path(path)
    if source not in SOURCES:
        raise ValueError(f"source must be one of {', '.join(SOURCES)}, got {source!r}")
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    if source == "manual":
        entries, fmt = read_manual(path)
        batch = ImportBatch(entries, fmt)
    elif source == "cpsc":
        batch = read_cpsc(path)
    else:
        batch = read_eu(path)
    counts = Counter(e.entry_id for e in batch.entries)
    dupes = sorted(i for i, n in counts.items() if n > 1)
    if dupes:
        raise ImportFileError(path, [f"entry {d} appears more than once" for d in dupes])
    if not batch.entries:
        raise ImportFileError(path, ["the file holds no entries"])
    return batch


__all__ = ["SOURCES", "ImportBatch", "ImportFileError", "read_entries"]
