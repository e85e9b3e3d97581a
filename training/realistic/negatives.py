"""Hard negatives that look like real listings: what honest products near a recall look like.

* `generic_negatives`: bare product-type titles ("toy", "Reusable 8 oz baby bottle");
* `same_brand_negatives`: a recalled brand on a real listing of another product type;
* `same_line_negatives`: a recalled brand and product type with another product line's name
  ("Thermos FUNtainer food jar" beside the Stainless King recall, "Micro Maxi scooter" beside
  the Mini Micro one), the line word taken from a real Amazon title of that type;
* `variant_negatives`: the recalled product's name with its edition dropped ("Throw Throw
  Burrito" beside the "Extreme Going Pro Edition" recall) or another edition named;
* `colour_negatives`: the recalled product in a colour its notice does not list, where the
  notice lists colours ("INIU power bank, red" beside a recall of black and blue ones).

The last two are the benign same-brand look-alikes of `data/realworld-dev` as a kind (that set
itself is never trained on). Every generator is seeded per entry, so items are reproducible.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from model.matching.normalise import tokens
from model.matching.specificity import BRAND_NOISE, TermWeights
from model.matching.vocab import COLOURS, STOPWORDS, VARIANT_WORDS, colours_of
from model.schema import BlocklistEntry, Listing
from training.attacks._text import strip_brand
from training.realistic import TYPES, Generated, TitleBank, _listing, product_type
from training.realistic.facts import facts_of

_GENERIC_ADJ = (
    "",
    "",
    "Reusable",
    "Kids",
    "Baby",
    "New",
    "Soft",
    "Wooden",
    "Plastic",
    "Mini",
    "Portable",
    "Classic",
    "Large",
    "Cute",
    "Electric",
)
# Share of same-line negatives named by a short model code rather than a real title's word, and
# the code's letters.
MODEL_CODE_SHARE = 0.3
_CODE_LETTERS = "TSXHVMKG"
# Editions a seller names for the standard product of a line (never in a recall's own wording
# when the negative is made: each is checked against the entry's text).
_OTHER_EDITIONS = ("Original Edition", "Classic", "Lite", "Max", "Plus", "Deluxe", "Junior", "XL")


def generic_negatives(entries: Sequence[BlocklistEntry], seed: int = 0) -> list[Generated]:
    """Bare product-type titles with nothing specific: no brand, no code, no model name."""
    kinds = sorted({k for e in entries if (k := product_type(e.product_name))} | set(TYPES))
    out = []
    for kind in kinds:
        for i in range(3):
            rng = random.Random(f"{seed}:generic:{kind}:{i}")
            size = rng.choice(("", "", "8 oz", "10000mAh", "Size M", "3 Pack", "2 pcs"))
            colour = rng.choice(("", "", "", "Blue", "Pink", "Black"))
            title = " ".join(f"{rng.choice(_GENERIC_ADJ)} {size} {kind} {colour}".split())
            out.append(Generated("generic", None, Listing(title=title[:1].upper() + title[1:])))
    return out


def same_brand_negatives(
    entries: Sequence[BlocklistEntry], bank: TitleBank, seed: int = 0, share: float = 0.3
) -> list[Generated]:
    """A recalled brand on a real listing of a different product type (an honest product of the
    same maker): what "benign-same-brand" looks like. About `share` of branded entries."""
    titles = [listing for group in bank.by_type.values() for listing in group]
    out = []
    for entry in entries:
        f = facts_of(entry)
        rng = random.Random(f"{seed}:samebrand:{entry.entry_id}")
        if not f.brand or not titles or rng.random() >= share:
            continue
        kind = product_type(f.name)
        other = [
            t for t in rng.sample(titles, min(20, len(titles))) if product_type(t.title) != kind
        ]
        if other:
            real = other[0]
            title = f"{f.brand} {strip_brand(real.title, real.brand)}"
            out.append(Generated("same-brand", None, _listing(title, f.brand, rng)))
    return out


def _context(entry: BlocklistEntry) -> set[str]:
    aliases = " ".join(entry.aliases or ())
    return set(
        tokens(
            f"{entry.category} {entry.product_name} {entry.brand} {aliases} "
            f"{entry.description[:1500]}"
        )
    )


def _line_words(title: str, context: set[str], terms: TermWeights) -> list[str]:
    """Words of a real title that could name a product line the entry's notice does not."""
    return [
        w
        for w in tokens(title)[:4]
        if w.isalpha()
        and len(w) >= 3
        and w not in context
        and w not in STOPWORDS
        and w not in BRAND_NOISE
        and terms.weight(w) >= 0.6
    ]


