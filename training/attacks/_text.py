"""Shared pieces of the attacks: the exception, brand/name extraction, word picking, Listing making.

Regulator data is messy ("None" as a brand, the brand repeated inside the product name, two
brands in one field), so every tactic starts from the same cleaned brand and brand-free name;
otherwise "brand removed" would still contain the brand and the training labels would lie.
"""

from __future__ import annotations

import random
import re

from model.schema import MAX_TITLE_CHARS, BlocklistEntry, Listing
from training.attacks._vocab import CHILD, CHILD_WORDS, NO_BRAND, OTHER, Wording


class NotApplicable(Exception):
    """This tactic cannot attack this entry honestly (e.g. no identifier to list); skip it."""


def clean_brand(entry: BlocklistEntry) -> str:
    """The entry's brand, or "" when the source says there is none; first of several brands."""
    brand = " ".join(entry.brand.split())
    if brand.lower() in NO_BRAND:
        return ""
    return brand.split(",")[0].strip()


def _brand_pattern(brand: str) -> re.Pattern[str]:
    """Matches the brand however it is spaced or hyphenated, plus a possessive "'s"."""
    parts = [re.escape(p) for p in re.split(r"[\s\-_.]+", brand) if p]
    body = r"[\s\-_.]*".join(parts)
    return re.compile(rf"(?<!\w){body}(?:['’]s)?(?!\w)", re.IGNORECASE)


def strip_brand(text: str, brand: str) -> str:
    if not brand:
        return " ".join(text.split())
    stripped = _brand_pattern(brand).sub(" ", text)
    return " ".join(stripped.split()).strip(" -,:;|/")


def name_without_brand(entry: BlocklistEntry) -> str:
    """The product name with the brand taken out (the name itself when nothing is left)."""
    name = " ".join(entry.product_name.split())
    return strip_brand(name, clean_brand(entry)) or name


def brand_free_name(entry: BlocklistEntry) -> str:
    """The name for tactics that promise no brand; NotApplicable when the name *is* the brand."""
    name, brand = name_without_brand(entry), clean_brand(entry)
    if brand and _brand_pattern(brand).search(name):
        raise NotApplicable(f"{entry.entry_id}: the name {name!r} is the brand")
    return name


def branded_title(entry: BlocklistEntry) -> str:
    """What an honest seller would title it: brand (once) followed by the name."""
    brand, name = clean_brand(entry), name_without_brand(entry)
    return f"{brand} {name}" if brand else name


def wording(entry: BlocklistEntry) -> Wording:
    """Children's-product phrasing for children's products, neutral phrasing for the rest."""
    text = f"{entry.product_name} {entry.category} {entry.description[:200]}".lower()
    return CHILD if any(w in text for w in CHILD_WORDS) else OTHER


def identifiers(entry: BlocklistEntry) -> list[str]:
    return [i.strip() for i in (*entry.model_numbers, *entry.gtins) if i and i.strip()]


def pick_words(
    words: list[str], rng: random.Random, k: int, preferred: int = 0, min_letters: int = 3
) -> list[int]:
    """Indices of up to k words worth attacking: the first `preferred` words (the brand) first,
    then the rest, longer words more likely -- sellers disguise the distinctive words."""
    ok = [i for i, w in enumerate(words) if sum(c.isalpha() for c in w) >= min_letters]
    first = [i for i in ok if i < preferred]
    rest = [i for i in ok if i >= preferred]
    rng.shuffle(first)
    rest.sort(key=lambda i: (-len(words[i]) * rng.random(), i))
    return (first + rest)[:k]


def clip(title: str) -> str:
    """Keep a title inside the Listing limit, cutting at a word boundary."""
    title = " ".join(title.split())
    if len(title) <= MAX_TITLE_CHARS:
        return title
    cut = title[:MAX_TITLE_CHARS]
    return cut.rsplit(" ", 1)[0] if " " in cut else cut


def make(
    entry: BlocklistEntry,
    tactic: str,
    title: str,
    *,
    n: int = 0,
    description: str = "",
    brand: str = "",
) -> Listing:
    return Listing(
        title=clip(title),
        listing_id=f"attack-{tactic}-{entry.entry_id}-{n}",
        description=description,
        brand=brand,
    )
