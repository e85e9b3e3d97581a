"""Realistic labelled pairs from real data, for tests, the notebook and the shipped sample.

What a platform's takedown log looks like, built from what we have for real:

* positives: an evasive listing of a recalled product (the attack suite applied to a real
  blocklist entry) judged against that entry;
* negatives: a real Amazon UK listing judged against the entry the matcher found nearest
  (a reviewer rejecting a suggested match), and an evasive listing judged against the nearest
  *wrong* entry (a reviewer picking the right one of several similar recalls).

Amazon listings are assumed not to be recalled products, as in `training/build.py`.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import replace

from model.candidates import CandidateSearch
from model.schema import BlocklistEntry, Listing
from training import attacks
from training.pairs import LabelledPair


def _opaque_id(prefix: str, key: str) -> str:
    """Listing ids that do not spell out the answer (the attack suite's ids name the entry)."""
    return f"{prefix}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"


def _nearest(search: CandidateSearch, listings: Sequence[Listing], batch: int = 128) -> list[list[int]]:
    """Candidate entry positions per listing, most similar first."""
    out: list[list[int]] = []
    for start in range(0, len(listings), batch):
        for found in search.find(listings[start : start + batch]):
            order = sorted(range(len(found.entries)), key=lambda i: -float(found.cosines[i]))
            out.append([found.entries[i] for i in order])
    return out


def make_pairs(
    search: CandidateSearch,
    benign: Sequence[Listing],
    tactics: Sequence[str] | None = None,
    per_tactic: int = 1,
    wrong_entry_share: float = 0.5,
    seed: int = 1,
) -> list[LabelledPair]:
    """Pairs over the entries of `search`'s index (attacked variants) and `benign` listings.

    `wrong_entry_share`: the share of evasive listings that also get a negative pair against
    their nearest wrong entry. Categories are borrowed from the real listings, as the bundle
    build does, so "has no category" cannot become a tell for "is recalled".
    """
    entries = search.index.entries
    by_id = {e.entry_id: i for i, e in enumerate(entries)}
    categories = sorted({b.category for b in benign if b.category})
    rng = random.Random(f"pairs:{seed}")
    attacked = attacks.generate(entries, tactics, per_tactic=per_tactic, seed=seed)
    listings: list[Listing] = []
    for item in attacked:
        category = rng.choice(categories) if categories and rng.random() < 0.9 else ""
        key = f"{seed}:{item.tactic}:{item.entry_id}:{item.listing.title}"
        listings.append(
            replace(item.listing, listing_id=_opaque_id("L", key), category=category)
        )
    pairs: list[LabelledPair] = []
    near = _nearest(search, listings)
    for item, listing, candidates in zip(attacked, listings, near, strict=True):
        truth = by_id[item.entry_id]
        pairs.append(LabelledPair(listing, entries[truth], 1, 0, source=f"attack:{item.tactic}"))
        wrong = [c for c in candidates if c != truth]
        if wrong and rng.random() < wrong_entry_share:
            pairs.append(LabelledPair(listing, entries[wrong[0]], 0, 0, source="near-miss"))
    for listing, candidates in zip(benign, _nearest(search, list(benign)), strict=True):
        if candidates:
            pairs.append(LabelledPair(listing, entries[candidates[0]], 0, 0, source="amazon"))
    return pairs


def split_pairs(
    pairs: Sequence[LabelledPair], fractions: Sequence[float], seed: int = 0
) -> list[list[LabelledPair]]:
    """Split by a stable hash of the listing, so all pairs of one listing land in one part."""
    if abs(sum(fractions) - 1.0) > 1e-9:
        raise ValueError(f"fractions must sum to 1, got {list(fractions)}")
    parts: list[list[LabelledPair]] = [[] for _ in fractions]
    for pair in pairs:
        digest = hashlib.sha256(f"{seed}:{pair.listing_key()}".encode()).digest()
        u = int.from_bytes(digest[:8], "big") / 2**64
        edge = 0.0
        for i, f in enumerate(fractions):
            edge += f
            if u < edge or i == len(fractions) - 1:
                parts[i].append(pair)
                break
    return parts


def sample_entries(
    entries: Sequence[BlocklistEntry], n: int, words: Sequence[str] = ("toy", "baby", "child")
) -> list[BlocklistEntry]:
    """A deterministic slice of children's products (what a toy marketplace mostly sees)."""
    child = [e for e in entries if any(w in f"{e.product_name} {e.category}".lower() for w in words)]
    return sorted(child, key=lambda e: hashlib.sha256(e.entry_id.encode()).hexdigest())[:n]
