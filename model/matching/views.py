"""The two sides of a pair, prepared once: `ListingView` per listing, `EntryView` per entry.

Everything pair features read that depends on one side only is computed here, once: the
normalised text and its words, character trigrams, identifiers (extracted, split-up blocklist
codes rejoined, platform-supplied ones), brand words, and the variant and colour words. Each
field is read up to a fixed number of characters, so the work per listing is bounded whatever
a seller sends.
"""

from __future__ import annotations

import re
from collections.abc import Container
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise

from model.matching.identifiers import canonical_id, extract_identifiers, is_valid_gtin
from model.matching.normalise import fold, normalise, normalise_folded, tokens, word_tokens
from model.matching.specificity import BRAND_NOISE, UNIFORM, TermWeights, brand_words, distinctive
from model.matching.vocab import CHILD_WORDS, STOPWORDS, VARIANT_WORDS, colours_of
from model.schema import BlocklistEntry, Listing

_WORD = re.compile(r"[A-Za-z0-9]+")
# A name word at least this rare (share of the maximum blocklist IDF: in about a dozen notices
# or fewer of ~1,800) can tell a product from its kind.
KEYWORD_MIN_WEIGHT = 0.7
# Brand words below this weight ("electric" in "Jetson Electric Bikes") do not count as a brand.
BRAND_MIN_WEIGHT = 0.6

# How much of a listing the matcher reads, in characters, whatever the listing's length: the
# cost of preparing and featurising a listing is bounded by these, not by what the seller sent.
# The longest real title in the bundled Amazon UK file is 535 characters (116 tokens); the
# encoder separately reads at most `model.matching.fast_encoder.MAX_SEQ_TOKENS` tokens.
READ_TITLE_CHARS = 1_000  # title (with brand) as embedded and fuzzy-matched
READ_DESCRIPTION_CHARS = 2_000  # description: read for identifiers only
READ_FIELD_CHARS = 500  # brand and category (the HTTP limits: 200 and 500)


def _given_id(raw: str) -> str:
    """A platform-supplied identifier in the index's form (GTINs zero-padded to 14 digits)."""
    canon = canonical_id(raw)
    return canon.zfill(14) if canon.isdigit() and is_valid_gtin(canon) else canon


def known_identifier_ngrams(text: str, known: Container[str], max_n: int = 3) -> frozenset[str]:
    """Identifiers from the blocklist that appear in the text split up or re-punctuated.

    Sellers write `TB MZWJ` or `aj0192 y3` for `TB-MZWJ` / `AJ0192-Y-3`; free extraction cannot
    tell those fragments from words, but joining adjacent tokens and checking them against the
    blocklist's own identifiers can, without ever inventing an identifier.
    """
    # Words are ASCII letters and digits, so the canonical form of a word is its upper case
    # (`canonical_id` folds only non-ASCII look-alikes) and that of a join is the join of the
    # words' forms; the set lookup (cheap) comes before the length rule.
    words = [w.upper() for w in _WORD.findall(text[:5000])]
    found: set[str] = set()
    for n in range(1, max_n + 1):
        for i in range(len(words) - n + 1):
            canon = "".join(words[i : i + n])
            if canon in known and (
                len(canon) >= 5 or (len(canon) >= 4 and any(c.isdigit() for c in canon))
            ):
                found.add(canon)
    return frozenset(found)


# A catalogue repeats a few thousand brands and categories across millions of listings, so the
# brand and category fields are normalised once per distinct value (20 of ~180 us per listing).
@lru_cache(maxsize=8192)
def _field_words(value: str) -> frozenset[str]:
    return frozenset(tokens(value))


@lru_cache(maxsize=8192)
def _field_text(value: str) -> str:
    return normalise(value)


def _trigrams(text: str) -> set[str]:
    compact = text.replace(" ", "")
    return {compact[i : i + 3] for i in range(max(0, len(compact) - 2))}


def _child(words: set[str]) -> float:
    return 1.0 if words & CHILD_WORDS else 0.0


