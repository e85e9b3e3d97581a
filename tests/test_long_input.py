"""Long listings are screened, not refused, and what they cost is bounded by what the matcher
reads (characters and tokens), not by what the seller sent."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from model.matching import fast_encoder
from model.matching.screener import Screener
from model.matching.views import READ_TITLE_CHARS, ListingView
from model.schema import MAX_TEXT_CHARS, MAX_TITLE_CHARS, Listing
from service.schemas import ListingIn
from training.cli import main
from training.loaders import AMAZON_CSV, DATA_DIR

# Row 1528 of the Amazon UK file: the longest real title (it used to be refused at 500 chars).
LONG_ROW = 1528


def _amazon_row(n: int) -> dict[str, str]:
    with open(DATA_DIR / AMAZON_CSV, encoding="utf-8", newline="") as fh:
        for i, row in enumerate(csv.DictReader(fh), start=1):
            if i == n:
                return row
    raise AssertionError(f"no row {n}")


def test_the_535_character_amazon_title_is_screened(
    screener: Screener, tiny_bundle_path: Path, tmp_path: Path
) -> None:
    title = _amazon_row(LONG_ROW)["product_name"]
    assert len(title) == 536  # "535 characters" in issue 12, counted after trimming
    listing = ListingIn.model_validate({"title": title, "listing_id": "long"}).to_listing()
    verdict = screener.screen_one(listing)
    assert verdict.listing_id == "long" and verdict.decision in ("allow", "review", "block")
    # And end to end through the CLI: screened, exit status 0.
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text(json.dumps({"title": title, "listing_id": "long"}) + "\n")
    assert main(["screen", "--input", str(source), "--output", str(out), "--quiet",
                 "--model", str(tiny_bundle_path)]) == 0  # fmt: skip
    assert json.loads(out.read_text())["listing_id"] == "long"


def _pathological(chars: int) -> Listing:
    # Long code-like tokens: no word-piece vocabulary, every one a candidate identifier.
    tokens = [f"QX{i:04d}ZR{i * 7919 % 10000:04d}KV" for i in range(chars // 15 + 1)]
    title = " ".join(tokens)[:chars]
    return Listing(title=title, description=(" ".join(tokens) * 8)[:MAX_TEXT_CHARS])


@pytest.fixture
def forward_widths(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """(rows, longest row rounded up to 8 tokens) of every transformer pass, packed or padded."""
    widths: list[tuple[int, int]] = []

    def spying(original: Any) -> Any:
        def spy(self: Any, rows: list[list[int]]) -> Any:
            widths.append((len(rows), fast_encoder.padded(max(len(r) for r in rows))))
            return original(self, rows)

        return spy

    for name in ("_forward", "_packed"):
        monkeypatch.setattr(
            fast_encoder.FastPath, name, spying(getattr(fast_encoder.FastPath, name))
        )
    return widths


def test_pathological_listing_work_is_capped(
    screener: Screener, forward_widths: list[tuple[int, int]]
) -> None:
    longest = _pathological(MAX_TITLE_CHARS)
    assert len(longest.title) == MAX_TITLE_CHARS and len(longest.description) == MAX_TEXT_CHARS
    ListingIn.model_validate(longest.to_dict())  # accepted at the HTTP edge
    # What the fuzzy features and the gate read: the same bounded prefix, whatever the length.
    view = ListingView.of(longest)
    assert len(view.text) <= READ_TITLE_CHARS
    assert view == ListingView.of(_pathological(2 * READ_TITLE_CHARS))
    # What the transformer reads: at most MAX_SEQ_TOKENS tokens.
    screener.screen([longest])
    assert forward_widths and max(w for _, w in forward_widths) <= fast_encoder.MAX_SEQ_TOKENS
    # An ordinary title is read whole (the cap never cuts a real Amazon title: at most 116).
    forward_widths.clear()
    screener.search.encoder.encode(["Melissa & Doug Wooden Stacking Rainbow Rings"])
    assert forward_widths == [(1, 16)]


def test_work_per_listing_stops_growing_with_length(
    screener: Screener, forward_widths: list[tuple[int, int]]
) -> None:
    screener.screen([_pathological(3 * READ_TITLE_CHARS)])
    long_tokens = sum(r * w for r, w in forward_widths)
    forward_widths.clear()
    screener.screen([_pathological(MAX_TITLE_CHARS)])
    assert sum(r * w for r, w in forward_widths) == long_tokens
