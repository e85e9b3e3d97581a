"""What every importer shares: the error that lists every bad place, and line-numbered CSV rows."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from model.schema import BlocklistEntry

MAX_ERRORS_SHOWN = 10


class ImportFileError(ValueError):
    """A file cannot be imported; `errors` lists every problem found, each with its place."""

    def __init__(self, path: Path, errors: Sequence[str]) -> None:
        self.path = path
        self.errors = list(errors)
        shown = "; ".join(self.errors[:MAX_ERRORS_SHOWN])
        more = len(self.errors) - MAX_ERRORS_SHOWN
        tail = f" (and {more} more)" if more > 0 else ""
        noun = "problem" if len(self.errors) == 1 else "problems"
        super().__init__(f"{path}: {len(self.errors)} {noun}, nothing imported: {shown}{tail}")


@dataclass(frozen=True)
class ImportBatch:
    """Entries read from one file, the format recognised, and notes on dropped values."""

    entries: list[BlocklistEntry]
    format: str
    warnings: list[str] = field(default_factory=list)


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFileError(path, [f"not UTF-8 text: {exc}"]) from None


def sniff_delimiter(text: str) -> str:
    """Comma or semicolon (spreadsheet exports in European locales use ';')."""
    header = text.split("\n", 1)[0]
    return ";" if header.count(";") > header.count(",") else ","


def csv_rows(path: Path, text: str) -> tuple[list[str], Iterator[tuple[int, dict[str, str]]]]:
    """(header, (line number, row) pairs); a ragged or malformed row names its line."""
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=sniff_delimiter(text))
    try:
        header = [h.strip() for h in reader.fieldnames or []]
    except csv.Error as exc:
        raise ImportFileError(path, [f"line 1: malformed CSV header: {exc}"]) from None
    reader.fieldnames = header

    def rows() -> Iterator[tuple[int, dict[str, str]]]:
        line = reader.line_num + 1
        try:
            for row in reader:
                if None in row or any(v is None for v in row.values()):
                    expected = f"expected {len(header)} fields, got a different number"
                    raise ImportFileError(path, [f"line {line}: {expected}"])
                yield line, row
                line = reader.line_num + 1
        except csv.Error as exc:
            raise ImportFileError(path, [f"line {line}: malformed CSV: {exc}"]) from None

    return header, rows()
