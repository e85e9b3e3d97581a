"""Checking one blocklist entry row (a mapping of field to value) before it becomes an entry.

Shared by every place an entry arrives as loose data: the manual-list importer (CSV/JSONL, line
numbers added by the caller) and the admin API (``POST /admin/entries``, per-row errors in a
400). It lives in `model/` so that neither the service nor the training code imports the other.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from model.matching.identifiers import canonical_id, is_valid_gtin
from model.schema import MAX_TEXT_CHARS, MAX_TITLE_CHARS, BlocklistEntry

__all__ = ["FIELDS", "REQUIRED", "check_row"]

FIELDS = tuple(f.name for f in fields(BlocklistEntry))
REQUIRED = ("entry_id", "product_name")
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}")
_SOURCE = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
_DATE = re.compile(r"\d{4}(?:-\d{2}(?:-\d{2})?)?")


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
