"""A hand-made list of products to block (what a regulator hands over), as CSV or JSONL.

Columns / keys: ``entry_id`` and ``product_name`` are required; ``brand``, ``model_numbers``,
``gtins``, ``description``, ``hazard``, ``recall_date`` (YYYY, YYYY-MM or YYYY-MM-DD), ``url``,
``category``, ``aliases`` (other names it is sold under) and ``source`` (default ``manual``) are
optional. In CSV, several model numbers, GTINs or aliases are separated by ``;`` or ``|``; in
JSONL they may also be lists. Every row is checked
(`model.entry_rows.check_row`, shared with the admin API) and every problem is reported with
its line, before anything is imported.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from model.entry_rows import FIELDS, REQUIRED, check_row
from model.schema import BlocklistEntry

from .common import ImportFileError, csv_rows, read_text


def read_manual(path: Path) -> tuple[list[BlocklistEntry], str]:
    text = read_text(path)
    if path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        rows, fmt = _jsonl_rows(path, text), "manual-jsonl"
    elif path.suffix.lower() == ".csv":
        header, csv_iter = csv_rows(path, text)
        unknown = [h for h in header if h not in FIELDS]
        missing = [h for h in REQUIRED if h not in header]
        if unknown or missing:
            problems = [f"unknown column {h!r}" for h in unknown]
            problems += [f"missing column {h!r}" for h in missing]
            raise ImportFileError(path, [f"line 1: {p} (columns: {', '.join(FIELDS)})"
                                         for p in problems])  # fmt: skip
        rows, fmt = ((line, dict(r)) for line, r in csv_iter), "manual-csv"
    else:
        raise ImportFileError(path, ["a manual list must be a .csv or .jsonl file"])
    entries: list[BlocklistEntry] = []
    errors: list[str] = []
    first_line: dict[str, int] = {}
    for line, row in rows:
        problems, entry = check_row(row)
        if entry is not None and entry.entry_id in first_line:
            problems.append(f"entry_id {entry.entry_id!r} already on line "
                            f"{first_line[entry.entry_id]}")  # fmt: skip
        errors.extend(f"line {line}: {p}" for p in problems)
        if entry is not None and not problems:
            first_line[entry.entry_id] = line
            entries.append(entry)
    if errors:
        raise ImportFileError(path, errors)
    return entries, fmt


def _jsonl_rows(path: Path, text: str) -> Iterable[tuple[int, dict[str, Any]]]:
    out = []
    errors = []
    for n, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            errors.append(f"line {n}: invalid JSON: {exc.msg}")
            continue
        if not isinstance(value, dict):
            errors.append(f"line {n}: expected a JSON object, got {type(value).__name__}")
            continue
        out.append((n, value))
    if errors:
        raise ImportFileError(path, errors)
    return out
