"""How telling a shared word or code is: inverse document frequency over the blocklist.

A listing that shares "toy" or "baby bottle" with a recall says little (hundreds of notices use
those words); one that shares "TooyBing" or "BLBR201" says a lot. Weights are computed from the
indexed entries themselves (name, brand and description of each, one document per entry), so a
bundle needs no extra artifact and a blocklist change re-weights on the next load.

Identifier helpers: an identifier is *distinctive* when it is long enough not to collide by
chance; a listing code is a *sibling* of a recalled one when both belong to one product line but
name different models (BLBR202 vs BLBR201), as opposed to a *family* form of the same code
(SL712 vs SL712-202201).
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from model.matching.normalise import tokens
from model.schema import BlocklistEntry

# Words the importers leave in brand fields that are not the brand (source: issue 10's examples
# "Ouwoer Direct (Recall Alert)", "Ecnup Exclusively on Amazon.com", "CPSC, TH!NK Mobility").
BRAND_NOISE = frozenset(
    [
        "recall",
        "alert",
        "direct",
        "exclusively",
        "on",
        "amazon",
        "com",
        "cpsc",
        "inc",
        "llc",
        "ltd",
        "co",
        "corp",
        "corporation",
        "company",
        "usa",
        "us",
        "international",
        "intl",
        "group",
        "the",
        "and",
        "of",
        "by",
        "store",
        "official",
        "shop",
        "limited",
        "gmbh",
    ]
)


def brand_words(brand: str, aliases: Iterable[str] = ()) -> frozenset[str]:
    """Significant tokens of a brand field and its aliases (noise words dropped, ≥ 2 chars)."""
    words: set[str] = set()
    for text in (brand, *aliases):
        words |= {w for w in tokens(text) if w not in BRAND_NOISE and len(w) >= 2}
    return frozenset(words)


@dataclass(frozen=True)
class TermWeights:
    """IDF per word over the blocklist; unseen words get the maximum (they are rarest)."""

    idf: dict[str, float]
    max_idf: float

    @classmethod
    def from_entries(cls, entries: Sequence[BlocklistEntry]) -> TermWeights:
        """Smoothed IDF, ``log((n + 1) / (df + 1)) + 1``, one document per entry.

        A document is the entry's name, brand, aliases and first 1,500 description characters.
        """
        df: Counter[str] = Counter()
        for e in entries:
            aliases = " ".join(getattr(e, "aliases", ()) or ())
            df.update(set(tokens(f"{e.product_name} {e.brand} {aliases} {e.description[:1500]}")))
        n = max(len(entries), 1)
        idf = {w: math.log((n + 1) / (c + 1)) + 1.0 for w, c in df.items()}
        return cls(idf, math.log(n + 1) + 1.0)

    def weight(self, word: str) -> float:
        """IDF scaled to 0..1 (1 = never seen in the blocklist)."""
        return self.idf.get(word, self.max_idf) / self.max_idf


UNIFORM = TermWeights({}, 1.0)

_DIGIT = re.compile(r"\d")


def distinctive(code: str) -> bool:
    """A canonical code long and mixed enough that a chance collision is unlikely."""
    has_digit = bool(_DIGIT.search(code))
    has_alpha = any(c.isalpha() for c in code)
    return len(code) >= 6 or (len(code) >= 4 and has_digit and has_alpha)


def family(a: str, b: str) -> bool:
    """One code is the other with a suffix or prefix added (KY-E008 / E008, SL712 / SL712-2022)."""
    short, long = sorted((a, b), key=len)
    return len(short) >= 4 and short != long and (long.startswith(short) or long.endswith(short))


def sibling(a: str, b: str) -> bool:
    """Whether two codes are one product line's different models.

    Equal length, a common stem, the last characters differing, digits involved (BLBR202 vs
    BLBR201, GH018L vs GH018M).
    """
    if a == b or len(a) != len(b) or len(a) < 4 or not (_DIGIT.search(a) and _DIGIT.search(b)):
        return False
    stem = 0
    while stem < len(a) and a[stem] == b[stem]:
        stem += 1
    return stem >= max(3, len(a) - 2)


def family_match(
    codes: Collection[str], recalled: Collection[str], distinctive_only: bool = False
) -> bool:
    """Whether a code is a family form of a recalled one (`family`), trying every pair.

    With `distinctive_only`, the shorter of the two must be distinctive.
    """
    return any(
        family(a, b) and (not distinctive_only or distinctive(min(a, b, key=len)))
        for a in codes
        for b in recalled
    )


def sibling_match(codes: Collection[str], recalled: Collection[str]) -> bool:
    """Whether a code is a `sibling` of a recalled one, trying every pair."""
    return any(sibling(a, b) for a in codes for b in recalled)


class CodeRelations(Protocol):
    """Family and sibling checks of a listing's codes (or a subset) against a recalled set."""

    def family_match(
        self, codes: Collection[str], recalled: Collection[str], distinctive_only: bool = False
    ) -> bool:
        """`family_match(codes, recalled, distinctive_only)`."""
        ...

    def sibling_match(self, codes: Collection[str], recalled: Collection[str]) -> bool:
        """`sibling_match(codes, recalled)`."""
        ...


