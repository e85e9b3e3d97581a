"""What a recall notice says about the product as sold: colours, sizes, printed codes, brand names.

Sellers describe the thing in their hands, so realistic titles are built from the notice's
description rather than its headline: "sold in size large ... in the color pink" becomes
"Pink, Size L"; "TheKiddoSpace logo" becomes the brand a listing shows. Everything here is a
plain regular expression over the entry's own text; nothing is invented.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from model.matching.identifiers import extract_identifiers
from model.schema import BlocklistEntry
from training.attacks._text import clean_brand, name_without_brand

COLOURS = (
    "black",
    "white",
    "red",
    "blue",
    "green",
    "yellow",
    "pink",
    "purple",
    "orange",
    "grey",
    "gray",
    "silver",
    "gold",
    "brown",
    "beige",
    "navy",
    "teal",
    "turquoise",
    "mint",
    "ivory",
    "cream",
    "camo",
    "multicolor",
    "multicolour",
    "rose gold",
    "light blue",
    "dark blue",
)
_COLOUR = re.compile(r"\b(" + "|".join(sorted(COLOURS, key=len, reverse=True)) + r")\b", re.I)
_SIZE = re.compile(
    r"\b\d+(?:\.\d+)?(?:\s?-\s?|\s)?(?:inch(?:es)?|in\.|cm|mm|oz|ounces?|ft|feet|mah|v|w|watts?|"
    r"lbs?|pounds?|kg|ml|l|liters?|litres?|months?|years?)\b",
    re.I,
)
_NAMED_BRAND = re.compile(
    r"(?:brand(?:\s+name)?s?|sold under(?:\s+the\s+name)?|labell?ed|branded|printed with)\s+"
    r"[\"“']?([A-Z][\w'&.+-]*(?:\s[A-Z][\w'&.+-]*){0,2})"
)
_LOGO = re.compile(
    r"([A-Z][\w'&.+-]*(?:\s[A-Z][\w'&.+-]*){0,2})\s+(?:logo|brand name|name and logo)"
)
_NOT_BRANDS = frozenset(
    {
        "The",
        "This",
        "These",
        "A",
        "An",
        "Recalled",
        "Model",
        "Only",
        "It",
        "They",
        "Each",
        "Amazon",
        "Walmart",
        "Target",
        "CPSC",
        "Consumers",
        "China",
        "Made",
    }
)


@dataclass(frozen=True)
class Facts:
    """The parts of a notice a listing of the product may show."""

    brand: str
    name: str
    colours: tuple[str, ...]
    sizes: tuple[str, ...]
    codes: tuple[str, ...]
    named_brands: tuple[str, ...]
    lines: tuple[str, ...] = ()


def _unique(items: list[str]) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for item in items:
        seen.setdefault(item.lower(), item)
    return tuple(seen.values())


_LINE_WORD = r"(?:[A-Z][\w'+-]*|[A-Z0-9]*\d[\w-]*)"
_NOT_LINES = frozenset({"Brand", "Branded", "Inc", "LLC", "Ltd", "Co", "The", "And", "Recall"})


def _lines(text: str, brand: str) -> tuple[str, ...]:
    """Product-line names the notice gives right after the brand: "Jetson Rogue", "Swagway X1",
    "Thermos Stainless King" give "Rogue", "X1", "Stainless King" (one or two capitalised or
    numbered words). Sellers name the line, so realistic titles use it."""
    head = brand.split()[0] if brand.split() else ""
    if len(head) < 3:
        return ()
    pattern = rf"\b{re.escape(head)}\b(?:\s+{re.escape(brand)[len(head) :].strip() or '(?!)'})?"
    found = []
    for m in re.finditer(rf"(?i:{pattern})\s+({_LINE_WORD}(?:\s+{_LINE_WORD})?)", text):
        words = [w for w in m.group(1).split() if w.strip("'") not in _NOT_LINES]
        if words and not words[0].isdigit() and not words[0].rstrip(",.").isdigit():
            found.append(" ".join(words).rstrip(",."))
    return _unique(found)[:3]


def facts_of(entry: BlocklistEntry) -> Facts:
    """The brand, brand-free name, colours, sizes, codes and other brand names of an entry."""
    text = " ".join(entry.description.split())[:3000]
    brand = clean_brand(entry)
    named = [m.strip(" .,") for m in _NAMED_BRAND.findall(text) + _LOGO.findall(text)]
    named = [n for n in named if n.split()[0] not in _NOT_BRANDS and n.lower() != brand.lower()]
    aliases = tuple(getattr(entry, "aliases", ()) or ())
    codes = [m.strip() for m in entry.model_numbers if m.strip()]
    raw_codes = re.findall(r"\b[A-Z0-9]+(?:[-/.][A-Z0-9]+)*\b", text)
    canon = extract_identifiers(text)
    codes += [
        c
        for c in raw_codes
        if any(ch.isdigit() for ch in c) and len(c) >= 4 and re.sub(r"[^A-Z0-9]", "", c) in canon
    ]
    return Facts(
        lines=_lines(f"{entry.product_name}. {text}", brand),
        brand=brand,
        name=name_without_brand(entry),
        colours=_unique([c.lower() for c in _COLOUR.findall(text)]),
        sizes=_unique([" ".join(s.split()) for s in _SIZE.findall(text)])[:6],
        codes=_unique(codes)[:8],
        named_brands=_unique([*aliases, *named])[:4],
    )
