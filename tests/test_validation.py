"""The shared input rules (model/validation.py) and the records that use them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError as PydanticValidationError

from model.schema import (
    LISTING_LIMITS,
    MAX_IDENTIFIER_CHARS,
    MAX_IDENTIFIERS,
    MAX_TITLE_CHARS,
    BlocklistEntry,
    Listing,
)
from model.validation import (
    ValidationError,
    check_depth,
    clean_text,
    finite_number,
    has_visible,
    loads,
    parse_int64,
)
from service.schemas import ListingIn


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


# -- the HTTP model accepts exactly what the dataclass accepts ----------------------------------
def _near(limit: int) -> st.SearchStrategy[str]:
    return st.sampled_from(["x" * limit, "x" * (limit + 1), " \t", "\u001f", "\u200b", "b \ud83d"])


_words = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
_good = st.fixed_dictionaries(
    {"title": st.text("abc XYZ-019", min_size=1, max_size=12).filter(str.strip)},
    optional={
        "listing_id": _words, "brand": _words, "category": _words, "description": _words,
        "price": st.none() | st.floats(0, 1e6) | st.integers(0, 10**6),
        "identifiers": st.lists(st.text("AB12-", min_size=1, max_size=6).filter(str.strip),
                                max_size=3),
    },
)  # fmt: skip
_other = st.none() | st.booleans() | st.integers() | st.floats() | _words
_bad = st.one_of(
    st.tuples(st.just("title"), _other | _near(MAX_TITLE_CHARS)),
    *(st.tuples(st.just(name), _other | _near(limit)) for name, limit in LISTING_LIMITS.items()),
    st.tuples(st.just("price"), _other | st.just(10**400) | st.floats(max_value=-1e-9)),
    st.tuples(
        st.just("identifiers"),
        _other
        | st.lists(_words | _near(MAX_IDENTIFIER_CHARS), max_size=3)
        | st.lists(st.just("A1"), min_size=MAX_IDENTIFIERS, max_size=MAX_IDENTIFIERS + 1),
    ),
    st.tuples(st.just("colour"), _other),
)
_listing_rows = st.builds(lambda row, bad: {**row, **dict(bad)}, _good, st.lists(_bad, max_size=2))


@settings(max_examples=300, deadline=None, database=None)
@given(row=_listing_rows)
def test_the_screening_edge_accepts_exactly_what_listing_accepts(row: dict[str, Any]) -> None:
    """`ListingIn` (what /screen, /screen_batch and `recallguard screen` parse) refuses and keeps
    exactly what `Listing.from_dict` does: its pydantic layer adds no rule of its own and drops
    none, so a listing means the same at every edge (issue 14: one validation)."""
    raw = json.dumps(row)
    try:
        want: Listing | None = Listing.from_dict(json.loads(raw))
    except ValidationError:
        want = None
    try:
        got: Listing | None = ListingIn.model_validate_json(raw).to_listing()
    except PydanticValidationError:
        got = None
    assert got == want