def same_line_negatives(
    entries: Sequence[BlocklistEntry], bank: TitleBank, seed: int = 0, share: float = 0.5
) -> list[Generated]:
    """A recalled brand and product type under another line's name: "{brand} {line} {type} …".

    The line word comes from the head of a real Amazon title of the same product type, so it
    reads like a product line, or (`MODEL_CODE_SHARE`) is a short model code such as "T1"; it
    never occurs in the entry's notice. About `share` of branded
    entries whose product type has real titles get one.
    """
    terms = TermWeights.from_entries(entries)
    out = []
    for entry in entries:
        f = facts_of(entry)
        rng = random.Random(f"{seed}:sameline:{entry.entry_id}")
        kind = product_type(f.name)
        same = bank.by_type.get(kind or "", [])
        if not f.brand or not same or rng.random() >= share:
            continue
        context = _context(entry)
        # A short model code is a line name too ("Swagtron T1" beside the SG-5 recall).
        code = f"{rng.choice(_CODE_LETTERS)}{rng.randint(1, 9)}"
        lines = [code] if rng.random() < MODEL_CODE_SHARE and code.lower() not in context else []
        for real in rng.sample(same, min(8, len(same))):
            if lines:
                break
            words = _line_words(strip_brand(real.title, real.brand), context, terms)
            lines = [w.title() for w in words[:1]]
        if lines:
            tail = rng.sample(bank.filler(rng, 3), rng.randint(0, 2))
            title = ", ".join([f"{f.brand} {lines[0]} {kind}", *tail])
            out.append(Generated("same-line", None, _listing(title, f.brand, rng)))
    return out


def variant_negatives(
    entries: Sequence[BlocklistEntry], seed: int = 0, share: float = 0.3
) -> list[Generated]:
    """The recalled name without its edition words, or with an edition the notice never names.

    Entries whose product name has edition words ("Extreme Going Pro Edition") always get the
    stripped form; about `share` of the other branded entries get another edition's name.
    """
    out = []
    for entry in entries:
        f = facts_of(entry)
        rng = random.Random(f"{seed}:variant:{entry.entry_id}")
        name = f.name.split("(")[0].strip(" -,")
        words = name.split()
        plain = [w for w in words if not set(tokens(w)) & VARIANT_WORDS]
        if f.brand and len(plain) < len(words) and len(plain) >= 2:
            title = f"{f.brand} {' '.join(plain)}"
            out.append(Generated("variant", None, _listing(title, f.brand, rng)))
        elif f.brand and rng.random() < share:
            context = _context(entry)
            options = [e for e in _OTHER_EDITIONS if not set(tokens(e)) & context]
            if options:
                title = f"{f.brand} {name} {rng.choice(options)}"
                out.append(Generated("variant", None, _listing(title, f.brand, rng)))
    return out


_BASIC = sorted(set(COLOURS.values()))


def colour_negatives(
    entries: Sequence[BlocklistEntry], seed: int = 0, share: float = 0.3
) -> list[Generated]:
    """Brand and name with only a colour the notice never names (about `share` of the branded
    entries whose notice names colours)."""
    out = []
    for entry in entries:
        f = facts_of(entry)
        rng = random.Random(f"{seed}:colour:{entry.entry_id}")
        listed = colours_of(set(tokens(f"{entry.product_name} {entry.description[:1500]}")))
        if not f.brand or not listed or rng.random() >= share:
            continue
        other = [c for c in _BASIC if c not in listed]
        name = f.name.split("(")[0].strip(" -,")
        title = f"{f.brand} {name}, {rng.choice(other).title()}"
        out.append(Generated("colour", None, _listing(title, f.brand, rng)))
    return out
