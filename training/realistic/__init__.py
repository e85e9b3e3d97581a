"""Training listings that look like what sellers really write, built from real data only.

The attack suite's positives are edits of the entry's name; real listings are not (see
`data/realworld-dev/`). Here each recalled product is written the ways marketplaces show it:

* `shaped`: put into the structure of a real Amazon UK title of the same product type (its
  other segments kept: ages, colours, sizes, pack counts, gift phrases);
* `described`: from the notice's description: the colours, sizes and codes it says are printed
  on the product and the other brand names it gives;
* `resale`, `mobile`, `label`: second-hand phrasing, short phone-typed titles, the full label
  code with little else;
* `translated`: the main EU languages and Chinese from hand-written phrase tables, keeping the
  brand and code as sellers do (`phrases.py`);
* `padded`: keyword padding before the name.

Negatives (`training.realistic.negatives`): bare generic product-type titles, a recalled brand
on another product type, on another product line of the same type, in another edition, or in a
colour the notice does not list.
Every generator is seeded per (entry, style, i), so items are reproducible and independent.
"""

from __future__ import annotations

import random
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from model.matching.normalise import tokens
from model.matching.vocab import VARIANT_WORDS
from model.schema import BlocklistEntry, Listing
from training.attacks._text import clip, strip_brand
from training.realistic.facts import Facts, facts_of
from training.realistic.phrases import (
    COLOURS,
    FILLER,
    FOREIGN_FILLER,
    LANGS,
    RESALE,
    RESALE_DETAILS,
    STORES,
    TYPES,
    WORDS,
)

_SPLIT = re.compile(r"\s*(?:,|\||\s-\s|–|\(|\))\s*")
_TYPE_KEYS = sorted(TYPES, key=len, reverse=True)


@dataclass(frozen=True)
class Generated:
    """A generated listing, the style that made it and the entry it shows (None: benign)."""

    style: str
    entry_id: str | None
    listing: Listing


def product_type(text: str) -> str | None:
    """The longest phrase-table product type in the text ("bike helmet" before "helmet")."""
    low = f" {text.lower()} "
    for key in _TYPE_KEYS:
        if re.search(rf"\b{re.escape(key)}(?:s|es)?\b", low):
            return key
    return None


class TitleBank:
    """Real Amazon titles by product type, and their separable filler segments."""

    def __init__(self, listings: Iterable[Listing]) -> None:
        self.by_type: dict[str, list[Listing]] = defaultdict(list)
        self.segments: list[str] = []
        for listing in listings:
            kind = product_type(listing.title)
            if kind:
                self.by_type[kind].append(listing)
            parts = [p for p in _SPLIT.split(listing.title) if p]
            # Filler never names a variant: that would make "Original Edition" look like noise
            # on a recalled product (see `model.matching.vocab.VARIANT_WORDS`).
            self.segments += [
                p for p in parts[1:] if 1 <= len(p.split()) <= 6 and not _is_variant(p)
            ]

    def filler(self, rng: random.Random, k: int) -> list[str]:
        pool = [*FILLER, *rng.sample(self.segments, min(len(self.segments), 20))]
        return rng.sample(pool, k)


def _core(f: Facts, rng: random.Random) -> str:
    """The name as a seller shortens it: parenthetical notice wording dropped, maybe cut."""
    name = f.name.split("(")[0].strip(" -,") or f.name
    words = name.split()
    if len(words) > 6 and rng.random() < 0.5:
        cut = rng.randint(3, 6)
        # An edition or variant word is what tells the recalled product from its line's others
        # ("... Extreme Going Pro Edition"): a seller shortening the name keeps it.
        words = words[:cut] + [w for w in words[cut:] if _is_variant(w)]
    return " ".join(words)


def _is_variant(text: str) -> bool:
    return bool(set(tokens(text)) & VARIANT_WORDS)


def _brand(f: Facts, rng: random.Random) -> str:
    """The brand as a seller writes it: a store brand the notice names, the maker's short name
    ("Jetson" for "Jetson Electric Bikes", as on the product), or the notice's full brand."""
    if f.named_brands and rng.random() < 0.4:
        return rng.choice(f.named_brands)
    words = f.brand.split()
    if len(words) > 1 and len(words[0]) >= 3 and rng.random() < 0.5:
        return words[0]
    return f.brand


