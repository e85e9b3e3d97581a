"""How many bytes a /screen_batch body of realistic listings takes: the basis of the body limit.

    python benchmarks/body_size.py

Realistic listings are built from the bundled Amazon UK toy listings
(data/amazon-uk-toys-promptcloud): each gets a 500-character title (the longest real title there
is 535) and a 2,000-character description, both made of consecutive real product names, plus the
row's brand, category path, id, price and two identifiers. A batch is 256 of them (MAX_BATCH).
Each body is measured as JSON with non-ASCII escaped (``\\uXXXX``, what Python's json, requests
and httpx send) and as raw UTF-8 (what JavaScript's JSON.stringify sends). For scale, it also
prints the same batch with every letter non-ASCII (accented Latin, CJK: an upper bound, not a
real listing), one listing with every field at its hard limit (model/schema.py), and a full batch
of those, which the limit refuses (send it in smaller calls). Prints one table; writes nothing.
"""

from __future__ import annotations

import csv
import itertools
import json
from pathlib import Path
from typing import Any

from model.schema import LISTING_LIMITS, MAX_IDENTIFIER_CHARS, MAX_IDENTIFIERS, MAX_TITLE_CHARS
from model.settings import DEFAULT_MAX_BODY_BYTES
from service.schemas import MAX_BATCH

ROOT = Path(__file__).resolve().parents[1]
AMAZON = ROOT / "data" / "amazon-uk-toys-promptcloud" / "amazon_co-ecommerce_sample_reduced.csv"
TITLE_CHARS = 500
DESCRIPTION_CHARS = 2_000


def _fill(texts: Any, chars: int) -> str:
    """Consecutive texts joined by spaces, cut to `chars` characters."""
    out = ""
    while len(out) < chars:
        out += next(texts) + " "
    return out[:chars].strip()


def realistic_listings(n: int = MAX_BATCH) -> list[dict[str, Any]]:
    """`n` listings of real Amazon UK text, 500-character titles, 2,000-character descriptions."""
    with open(AMAZON, encoding="utf-8", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["product_name"].strip()]
    names = itertools.cycle(r["product_name"].strip() for r in rows)
    out = []
    for row in rows[:n]:
        out.append(
            {
                "listing_id": row["uniq_id"],
                "title": _fill(names, TITLE_CHARS),
                "description": _fill(names, DESCRIPTION_CHARS),
                "brand": row["manufacturer"][: LISTING_LIMITS["brand"]],
                "category": row["amazon_category_and_sub_category"][: LISTING_LIMITS["category"]],
                "price": 12.99,
                "identifiers": ["B0CB9WV7XN", "5010993839292"],
            }
        )
    return out


def transliterated(listings: list[dict[str, Any]], alphabet: str) -> list[dict[str, Any]]:
    """The same listings with every letter replaced from `alphabet` (lengths kept)."""

    def swap(text: str) -> str:
        return "".join(alphabet[ord(c) % len(alphabet)] if c.isalpha() else c for c in text)

    fields = ("title", "description")
    return [{k: swap(v) if k in fields else v for k, v in x.items()} for x in listings]


def maximal_listing(char: str) -> dict[str, Any]:
    """One listing with every text field at its hard limit, written in `char`."""
    return {
        "title": char * MAX_TITLE_CHARS,
        **{name: char * limit for name, limit in LISTING_LIMITS.items()},
        "price": 12.99,
        "identifiers": [char * MAX_IDENTIFIER_CHARS] * MAX_IDENTIFIERS,
    }


def sizes(body: Any) -> tuple[int, int]:
    """(bytes as escaped JSON, bytes as raw UTF-8 JSON) of one request body."""
    escaped = len(json.dumps(body).encode())
    raw = len(json.dumps(body, ensure_ascii=False).encode("utf-8"))
    return escaped, raw


def main() -> None:
    """Print the table: body, escaped KiB, raw UTF-8 KiB, and the share of the default limit."""
    english = realistic_listings()
    rows = [
        (f"{MAX_BATCH} realistic listings, English", english),
        (f"{MAX_BATCH} same, every letter accented", transliterated(english, "ěščřžýáíéů")),
        (f"{MAX_BATCH} same, every letter CJK", transliterated(english, "玩具熊积木火车娃娃")),
    ]
    bodies: list[tuple[str, Any]] = [(name, {"listings": x}) for name, x in rows]
    bodies += [
        ("1 listing at every hard limit, ASCII", {"listing": maximal_listing("x")}),
        ("1 listing at every hard limit, CJK", {"listing": maximal_listing("玩")}),
        (
            f"{MAX_BATCH} listings at every hard limit, ASCII",
            {"listings": [maximal_listing("x")] * MAX_BATCH},
        ),
    ]
    limit = DEFAULT_MAX_BODY_BYTES
    print(f"default limit: {limit:,} bytes ({limit / 1024:,.0f} KiB)")
    print(f"{'body':<44} {'escaped KiB':>12} {'UTF-8 KiB':>10} {'% of limit':>11}")
    for name, body in bodies:
        escaped, raw = sizes(body)
        share = 100 * max(escaped, raw) / limit
        print(f"{name:<44} {escaped / 1024:>12,.0f} {raw / 1024:>10,.0f} {share:>10.0f}%")


if __name__ == "__main__":
    main()
