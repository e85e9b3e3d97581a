"""`recallguard screen` on real listings: JSONL and CSV, bad rows, order, exit codes."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from model.matching.bundle import Bundle
from model.matching.encoder import SentenceTransformerEncoder
from model.matching.screener import Screener
from model.schema import MAX_TITLE_CHARS, Listing
from training.cli import main
from training.screen_cli import screen_file

GOOD: list[dict[str, Any]] = [
    {"title": "TooyBing Wooden Bead Stacking Toys", "listing_id": "first"},
    {"title": "Hornby 2014 Catalogue", "brand": "Hornby", "listing_id": "second", "price": 12},
    {"title": "prank noise maker", "listing_id": "third", "identifiers": ["AJ0192-Y-3"]},
]


def _jsonl(path: Path) -> Path:
    lines = [
        json.dumps(GOOD[0]),
        '{"title": ""}',  # line 2: empty title
        "{not json",  # line 3
        json.dumps(GOOD[1]),
        "",  # blank lines are not rows
        '{"title": "x", "colour": "red"}',  # line 6: unknown field
        '{"title": "y", "price": "cheap"}',  # line 7: wrong type
        json.dumps({"title": "z" * (MAX_TITLE_CHARS + 1)}),  # line 8: over-long title
        json.dumps(GOOD[2]),
        "[1, 2]",  # line 10: not an object
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with open(path, "ab") as fh:
        fh.write(b'{"title": "bad \xff bytes"}\n')  # line 11: not UTF-8
    return path


def _ids(path: Path) -> list[str]:
    return [json.loads(line)["listing_id"] for line in path.read_text().splitlines()]


def test_jsonl_keeps_order_reports_bad_lines_and_matches_the_screener(
    screener: Screener, tmp_path: Path
) -> None:
    out = tmp_path / "verdicts.jsonl"
    err = io.StringIO()
    summary = screen_file(
        screener, _jsonl(tmp_path / "in.jsonl"), out, "jsonl", batch_size=2, err=err
    )
    assert _ids(out) == ["first", "second", "third"]
    messages = err.getvalue()
    for line, why in [(2, "title"), (3, "bad JSON"), (6, "colour"), (7, "price"), (8, "title"),
                      (10, "object"), (11, "UTF-8")]:  # fmt: skip
        assert f"line {line}: skipped:" in messages and why in messages, line
    assert [b.line for b in summary.bad_rows] == [2, 3, 6, 7, 8, 10, 11]
    assert "line 5" not in messages and "line 1:" not in messages
    # Same pipeline as the service: identical verdicts to calling the Screener directly on the
    # same batches (bf16 sums depend on which listings share a pass; test_screening.py).
    good = [Listing.from_dict(g) for g in GOOD]
    direct = screener.screen(good[:2]) + screener.screen(good[2:])
    written = [json.loads(line) for line in out.read_text().splitlines()]
    assert [w["decision"] for w in written] == [v.decision for v in direct]
    assert [w["probability"] for w in written] == [v.probability for v in direct]
    assert written[0]["match"]["entry_id"] == "cpsc-10917"
    assert summary.screened == 3 and sum(summary.decisions.values()) == 3
    assert "listings/s" in summary.line() and "skipped 7 bad rows" in summary.line()


def test_csv_with_quoted_commas_identifier_lists_and_bad_rows(
    screener: Screener, tmp_path: Path
) -> None:
    source = tmp_path / "in.csv"
    source.write_text(
        "title,listing_id,price,identifiers\n"
        "TooyBing Wooden Bead Stacking Toys,first,,\n"
        '"Hornby, 2014 Catalogue",second,4.50,\n'
        ",empty,,\n"  # line 4: no title
        "noise maker,third,,X1|AJ0192-Y-3;\n"
        "toy,cheap,abc,\n"  # line 6: price not a number
        "toy,extra,1,,surplus\n",  # line 7: more cells than the header
        encoding="utf-8",
    )
    out = tmp_path / "verdicts.jsonl"
    err = io.StringIO()
    summary = screen_file(screener, source, out, "csv", err=err, progress=False)
    assert _ids(out) == ["first", "second", "third"]
    assert [b.line for b in summary.bad_rows] == [4, 6, 7]
    assert "line 6: skipped: price 'abc' is not a number" in err.getvalue()
    third = json.loads(out.read_text().splitlines()[2])
    hit = next(c for c in third["candidates"] if c["entry_id"] == "cpsc-10925")
    assert hit["evidence"]["matched_identifiers"]  # the ';'/'|' list reached the matcher


@pytest.fixture
def fast_load(encoder: SentenceTransformerEncoder, monkeypatch: pytest.MonkeyPatch) -> None:
    """Load bundles with the session's encoder instead of reading MiniLM from disk again."""
    real = Bundle.load.__func__  # type: ignore[attr-defined]
    monkeypatch.setattr(
        Bundle, "load", classmethod(lambda cls, path, encoder_=None: real(cls, path, encoder))
    )


def test_exit_codes(tiny_bundle_path: Path, tmp_path: Path, fast_load: None, capsys: Any) -> None:
    model = ["--model", str(tiny_bundle_path), "--quiet"]
    good = tmp_path / "good.jsonl"
    good.write_text("".join(json.dumps(g) + "\n" for g in GOOD))
    out = tmp_path / "out.jsonl"
    assert main(["screen", "--input", str(good), "--output", str(out), *model]) == 0
    assert len(out.read_text().splitlines()) == 3
    assert "screened 3 listings" in capsys.readouterr().out

    bad = _jsonl(tmp_path / "bad.jsonl")
    assert main(["screen", "--input", str(bad), "--output", str(out), *model]) == 1
    captured = capsys.readouterr()
    assert "line 3: skipped" in captured.err and "skipped 7 bad rows" in captured.out
    assert _ids(out) == ["first", "second", "third"]

    missing = ["screen", "--input", str(tmp_path / "nope.jsonl"), "--output", str(out)]
    assert main([*missing, *model]) == 2
    assert "does not exist" in capsys.readouterr().err
    odd = tmp_path / "listings.txt"
    odd.write_text(json.dumps(GOOD[0]) + "\n")
    assert main(["screen", "--input", str(odd), "--output", str(out), *model]) == 2
    assert "--format" in capsys.readouterr().err
    assert (
        main(["screen", "--input", str(odd), "--output", str(out), "--format", "jsonl", *model])
        == 0
    )
    header = tmp_path / "cols.csv"
    header.write_text("title,colour\nx,red\n")
    assert main(["screen", "--input", str(header), "--output", str(out), *model]) == 2
    assert "colour" in capsys.readouterr().err
