"""A hand-made list of products to block (what a regulator hands over), as CSV or JSONL.

Columns / keys: ``entry_id`` and ``product_name`` are required; ``brand``, ``model_numbers``,
``gtins``, ``description``, ``hazard``, ``recall_date`` (YYYY, YYYY-MM or YYYY-MM-DD), ``url``,
``category``, ``aliases`` (other names it is sold under) and ``source`` (default ``manual``) are
optional. In CSV, several model numbers, GTINs or aliases are separated by ``;`` or ``|``; in
JSONL they may also be lists. Every row is checked and every problem is reported with its line,
before anything is imported.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any

from model.matching.identifiers import canonical_id, is_valid_gtin
from model.schema import MAX_TEXT_CHARS, MAX_TITLE_CHARS, BlocklistEntry

from .common import ImportFileError, csv_rows, read_text

FIELDS = tuple(f.name for f in fields(BlocklistEntry))
REQUIRED = ("entry_id", "product_name")
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}")
_SOURCE = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
_DATE = re.compile(r"\d{4}(?:-\d{2}(?:-\d{2})?)?")


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


def _split(value: Any, name: str, problems: list[str]) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [v.strip() for v in re.split(r"[;|]", value) if v.strip()]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [v.strip() for v in value if v.strip()]
    problems.append(f"{name} must be a string or a list of strings")
    return []


def _text(row: Mapping[str, Any], name: str, problems: list[str], limit: int) -> str:
    value = row.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        problems.append(f"{name} must be a string, got {type(value).__name__}")
        return ""
    value = " ".join(value.split())
    if len(value) > limit:
        problems.append(f"{name} is {len(value)} characters; at most {limit} are accepted")
    return value


def check_row(row: Mapping[str, Any]) -> tuple[list[str], BlocklistEntry | None]:
    """(problems, entry); the entry is None when the row cannot make one."""
    problems: list[str] = []
    unknown = sorted(set(row) - set(FIELDS))
    if unknown:
        problems.append(f"unknown fields {unknown}")
    entry_id = _text(row, "entry_id", problems, 128)
    if not _ID.fullmatch(entry_id):
        problems.append(f"entry_id {entry_id!r} must be 1-128 letters, digits or ._:/- "
                        "starting with a letter or digit")  # fmt: skip
    name = _text(row, "product_name", problems, MAX_TITLE_CHARS)
    if not name:
        problems.append("product_name is required")
    source = _text(row, "source", problems, 32) or "manual"
    if not _SOURCE.fullmatch(source):
        problems.append(f"source {source!r} must be lower-case letters, digits, - or _")
    models = _split(row.get("model_numbers"), "model_numbers", problems)
    for m in models:
        if len(canonical_id(m)) < 3:
            problems.append(f"model number {m!r} is too short to match on (3+ letters/digits)")
    gtins = []
    for g in _split(row.get("gtins"), "gtins", problems):
        digits = re.sub(r"[\s-]", "", g)
        if not (digits.isdigit() and len(digits) in (8, 12, 13, 14) and is_valid_gtin(digits)):
            problems.append(f"GTIN {g!r} is not an 8/12/13/14-digit code with a valid check digit")
        else:
            gtins.append(digits.zfill(14))
    date = _text(row, "recall_date", problems, 10)
    if date and not _DATE.fullmatch(date):
        problems.append(f"recall_date {date!r} must be YYYY, YYYY-MM or YYYY-MM-DD")
    url = _text(row, "url", problems, 2000)
    if url and not url.startswith(("http://", "https://")):
        problems.append(f"url {url!r} must start with http:// or https://")
    aliases = _split(row.get("aliases"), "aliases", problems)
    texts = {k: _text(row, k, problems, MAX_TEXT_CHARS)
             for k in ("brand", "description", "hazard", "category")}  # fmt: skip
    if problems:
        return problems, None
    entry = BlocklistEntry(
        entry_id=entry_id, source=source, product_name=name, model_numbers=tuple(
            dict.fromkeys(canonical_id(m) for m in models)
        ), gtins=tuple(dict.fromkeys(gtins)), recall_date=date, url=url,
        aliases=tuple(dict.fromkeys(aliases)), **texts,
    )  # fmt: skip
    return problems, entry
