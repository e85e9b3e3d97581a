"""Recall titles and brand fields → (brand, product name), the way a listing would name them.

CPSC titles are sentences ("Fisher-Price Recalls Dumbbell Toy in Baby Biceps Gift Sets Due to
Choking Hazard"); a listing names the product part only, so matching needs it cut out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

_MISSING = {"", "none", "null", "nan", "n/a", "na", "-", "unknown", "no brand", "unbranded"}
_PRODUCT_END = re.compile(
    r"\s+(?:Due to|Because|Sold (?:Exclusively|at|on|by)|Recall(?:ed)?\b|\(Recall Alert\))|[;:]"
    r"|,\s*Due",
    re.IGNORECASE,
)
_LEADING_NOISE = re.compile(
    r"^(?:to (?:Repair|Replace|Refund)\s+|Recall of\s+|the\s+"
    r"|(?:(?:Over|About|Nearly|More Than)\s+)?(?:One|Two|Three|[\d.,]+)\s+(?:Million|Thousand)\s+)",
    re.IGNORECASE,
)
_TITLE_PATTERNS = (  # first match wins; "brand" may be absent, "rest" follows "Recalled"
    re.compile(r"^CPSC,\s+(?P<brand>.+?),?\s+Announces?\s+Recall\s+(?:of\s+)?(?P<product>.+)$"),
    re.compile(
        r"^(?P<product>.+?)\s+(?:Recalled|Recall|Repair|Repaired|Replaced|Replacement|Retrofit)"
        r"\s+by\s+(?P<brand>.+?)(?:\s+Due to\b.*|;.*)?$",
        re.IGNORECASE,
    ),
    re.compile(r"^Recall of\s+(?P<product>.+?)\s+Expanded\b(?P<rest>.*)$"),
    re.compile(
        r"^(?P<brand>.+?)\s+(?:Recalls|Reannounces(?: and Expands)?|Expands|Renews Offer Of|Offers"
        r"|Recall(?=\s+[A-Z])(?!\s+(?:Alert|Of|By|Announced|Expanded)\b))\s+(?P<product>.+)$"
    ),
    re.compile(r"^(?P<product>.+?)\s+Recalled\b(?P<rest>.*)$"),
)
_BY_PHRASE = re.compile(
    r"(?:Imported|Manufactured|Distributed|Sold(?: Exclusively)?(?: on \w+)?) by (?P<who>[^;]+)$"
)
_CORPORATE = re.compile(
    r"(?:,?\s+(?:Inc|LLC|L\.L\.C|Ltd|Co|Corp|Corporation|GmbH|LP|S\.A|Limited)\.?)+$",
    re.IGNORECASE,
)
_GENERIC_LEADS = {"children's", "childrens", "kids", "baby", "infant", "toddler", "adult", "mini"}
_GENERIC_LEADS |= {"halloween", "christmas", "easter", "led", "usb", "magnetic", "portable"}
_GENERIC_LEADS |= {"montessori", "wooden", "plastic", "electric", "recalled", "certain"}
_WORD = re.compile(r"(?<![\w'])[a-z][a-z'\-]+")


def clean_text(value: Any) -> str:
    """Collapse stray tabs/newlines and map the scrapers' missing markers (literal "None") to ""."""
    text = " ".join(str(value).split()) if value is not None else ""
    return "" if text.lower() in ("none", "null", "nan") else text


def clean_brand(value: Any) -> str:
    text = re.sub(r"[®™©]", "", clean_text(value)).strip(" ,.")
    if "doing business as" in text or "d/b/a" in text or " dba " in text:
        text = re.split(r"doing business as|d/b/a| dba ", text)[-1]
    text = re.sub(r",?\s+of\s+[A-Z][\w .,'-]*$", "", text)  # "..., of Tianjin, China"
    text = _CORPORATE.sub("", text.strip(" ,."))
    return "" if text.lower() in _MISSING else text.strip(" ,.")


def vocabulary(texts: Iterable[str]) -> frozenset[str]:
    """Lower-case words used mid-sentence in at least two records: ordinary words, not brands.

    A recall title such as "KMUYSL Big Red Barn Farm Animal Playsets Recalled ..." names no brand
    explicitly; its leading words that never appear lower-case elsewhere ("KMUYSL") are the brand.
    """
    seen: dict[str, int] = {}
    for text in texts:
        for word in set(_WORD.findall(text)):
            seen[word] = seen.get(word, 0) + 1
    return frozenset(w for w, n in seen.items() if n >= 2)


def split_cpsc_title(title: str, vocab: frozenset[str] = frozenset()) -> tuple[str, str]:
    """(brand, product name) from a CPSC notice title, e.g.

    "Fisher-Price Recalls Dumbbell Toy in Baby Biceps Gift Sets Due to Choking Hazard" ->
    ("Fisher-Price", "Dumbbell Toy in Baby Biceps Gift Sets"). Listings are phrased like the
    product part, never like the "... Recalled Due to Risk of ..." sentence around it.
    """
    title = clean_text(title)
    brand, product = "", title
    rest: str | None = None
    for pattern in _TITLE_PATTERNS:
        m = pattern.match(title)
        if m:
            groups = m.groupdict()
            brand, product = groups.get("brand") or "", groups["product"]
            rest = groups.get("rest")
            break
    product = _PRODUCT_END.split(product, maxsplit=1)[0]
    product = _LEADING_NOISE.sub("", product).strip(" ,.-") or title
    if not brand and rest is not None:
        # "KMUYSL Big Red Barn ... Recalled": a first word that is no ordinary word is the brand.
        words = product.split()
        first = re.sub(r"'s$", "", words[0]) if len(words) > 1 else ""
        generic = first.lower() in vocab or first.lower() in _GENERIC_LEADS
        if first[:1].isalpha() and "-" not in first and not generic:
            brand = first
        by = _BY_PHRASE.search(rest)
        if not brand and by:
            brand = by.group("who")
    return clean_brand(brand), product
