"""The attack suite: evasive and clean listing texts generated from blocklist entries.

Used to train and test the matcher on what sellers of recalled or counterfeit toys really do
(drop or swap the brand, misspell, leetspeak, homoglyphs, invisible characters, letter spacing,
keyword stuffing, bare model numbers, reordering, multipacks) and on the clean titles an
honest-looking seller writes (`plain_variants`, the training positives).

Reproducible by construction: every (entry, tactic, i) gets its own `random.Random` seeded from a
string, so an item does not depend on which other entries or tactics were generated, nor on their
order, nor on PYTHONHASHSEED (string seeds are hashed with SHA-512 by `random`).
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from model.matching.normalise import normalise
from model.schema import BlocklistEntry, Listing
from training.attacks._text import (
    NotApplicable,
    clean_brand,
    clip,
    identifiers,
    name_without_brand,
    wording,
)
from training.attacks.tactics import TACTICS, Tactic

__all__ = [
    "TACTICS",
    "AttackedListing",
    "NotApplicable",
    "Tactic",
    "generate",
    "plain_variants",
]


@dataclass(frozen=True)
class AttackedListing:
    """An evasive listing together with the tactic that made it and the entry it disguises."""

    tactic: str
    entry_id: str
    listing: Listing


def generate(
    entries: Iterable[BlocklistEntry],
    tactics: Sequence[str] | None = None,
    per_tactic: int = 1,
    seed: int = 0,
) -> list[AttackedListing]:
    """Up to `per_tactic` attacked listings per entry and tactic; inapplicable ones are skipped,
    and repeats of an identical title for the same entry and tactic are dropped."""
    names = list(TACTICS) if tactics is None else list(tactics)
    unknown = [t for t in names if t not in TACTICS]
    if unknown:
        raise ValueError(f"unknown attack tactics {unknown}; known: {sorted(TACTICS)}")
    out: list[AttackedListing] = []
    for entry in entries:
        for tactic in names:
            seen: set[str] = set()
            for i in range(per_tactic):
                rng = random.Random(f"{seed}:{entry.entry_id}:{tactic}:{i}")
                try:
                    listing = TACTICS[tactic](entry, rng)
                except NotApplicable:
                    continue
                if listing.title in seen:
                    continue
                seen.add(listing.title)
                listing = dataclasses.replace(
                    listing, listing_id=f"attack-{tactic}-{entry.entry_id}-{i}"
                )
                out.append(AttackedListing(tactic, entry.entry_id, listing))
    return out


def _shortened(name: str) -> str:
    """A trimmed name as sellers write it: parenthetical detail dropped, a long name cut to its
    first two thirds, a short one to its last words (the head noun) unless that would start
    on a fragment like "n" in "Rock n Play"."""
    if "(" in name:
        cut = name.split("(", 1)[0].strip(" -,")
        if cut:
            return cut
    words = name.split()
    if len(words) >= 5:
        return " ".join(words[: -(-2 * len(words) // 3)])
    if len(words) >= 3:
        return " ".join(words[1:] if len(words[1]) > 2 else words[:-1])
    return name


def plain_variants(entry: BlocklistEntry, rng: random.Random, n: int = 4) -> list[Listing]:
    """Up to n distinct clean titles for the product: the name itself always first, then a
    sample of brand + name, name + model number, name + product type and shortened names."""
    full = " ".join(entry.product_name.split())
    brand, name = clean_brand(entry), name_without_brand(entry)
    models = [m.strip() for m in entry.model_numbers if m.strip()] or identifiers(entry)[:1]
    words = wording(entry)
    kind = rng.choice(words.types)
    sep = rng.choice((" ", " - ", ", "))
    candidates: list[tuple[str, str]] = [(full, "")]
    if brand:
        candidates.append((f"{brand} {name}", brand))
    if models:
        model = rng.choice(models)
        candidates.append((f"{name} {model}", ""))
        if brand:
            candidates.append((f"{brand} {name} {model}", brand))
    candidates.append((f"{name}{sep}{kind}", ""))
    candidates.append((f"{name} {rng.choice(words.suffixes)}", ""))
    candidates.append((_shortened(name), ""))
    if brand:
        candidates.append((f"{_shortened(name)} by {brand}", brand))

    unique: dict[str, tuple[str, str]] = {}
    for title, b in candidates:
        unique.setdefault(normalise(title), (clip(title), b))
    first, *rest = unique.values()
    chosen = [first, *rng.sample(rest, min(len(rest), max(n - 1, 0)))][: max(n, 0)]
    return [
        Listing(title=title, listing_id=f"plain-{entry.entry_id}-{i}", brand=b)
        for i, (title, b) in enumerate(chosen)
    ]
