"""What the reviewer page shows, as plain data for the template: highlighting is done here by
splitting text into (text, matched) segments, which the template renders as escaped text inside
``<mark>`` or plain, so seller text is never treated as markup anywhere."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from model.matching.verdict import Candidate

from .records import ReviewItem

Segment = tuple[str, bool]
_SEPARATORS = r"[\s\-_./]?"
MAX_PATTERNS = 64


def normalize_identifier(value: str) -> str:
    return "".join(ch for ch in value.lower() if ch.isalnum())


def _pattern(terms: Iterable[str], identifiers: Iterable[str]) -> re.Pattern[str] | None:
    parts: list[str] = []
    for ident in identifiers:
        chars = normalize_identifier(ident)
        if len(chars) >= 3:
            parts.append(
                r"(?<![0-9a-z])" + _SEPARATORS.join(map(re.escape, chars)) + r"(?![0-9a-z])"
            )
    for term in terms:
        term = term.strip()
        if len(term) >= 2:
            parts.append(r"(?<!\w)" + re.escape(term) + r"\w*")
    if not parts:
        return None
    parts = sorted(set(parts), key=len, reverse=True)[:MAX_PATTERNS]
    return re.compile("|".join(f"(?:{p})" for p in parts), re.IGNORECASE)


def segments(
    text: str, terms: Iterable[str] = (), identifiers: Iterable[str] = ()
) -> list[Segment]:
    """Split `text` into runs, each flagged True when it matched a term or identifier."""
    pattern = _pattern(terms, identifiers)
    if not text or pattern is None:
        return [(text, False)] if text else []
    out: list[Segment] = []
    pos = 0
    for match in pattern.finditer(text):
        if match.end() == match.start():
            continue
        if match.start() > pos:
            out.append((text[pos : match.start()], False))
        out.append((match.group(0), True))
        pos = match.end()
    if pos < len(text):
        out.append((text[pos:], False))
    return out


def safe_url(url: str) -> str | None:
    """Only http(s) links are rendered as links."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    return url.strip() if parts.scheme in ("http", "https") and parts.netloc else None


def _chips(values: Iterable[str], matched: set[str]) -> list[Segment]:
    return [(v, normalize_identifier(v) in matched) for v in values]


def comparison(item: ReviewItem, cand: Candidate | None) -> dict[str, Any]:
    """The listing (highlighted against `cand`) beside the recalled product."""
    listing = item.listing
    assert listing is not None
    terms: list[str] = []
    idents: list[str] = []
    brand_hit = False
    if cand is not None:
        terms = list(cand.evidence.matched_terms)
        idents = list(cand.evidence.matched_identifiers)
        brand_hit = cand.evidence.brand_match
    brand_terms = [cand.brand] if cand is not None and brand_hit and cand.brand else []
    matched_ids = {normalize_identifier(i) for i in idents}
    view: dict[str, Any] = {
        "listing": {
            "title": segments(listing.title, terms + brand_terms, idents),
            "description": segments(listing.description, terms + brand_terms, idents),
            "brand": listing.brand,
            "brand_hit": brand_hit and bool(listing.brand),
            "price": None if listing.price is None else f"{listing.price:,.2f}",
            "category": listing.category,
            "listing_id": listing.listing_id,
            "identifiers": _chips(listing.identifiers, matched_ids),
        },
        "entry": None,
    }
    if cand is not None:
        ev = cand.evidence
        view["entry"] = {
            "entry_id": cand.entry_id,
            "source": cand.source,
            "product_name": segments(cand.product_name, terms + brand_terms, idents),
            "brand": cand.brand,
            "brand_hit": brand_hit,
            "hazard": cand.hazard,
            "recall_date": cand.recall_date,
            "url": safe_url(cand.url),
            "url_text": cand.url,
            "identifiers": _chips(cand.identifiers, matched_ids),
            "probability": cand.probability,
            "similarity": cand.similarity,
            "name_similarity": ev.name_similarity,
            "matched_terms": list(ev.matched_terms),
            "matched_identifiers": list(ev.matched_identifiers),
        }
    return view


def item_view(item: ReviewItem) -> dict[str, Any]:
    """Plain data for the page. Never raises for a bad stored item: it is shown with its
    problem (and whatever could be read), so the reviewer can reject it and move on."""
    cands: list[Candidate | None] = list(item.candidates) or [None]
    problem = item.problem
    comparisons: list[dict[str, Any]] = []
    if item.listing is not None:
        try:
            comparisons = [comparison(item, c) for c in cands]
        except Exception as exc:  # defensive: one odd item must not take the page down
            problem = f"{problem + '; ' if problem else ''}cannot be shown: {exc}"
    return {
        "id": item.id,
        "source": item.source,
        "probability": item.probability,
        "model_version": item.model_version,
        "screen_decision": item.screen_decision,
        "lease_expires_at": item.lease_expires_at,
        "comparisons": comparisons,
        "candidates": list(item.candidates) if comparisons else [],
        "problem": problem,
    }