def _listing(title: str, brand: str, rng: random.Random, description: str = "") -> Listing:
    return Listing(
        title=clip(title), brand=brand if rng.random() < 0.6 else "", description=description
    )


def shaped(entry: BlocklistEntry, f: Facts, rng: random.Random, bank: TitleBank) -> Listing:
    brand, core = _brand(f, rng), _core(f, rng)
    kind = product_type(f.name)
    if f.lines and kind and rng.random() < 0.4:
        core = f"{rng.choice(f.lines)} {kind.title()}"
    same = bank.by_type.get(kind or "", [])
    if same:
        real = rng.choice(same)
        parts = [p for p in _SPLIT.split(strip_brand(real.title, real.brand)) if p]
        keep = [p for p in parts if product_type(p) != kind and not _is_variant(p)][:4]
    else:
        keep = bank.filler(rng, rng.randint(1, 3))
    extras = [rng.choice(f.colours).title()] if f.colours and rng.random() < 0.6 else []
    extras += [rng.choice(f.sizes)] if f.sizes and rng.random() < 0.4 else []
    segments = [f"{brand} {core}".strip(), *rng.sample(keep, min(len(keep), 3)), *extras]
    sep = rng.choice((", ", " - ", " | ", ", "))
    return _listing(sep.join(segments), brand, rng)


def described(entry: BlocklistEntry, f: Facts, rng: random.Random, bank: TitleBank) -> Listing:
    brand, core = _brand(f, rng), _core(f, rng)
    bits = [f"{brand} {core}".strip()]
    if f.codes and rng.random() < 0.7:
        bits.append(rng.choice(("Model ", "Model: ", "", "#")) + rng.choice(f.codes))
    bits += [c.title() for c in rng.sample(f.colours, min(len(f.colours), rng.randint(0, 2)))]
    bits += rng.sample(f.sizes, min(len(f.sizes), rng.randint(0, 2)))
    if len(bits) == 1:
        bits += bank.filler(rng, 2)
    return _listing(", ".join(bits), brand, rng)


def resale(entry: BlocklistEntry, f: Facts, rng: random.Random, bank: TitleBank) -> Listing:
    words = _core(f, rng).split()
    short = " ".join(words[-rng.randint(1, min(3, len(words))) :]) if words else f.name
    if f.lines and rng.random() < 0.6:  # "jetson rogue hoverboard": brand, line, type
        short = f"{rng.choice(f.lines)} {product_type(f.name) or short}"
    brand = _brand(f, rng)
    head = f"{brand} {short}".strip() if brand else _core(f, rng)
    if f.codes and rng.random() < 0.4:
        head += f" {rng.choice(f.codes)}"
    if f.colours and rng.random() < 0.5:
        head += f" - {rng.choice(f.colours)}"
    year, price = rng.randint(2012, 2024), f"£{rng.randint(5, 90)}"
    if rng.random() < 0.4:
        title = rng.choice(RESALE).format(t=head, year=year, price=price)
    else:
        details = [
            d.format(store=rng.choice(STORES), year=year, n=rng.randint(50, 900), price=price)
            for d in rng.sample(RESALE_DETAILS, rng.randint(1, 3))
        ]
        title = f"{head} - {', '.join(details)}"
    return _listing(title, brand, rng)


def mobile(entry: BlocklistEntry, f: Facts, rng: random.Random, bank: TitleBank) -> Listing:
    words = _core(f, rng).lower().split()
    kind = product_type(f.name)
    bits = [_brand(f, rng).lower()] if f.brand else []
    if f.lines and rng.random() < 0.5:
        bits.append(rng.choice(f.lines).lower())
        bits += [kind] if kind and rng.random() < 0.5 else []
    else:
        bits += words[: rng.randint(1, 2)] if rng.random() < 0.5 or not kind else [kind]
    if f.codes and rng.random() < 0.3:
        bits.append(rng.choice(f.codes).lower())
    if f.colours and rng.random() < 0.5:
        bits.append(rng.choice(f.colours))
    if len(bits) < 2:
        raise ValueError("too little to go on")
    return Listing(title=" ".join(bits))


