"""Labelled pairs: the one retraining format, its loader and its validator.

A row says "this listing is (1) / is not (0) this blocklist entry":

    {"listing": {"title": ..., "brand": ..., ...}, "entry": {"entry_id": "cpsc-10917"},
     "label": 1, "source": "review", "decided_at": "2026-11-02T10:00:00+00:00"}

JSONL (`.jsonl`, `.ndjson`, `.json`: one object per line) or CSV/TSV with flattened columns
(`listing.title`, `entry.entry_id`, `label`, ...; `left_`/`right_` prefixes as in public
product-matching sets are read as listing/entry). The reviewer queue's `export-labels` output is
accepted as is. Field names are generic product fields with common aliases (`name` for title,
`manufacturer` for brand, `model_number`/`mpn`/`gtin` for identifiers), so any labelled
product-matching set loads. An entry given by `entry_id` alone must be in the blocklist; an
entry given with its fields (at least a name) is a new entry, added to the retrained blocklist.

Every row is validated. Bad rows are reported with their line numbers, all of them in one
error, and the file is refused; `skip_bad=True` loads the good rows and returns the errors with
the result, so a caller can say how many were skipped. Nothing is dropped without a report.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from model.schema import BlocklistEntry, Listing, ValidationError
from training.pair_fields import EntryResolver, parse_listing, text_value

JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")
CSV_SUFFIXES = (".csv", ".tsv")
MAX_REPORTED = 50
TOP_LEVEL = frozenset({"listing", "entry", "label", "source", "decided_at", "reviewer"})

_CSV_PREFIXES = (("listing.", "listing"), ("left_", "listing"), ("entry.", "entry"),
                 ("right_", "entry"))  # fmt: skip


class PairsError(ValueError):
    """A pairs file has bad rows; `errors` holds one "line N: ..." message per problem."""

    def __init__(self, path: Path, errors: Sequence[str]) -> None:
        self.path = path
        self.errors = list(errors)
        shown = self.errors[:MAX_REPORTED]
        more = len(self.errors) - len(shown)
        lines = [f"{path}: {len(self.errors)} bad row(s); nothing was loaded", *shown]
        if more:
            lines.append(f"... and {more} more")
        if len(self.errors) == 1:
            lines = [f"{path}: {self.errors[0]}"]
        super().__init__("\n  ".join(lines))


def listing_key(listing: Listing) -> str:
    """A listing's identity: all its fields, as canonical JSON."""
    return json.dumps(listing.to_dict(), sort_keys=True, ensure_ascii=False)


@dataclass(frozen=True)
class LabelledPair:
    """One validated row: a listing, the entry it was judged against, and the verdict."""

    listing: Listing
    entry: BlocklistEntry
    label: int
    line: int
    source: str = ""
    decided_at: str = ""
    reviewer: str = ""

    def listing_key(self) -> str:
        """Identity of the listing, so every pair about one listing can be grouped."""
        return listing_key(self.listing)

    def to_row(self, entry_id_only: bool = True) -> dict[str, Any]:
        entry = {"entry_id": self.entry.entry_id} if entry_id_only else self.entry.to_dict()
        row: dict[str, Any] = {"listing": self.listing.to_dict(), "entry": entry}
        row["label"] = self.label
        for name in ("source", "decided_at", "reviewer"):
            if getattr(self, name):
                row[name] = getattr(self, name)
        return row


@dataclass(frozen=True)
class PairSet:
    """The valid pairs of one file, the new entries it defined, and any rows it had to skip."""

    path: Path
    pairs: tuple[LabelledPair, ...]
    new_entries: tuple[BlocklistEntry, ...] = ()
    skipped: tuple[str, ...] = field(default_factory=tuple)

    @property
    def n_positive(self) -> int:
        return sum(p.label for p in self.pairs)

    def sha256(self) -> str:
        """Hash of the parsed content (format- and order-of-keys-independent)."""
        h = hashlib.sha256()
        for p in self.pairs:
            row = {"listing": p.listing.to_dict(), "entry": p.entry.to_dict(), "label": p.label}
            h.update(json.dumps(row, sort_keys=True, ensure_ascii=False).encode() + b"\n")
        return h.hexdigest()