@dataclass(frozen=True)
class ListingView:
    """The listing side, prepared once per listing."""

    text: str
    words: frozenset[str]
    trigrams: frozenset[str]
    identifiers: frozenset[str]
    brand: str
    child: float
    brand_words: frozenset[str] = frozenset()
    sequence: tuple[str, ...] = ()
    # Listing-side parts of the variant block, prepared once rather than per candidate.
    variants: frozenset[str] = frozenset()
    colours: frozenset[str] = frozenset()
    named_brand: frozenset[str] = frozenset()
    # Content words (stop words dropped), and every word the listing shows, title or brand.
    content: frozenset[str] = frozenset()
    listed: frozenset[str] = frozenset()

    @classmethod
    def of(cls, listing: Listing, known_ids: Container[str] = frozenset()) -> ListingView:
        """`known_ids`: the blocklist's identifiers, matched even when split or re-punctuated.

        Each field is folded and normalised once, and only its first `READ_*_CHARS` characters
        are read, so the cost per listing is bounded whatever its length.
        """
        folded = fold(listing.text()[:READ_TITLE_CHARS])
        description = listing.description[:READ_DESCRIPTION_CHARS]
        raw = f"{folded} {fold(description)}" if description else folded
        text = normalise_folded(folded)
        sequence = tuple(word_tokens(text))
        words = frozenset(sequence)
        given = {_given_id(i) for i in listing.identifiers}
        ids = (
            extract_identifiers(raw)
            | known_identifier_ngrams(raw, known_ids)
            | frozenset(i for i in given if len(i) >= 3)
        )
        child_words = words | _field_words(listing.category[:READ_FIELD_CHARS])
        brand = _field_text(listing.brand[:READ_FIELD_CHARS])
        brand_tokens = frozenset(word_tokens(brand))
        return cls(
            text=text,
            words=words,
            trigrams=frozenset(_trigrams(text)),
            identifiers=ids,
            brand=brand,
            child=_child(set(child_words)),
            brand_words=brand_tokens,
            sequence=sequence[:64],
            variants=words & VARIANT_WORDS,
            colours=colours_of(words),
            named_brand=brand_tokens - BRAND_NOISE,
            content=words - STOPWORDS,
            listed=words | brand_tokens,
        )


@dataclass(frozen=True)
class EntryView:
    """The entry side, prepared once per entry when the index is loaded."""

    name: str
    words: frozenset[str]
    trigrams: frozenset[str]
    identifiers: frozenset[str]
    brand: str
    child: float
    weights: dict[str, float] | None = None
    brand_words: frozenset[str] = frozenset()
    context: frozenset[str] = frozenset()
    keywords: frozenset[str] = frozenset()
    variants: frozenset[str] = frozenset()
    colours: frozenset[str] = frozenset()
    # Summed weight of the name's content words, and the brand words that count as a brand
    # (`BRAND_MIN_WEIGHT`): fixed per entry, so computed once rather than per candidate.
    name_weight: float = 0.0
    strong_brands: frozenset[str] = frozenset()
    # Adjacent words of the name and description written as one ("power bank" → "powerbank").
    joins: frozenset[str] = frozenset()
    # Distinctive codes the notice names the product by, in its name ("PR70P Clip-In Pedals").
    name_codes: frozenset[str] = frozenset()

    @classmethod
    def of(
        cls, entry: BlocklistEntry, identifiers: frozenset[str], terms: TermWeights = UNIFORM
    ) -> EntryView:
        """`terms`: blocklist IDF (`CandidateSearch` passes the index's); uniform by default."""
        name = normalise(entry.product_name)
        words = frozenset(tokens(entry.product_name))
        context = set(tokens(f"{entry.category} {entry.product_name} {entry.description[:300]}"))
        aliases = tuple(getattr(entry, "aliases", ()) or ())
        brands = brand_words(entry.brand, aliases)
        described = frozenset(tokens(f"{entry.description[:1500]} {' '.join(aliases)}"))
        weights = {w: terms.weight(w) for w in words | brands | described}
        seq = tokens(f"{entry.product_name} {entry.description[:1500]}")
        joins = frozenset(a + b for a, b in pairwise(seq) if a.isalpha() and b.isalpha())
        return cls(
            name=name,
            words=words,
            trigrams=frozenset(_trigrams(name)),
            identifiers=identifiers,
            brand=normalise(entry.brand),
            child=_child(context),
            weights=weights,
            brand_words=brands,
            context=words | brands | described,
            keywords=_keywords(words, terms),
            variants=words & VARIANT_WORDS,
            colours=colours_of(words | described),
            name_weight=sum(weights[w] for w in words - STOPWORDS),
            strong_brands=frozenset(w for w in brands if weights[w] >= BRAND_MIN_WEIGHT),
            joins=joins,
            name_codes=frozenset(
                i
                for i in extract_identifiers(entry.product_name)
                if i in identifiers and distinctive(i)
            ),
        )


def _keywords(words: frozenset[str], terms: TermWeights, k: int = 2) -> frozenset[str]:
    """The name's `k` rarest words, if rare at all: what tells this product from its kind.

    "nursh" in "Boon NURSH 8 oz Reusable Baby Bottles"; none in "Plastic toy".
    """
    usable = {w for w in words - STOPWORDS if len(w) >= 3 and not w.isdigit()}
    ranked = sorted(usable, key=lambda w: (-terms.weight(w), w))
    return frozenset(w for w in ranked[:k] if terms.weight(w) >= KEYWORD_MIN_WEIGHT)