def label(entry: BlocklistEntry, f: Facts, rng: random.Random, bank: TitleBank) -> Listing:
    if not f.codes:
        raise ValueError("no code")
    code = rng.choice(f.codes)
    kind = product_type(f.name) or _core(f, rng).split()[-1].lower()
    form = rng.choice(("{k} model {c}", "{c} {k}", "{b} {c}", "{k}, model {c}, {x}", "{b} {k} {c}"))
    extra = (
        rng.choice((*f.sizes, *f.colours, "date code 2022", "S/N on base"))
        if (f.sizes or f.colours or rng.random() < 0.5)
        else ""
    )
    title = form.format(k=kind, c=code, b=f.brand or kind, x=extra or kind)
    return Listing(title=clip(title), identifiers=(code,) if rng.random() < 0.3 else ())


def translated(entry: BlocklistEntry, f: Facts, rng: random.Random, bank: TitleBank) -> Listing:
    kind = product_type(f.name)
    if not kind or not (f.brand or f.codes):
        raise ValueError("nothing that survives translation")
    lang = rng.randrange(len(LANGS))
    kids, new, _used, model, _with = WORDS[LANGS[lang]]
    brand = _brand(f, rng) if f.brand else ""
    bits = [brand] if brand else []
    bits.append(TYPES[kind][lang])
    if f.colours and f.colours[0] in COLOURS and rng.random() < 0.6:
        bits.append(COLOURS[f.colours[0]][lang])
    if f.codes and (rng.random() < 0.6 or not f.brand):
        bits.append(f"{model} {rng.choice(f.codes)}" if rng.random() < 0.5 else rng.choice(f.codes))
    if rng.random() < 0.4:
        bits.append(rng.choice((kids, new)))
    text = " ".join(bits)
    if rng.random() < 0.6:
        extra = [row[lang] for row in rng.sample(FOREIGN_FILLER, rng.randint(1, 3))]
        text = ", ".join([text, *extra])
    return _listing(text, brand, rng)


def padded(entry: BlocklistEntry, f: Facts, rng: random.Random, bank: TitleBank) -> Listing:
    pad = " ".join(bank.filler(rng, rng.randint(2, 4)))
    name = f"{_brand(f, rng)} {_core(f, rng)}".strip()
    return Listing(title=clip(f"{pad} {pad if rng.random() < 0.5 else ''} {name}"))


Style = Callable[[BlocklistEntry, Facts, random.Random, TitleBank], Listing]
STYLES: dict[str, Style] = {
    "shaped": shaped,
    "described": described,
    "resale": resale,
    "mobile": mobile,
    "label": label,
    "translated": translated,
    "padded": padded,
}


def realistic_listings(
    entries: Sequence[BlocklistEntry],
    bank: TitleBank,
    styles: Sequence[str] = tuple(STYLES),
    per_style: int = 1,
    seed: int = 0,
    styles_per_entry: int | None = None,
) -> list[Generated]:
    """Up to `per_style` listings per entry and style; styles that do not apply are skipped.
    `styles_per_entry`: a seeded sample of that many styles per entry (None: every style)."""
    out: list[Generated] = []
    for entry in entries:
        f = facts_of(entry)
        chosen = list(styles)
        if styles_per_entry is not None and styles_per_entry < len(chosen):
            chosen = random.Random(f"{seed}:{entry.entry_id}:styles").sample(
                chosen, styles_per_entry
            )
        for style in chosen:
            seen: set[str] = set()
            for i in range(per_style):
                rng = random.Random(f"{seed}:{entry.entry_id}:real:{style}:{i}")
                try:
                    listing = STYLES[style](entry, f, rng, bank)
                except (ValueError, IndexError):
                    continue
                if listing.title.strip() and listing.title not in seen:
                    seen.add(listing.title)
                    out.append(Generated(style, entry.entry_id, listing))
    return out


from training.realistic.negatives import (  # noqa: E402  (re-exported)
    colour_negatives,
    generic_negatives,
    same_brand_negatives,
    same_line_negatives,
    variant_negatives,
)

__all__ = [
    "STYLES",
    "Generated",
    "TitleBank",
    "colour_negatives",
    "generic_negatives",
    "product_type",
    "realistic_listings",
    "same_brand_negatives",
    "same_line_negatives",
    "variant_negatives",
]