class _Pairwise:
    """`CodeRelations` by trying every pair: the cheapest for a listing with a few codes."""

    def family_match(
        self, codes: Collection[str], recalled: Collection[str], distinctive_only: bool = False
    ) -> bool:
        return family_match(codes, recalled, distinctive_only)

    def sibling_match(self, codes: Collection[str], recalled: Collection[str]) -> bool:
        return sibling_match(codes, recalled)


PAIRWISE: CodeRelations = _Pairwise()


# A listing with more codes than this has its `family` and `sibling` checks looked up in a
# `CodeIndex` instead of tried against every code of every candidate. Measured (default bundle,
# 256 listings of 1,000 characters of code-like tokens, about 135 codes each, one torch thread):
# pair features 2.5 s, 10 ms a listing, against 0.2 ms for an Amazon listing.
INDEX_MIN_CODES = 8


@dataclass(frozen=True, eq=False)
class CodeIndex:
    """A listing's codes, indexed for `family` and `sibling` look-ups against a few other codes.

    The answers are those of trying every pair (`family_match`, `sibling_match`), for any
    `codes` drawn from the indexed ones; the work grows with the other side's codes (and the
    logarithm of ours), not with their product.
    """

    ordered: tuple[str, ...]  # sorted, for the codes starting with a given one
    backwards: tuple[str, ...]  # each code reversed, sorted, for the codes ending with one
    # (length, the first max(3, length - 2) characters) → the indexed codes of that length.
    by_stem: dict[tuple[int, str], tuple[str, ...]]

    @classmethod
    def of(cls, codes: Iterable[str]) -> CodeIndex:
        """The index of `codes` (canonical identifiers)."""
        every = frozenset(codes)
        ordered = tuple(sorted(every))
        stems: dict[tuple[int, str], list[str]] = {}
        for code in ordered:
            stems.setdefault(_stem(code), []).append(code)
        return cls(
            ordered,
            tuple(sorted(code[::-1] for code in every)),
            {k: tuple(v) for k, v in stems.items()},
        )

    def _longer_with_affix(self, b: str) -> Iterator[str]:
        """Indexed codes longer than `b` that start or end with it."""
        for ordered, key, turn in ((self.ordered, b, False), (self.backwards, b[::-1], True)):
            i = bisect_left(ordered, key)
            while i < len(ordered) and ordered[i].startswith(key):
                if len(ordered[i]) > len(key):
                    yield ordered[i][::-1] if turn else ordered[i]
                i += 1

    def family_match(
        self, codes: Collection[str], recalled: Collection[str], distinctive_only: bool = False
    ) -> bool:
        """Whether a code of `codes` (indexed ones) is a family form of one of `recalled`.

        As `family_match`: `family`, and with `distinctive_only` the shorter of the two
        distinctive.
        """
        for b in recalled:
            # One of ours is the shorter: a proper prefix or suffix of b.
            for k in range(4, len(b)):
                for piece in (b[:k], b[-k:]):
                    if piece in codes and (not distinctive_only or distinctive(piece)):
                        return True
            # b is the shorter: a proper prefix or suffix of one of ours.
            if (
                len(b) >= 4
                and (not distinctive_only or distinctive(b))
                and any(a in codes for a in self._longer_with_affix(b))
            ):
                return True
        return False

    def sibling_match(self, codes: Collection[str], recalled: Collection[str]) -> bool:
        """Whether a code of `codes` (indexed ones) is a `sibling` of one of `recalled`.

        Siblings have one length and share its first max(3, length - 2) characters.
        """
        return any(
            a in codes and sibling(a, b)
            for b in recalled
            if len(b) >= 4
            for a in self.by_stem.get(_stem(b), ())
        )


def code_relations(codes: frozenset[str]) -> CodeRelations:
    """How to check a listing's `codes`: a `CodeIndex` past INDEX_MIN_CODES, else every pair."""
    return CodeIndex.of(codes) if len(codes) > INDEX_MIN_CODES else PAIRWISE


def _stem(code: str) -> tuple[int, str]:
    return len(code), code[: max(3, len(code) - 2)]
