"""The labelled listings an evaluation runs on, drawn only from data a bundle never trained on.

The split is the bundle's own (`training.build.split_of` with the stored build config), so the
`test` split here is exactly the entries and listings the build set aside. Attacks on test
entries use a different seed from the build's, and the validation set (used only to tune the
baselines' cut-offs) is rebuilt exactly as the build made the one it chose its thresholds on.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

from model.schema import BlocklistEntry, Listing
from training import attacks
from training.build import BuildConfig, Split, make_examples, split_of

BENIGN = "benign"


@dataclass(frozen=True)
class HeldOut:
    """Listings with their truth: the entry a listing disguises (None: benign) and how."""

    listings: list[Listing]
    truth: list[str | None]
    tactics: list[str]

    def __post_init__(self) -> None:
        if not len(self.listings) == len(self.truth) == len(self.tactics):
            raise ValueError("listings, truth and tactics must have the same length")

    def __len__(self) -> int:
        return len(self.listings)

    @property
    def n_positive(self) -> int:
        return sum(t is not None for t in self.truth)

    @property
    def n_benign(self) -> int:
        return len(self.truth) - self.n_positive


def build_config(training: dict[str, Any]) -> BuildConfig:
    """The BuildConfig a bundle was built with (tuples come back from JSON as lists)."""
    stored = dict(training.get("config") or {})
    if not stored:
        raise ValueError("the bundle stores no build config; cannot recover its test split")
    known = {f.name for f in fields(BuildConfig)}
    kwargs: dict[str, Any] = {
        k: tuple(v) if isinstance(v, list) else v for k, v in stored.items() if k in known
    }
    return BuildConfig(**kwargs)


def _sample(items: list[Any], n: int | None, rng: random.Random) -> list[Any]:
    if n is None or len(items) <= n:
        return items
    keep = sorted(rng.sample(range(len(items)), n))
    return [items[i] for i in keep]


def in_split(
    entries: Sequence[BlocklistEntry], benign: Sequence[Listing], config: BuildConfig, split: Split
) -> tuple[list[BlocklistEntry], list[Listing]]:
    return (
        [e for e in entries if split_of(e.entry_id, config) == split],
        [b for b in benign if split_of(b.listing_id or b.title, config) == split],
    )


def with_categories(listing: Listing, categories: Sequence[str], rng: random.Random) -> Listing:
    """Give a generated listing a real marketplace category, as the build does for training
    positives (nine in ten), so "no category" cannot give a generated listing away."""
    if not categories or rng.random() < 0.1:
        return listing
    return replace(listing, category=rng.choice(categories))


def evaluation_set(
    entries: Sequence[BlocklistEntry],
    benign: Sequence[Listing],
    config: BuildConfig,
    seed: int,
    sample: int | None = None,
) -> HeldOut:
    """Every tactic applied to every test-split entry (attack seed `seed`), plus the test-split
    benign listings. `sample` keeps about that many attacked listings (an equal share per
    tactic) and at most that many benign ones, drawn with `seed`."""
    test_entries, test_benign = in_split(entries, benign, config, "test")
    categories = sorted({b.category for b in benign if b.category})
    attacked = attacks.generate(test_entries, list(attacks.TACTICS), per_tactic=1, seed=seed)
    rng = random.Random(f"eval-sample:{seed}")
    if sample is not None:
        # Spread evenly over tactics, so a small sample still has a row for every tactic.
        per = -(-sample // len(attacks.TACTICS))
        attacked = [
            item
            for tactic in attacks.TACTICS
            for item in _sample([a for a in attacked if a.tactic == tactic], per, rng)
        ]
    test_benign = _sample(test_benign, sample, rng)
    listings: list[Listing] = []
    truth: list[str | None] = []
    tactics: list[str] = []
    for item in attacked:
        crng = random.Random(f"eval-category:{seed}:{item.listing.listing_id}")
        listings.append(with_categories(item.listing, categories, crng))
        truth.append(item.entry_id)
        tactics.append(item.tactic)
    for listing in test_benign:
        listings.append(listing)
        truth.append(None)
        tactics.append(BENIGN)
    return HeldOut(listings, truth, tactics)


def tuning_set(
    entries: Sequence[BlocklistEntry],
    benign: Sequence[Listing],
    config: BuildConfig,
    seed: int,
    sample: int | None = None,
) -> HeldOut:
    """The validation listings the build chose the model's thresholds on (clean variants and
    attacks of validation entries, validation benign listings): baselines are tuned here."""
    valid_entries, valid_benign = in_split(entries, benign, config, "valid")
    examples = make_examples(valid_entries, valid_benign, config)
    rng = random.Random(f"eval-valid-sample:{seed}")
    positives = _sample([ex for ex in examples if ex.entry_id is not None], sample, rng)
    negatives = _sample([ex for ex in examples if ex.entry_id is None], sample, rng)
    chosen = positives + negatives
    return HeldOut(
        [ex.listing for ex in chosen],
        [ex.entry_id for ex in chosen],
        [ex.tactic for ex in chosen],
    )