def _label(value: Any, from_csv: bool) -> int:
    if from_csv and isinstance(value, str) and value.strip() in ("0", "1"):
        return int(value.strip())
    if isinstance(value, bool) or value not in (0, 1) or not isinstance(value, int):
        raise ValidationError(f"label must be 1 or 0, got {value!r}")
    return int(value)


def _pair(row: Any, line: int, entries: EntryResolver, from_csv: bool) -> LabelledPair:
    if not isinstance(row, dict):
        raise ValidationError(f"a row must be an object, got {type(row).__name__}")
    unknown = set(row) - TOP_LEVEL
    if unknown:
        raise ValidationError(f"unknown field(s) {sorted(unknown)}; expected {sorted(TOP_LEVEL)}")
    for name in ("listing", "entry", "label"):
        if name not in row or row[name] in (None, ""):
            raise ValidationError(f"missing {name}")
    label = _label(row["label"], from_csv)
    listing = parse_listing(row["listing"], from_csv)
    entry = entries.resolve(row["entry"])
    extra = {n: text_value(row.get(n), n) for n in ("source", "decided_at", "reviewer")}
    if extra["decided_at"]:
        try:
            datetime.fromisoformat(extra["decided_at"])
        except ValueError:
            raise ValidationError(
                f"decided_at must be an ISO 8601 date-time, got {extra['decided_at']!r}"
            ) from None
    return LabelledPair(listing, entry, label, line, **extra)


def _jsonl_rows(text: str) -> Iterator[tuple[int, Any]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, ValidationError(f"not valid JSON ({exc.msg} at column {exc.colno})")


def _csv_row(header: Sequence[str], values: Sequence[str]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for column, value in zip(header, values, strict=True):
        column = column.strip()
        for prefix, side in _CSV_PREFIXES:
            if column.startswith(prefix):
                if value != "":
                    row.setdefault(side, {})[column[len(prefix) :]] = value
                break
        else:
            if column == "entry_id":
                row.setdefault("entry", {})["entry_id"] = value
            elif value != "":
                row[column] = value
    return row


def _csv_rows(text: str, delimiter: str) -> Iterator[tuple[int, Any]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        return
    start = reader.line_num + 1
    try:
        for values in reader:
            if any(v.strip() for v in values):
                if len(values) != len(header):
                    yield (
                        start,
                        ValidationError(f"expected {len(header)} columns, got {len(values)}"),
                    )
                else:
                    yield start, _csv_row(header, values)
            start = reader.line_num + 1
    except csv.Error as exc:
        yield start, ValidationError(f"malformed CSV ({exc})")


def load_pairs(
    path: Path, known_entries: Sequence[BlocklistEntry] = (), skip_bad: bool = False
) -> PairSet:
    """Read and validate a pairs file. Raises PairsError listing every bad row (by line)
    unless `skip_bad`, which keeps the good rows and returns the errors in `skipped`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"pairs file {path} does not exist")
    suffix = path.suffix.lower()
    if suffix not in JSONL_SUFFIXES + CSV_SUFFIXES:
        raise PairsError(path, [f"unknown format {suffix!r}; use .jsonl or .csv"])
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise PairsError(path, [f"line {line}: not UTF-8 text"]) from None
    from_csv = suffix in CSV_SUFFIXES
    rows = _csv_rows(text, "\t" if suffix == ".tsv" else ",") if from_csv else _jsonl_rows(text)
    entries = EntryResolver(known_entries)
    pairs: list[LabelledPair] = []
    errors: list[str] = []
    for line, row in rows:
        try:
            if isinstance(row, ValidationError):
                raise row
            pairs.append(_pair(row, line, entries, from_csv))
        except (ValidationError, TypeError) as exc:
            errors.append(f"line {line}: {exc}")
    if errors and not skip_bad:
        raise PairsError(path, errors)
    if not pairs:
        raise PairsError(path, [*errors, "no valid labelled pairs in the file"])
    return PairSet(path, tuple(pairs), tuple(entries.new.values()), tuple(errors))


def write_pairs(path: Path, pairs: Sequence[LabelledPair], entry_id_only: bool = True) -> Path:
    """Write pairs as JSONL (sorted keys, one row a line): the format `load_pairs` reads."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        for pair in pairs:
            fh.write(json.dumps(pair.to_row(entry_id_only), sort_keys=True, ensure_ascii=False))
            fh.write("\n")
    return path
