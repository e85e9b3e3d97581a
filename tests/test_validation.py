"""The shared input rules (model/validation.py) and the records that use them."""

from __future__ import annotations

import pytest

from model.schema import BlocklistEntry, Listing
from model.validation import (
    ValidationError,
    check_depth,
    clean_text,
    finite_number,
    has_visible,
    loads,
    parse_int64,
)


@pytest.mark.parametrize("title", ["\u001f", "\u001c\u001d\u001e", " \t\n", "\u200b", "\x00\x7f"])
def test_a_title_needs_a_visible_character(title: str) -> None:
    with pytest.raises(ValidationError, match="visible character"):
        Listing(title=title)


def test_control_characters_are_removed_everywhere() -> None:
    listing = Listing(title="Wooden\x1f toy\x00", brand="Ac\x07me", description="a\nb\tc")
    assert (listing.title, listing.brand, listing.description) == ("Wooden toy", "Acme", "a\nb\tc")
    assert clean_text("caf\u00e9 \u2122", "x", max_chars=10) == "caf\u00e9 \u2122"
    assert has_visible("\u00e9") and not has_visible("\u00a0\u2003")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"price": float("inf")}, "finite"),
        ({"price": float("nan")}, "finite"),
        ({"price": 10**400}, "too large"),
        ({"price": -1}, "at least 0"),
        ({"price": True}, "number"),
        ({"title": "bear \ud83d"}, "lone surrogate"),
        ({"brand": "x" * 201}, "at most 200"),
        ({"identifiers": ["ok", ""]}, "visible"),
        ({"identifiers": "B0CB9WV7XN"}, "list of strings"),
        ({"identifiers": ["x"] * 51}, "at most 50"),
    ],
)
def test_listing_refuses_what_every_edge_refuses(kwargs: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Listing(**{"title": "Wooden toy", **kwargs})


def test_entries_share_the_text_rules() -> None:
    with pytest.raises(ValidationError, match="visible"):
        BlocklistEntry(entry_id="e1", source="manual", product_name="\u001f")
    with pytest.raises(ValidationError, match="surrogate"):
        BlocklistEntry(entry_id="e1", source="manual", product_name="Bear \udc00")
    assert BlocklistEntry("e1", "manual", "Bear\x1f").product_name == "Bear"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("NaN", "not a number JSON allows"),
        ('{"p": -Infinity}', "not a number JSON allows"),
        ('{"p": 1e999}', "too large"),
        ("[" * 1000 + "]" * 1000, "nested more than 32"),
        ("[" * 33 + "]" * 33, "nested more than 32"),
        (b"\xff", "UTF-8"),
        ("{", "not valid JSON"),
    ],
)
def test_strict_json(text: str | bytes, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        loads(text)


def test_numbers_and_ids() -> None:
    assert loads("[" * 32 + "]" * 32) is not None
    check_depth({"a": [{"b": 1}]}, max_depth=3)
    assert finite_number(3, "x") == 3.0
    assert parse_int64("9223372036854775807", "id") == 2**63 - 1
    for bad in ("9223372036854775808", "-1", "1e3", "١٢", ""):
        with pytest.raises(ValidationError):
            parse_int64(bad, "id")
