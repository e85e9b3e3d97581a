"""Realistic labelled pairs from real data, for tests, the notebook and the shipped sample.

What a platform's takedown log looks like, built from what we have for real:

* positives: an evasive listing of a recalled product (the attack suite applied to a real
  blocklist entry) judged against that entry. By default two tactics are chained (a rebrand or
  rewrite, then a spelling evasion), as sellers combine them; the bundle build trains on one
  tactic at a time, so this is the distribution shift that retraining on takedowns is for;
* negatives: a real Amazon UK listing judged against the entry the matcher found nearest
  (a reviewer rejecting a suggested match), and an evasive listing judged against the nearest
  *wrong* entry whose name differs (a reviewer picking the right one of several similar
  recalls; two recalls of the same product name cannot be told apart, so none is labelled).

Amazon listings are assumed not to be recalled products, as in `training/build.py`.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import replace

from rapidfuzz import fuzz

from model.matching.candidates import CandidateSearch
from model.matching.normalise import normalise
from model.schema import BlocklistEntry, Listing
from training import attacks
from training.attacks import AttackedListing, NotApplicable
from training.attacks.tactics import TACTICS
from training.build import BuildConfig, Split, split_of
from training.pairs import LabelledPair

# Chained attacks: first disguise what the product is called, then how it is spelt.
FIRST_TACTICS = ("brand_removed", "brand_replaced", "generic_rewrite", "word_reorder", "multipack")
SECOND_TACTICS = ("typos", "leetspeak", "homoglyphs", "letter_spacing", "zero_width", "typos")


def _opaque_id(prefix: str, key: str) -> str:
    """Listing ids that do not spell out the answer (the attack suite's ids name the entry)."""
    return f"{prefix}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"


def distinct(a: BlocklistEntry, b: BlocklistEntry, max_ratio: float = 90.0) -> bool:
    """Whether a reviewer could tell the two products apart by name: "Nursing Pillows" recalled
    from two sellers is one product name twice, and labelling a brand-free listing of it
    "not the other one" would be noise, not a decision."""
    return fuzz.token_set_ratio(normalise(a.product_name), normalise(b.product_name)) < max_ratio


def _nearest(
    search: CandidateSearch, listings: Sequence[Listing], batch: int = 128
) -> list[list[int]]:
    """Candidate entry positions per listing, most similar first."""
    out: list[list[int]] = []
    for start in range(0, len(listings), batch):
        for found in search.find(listings[start : start + batch]):
            order = sorted(range(len(found.entries)), key=lambda i: -float(found.cosines[i]))
            out.append([found.entries[i] for i in order])
    return out


def chained_attacks(
    entries: Sequence[BlocklistEntry], per_entry: int, seed: int
) -> list[AttackedListing]:
    """Up to `per_entry` listings per entry, each two tactics chained (seeded per entry and i)."""
    out: list[AttackedListing] = []
    for entry in entries:
        seen: set[str] = set()
        for i in range(per_entry):
            rng = random.Random(f"{seed}:{entry.entry_id}:chain:{i}")
            first, second = rng.choice(FIRST_TACTICS), rng.choice(SECOND_TACTICS)
            try:
                disguise = TACTICS[first](entry, rng)
                # The disguised title becomes the "product" the second tactic respells.
                renamed = replace(
                    entry,
                    product_name=disguise.title,
                    brand=disguise.brand,
                    model_numbers=(),
                    gtins=(),
                )
                listing = TACTICS[second](renamed, rng)
            except NotApplicable:
                continue
            if listing.title in seen:
                continue
            seen.add(listing.title)
            out.append(AttackedListing(f"{first}+{second}", entry.entry_id, listing))
    return out


def make_pairs(
    search: CandidateSearch,
    benign: Sequence[Listing],
    per_entry: int = 6,
    chained: bool = True,
    wrong_entry_share: float = 0.5,
    seed: int = 1,
    entries: Sequence[BlocklistEntry] | None = None,
) -> list[LabelledPair]:
    """Pairs over the entries of `search`'s index (attacked variants) and `benign` listings.

    `chained`: two tactics per listing (`per_entry` listings per entry); False uses the attack
    suite as is, one listing per tactic. `wrong_entry_share`: the share of evasive listings that
    also get a negative pair against their nearest wrong entry. Categories are borrowed from the
    real listings, as the bundle build does, so "no category" cannot become a tell.
    `entries`: whose evasive variants to make (default: every indexed entry); "nearest" is
    always searched over the whole index.
    """
    indexed = search.index.entries
    by_id = {e.entry_id: i for i, e in enumerate(indexed)}
    targets = list(indexed if entries is None else entries)
    unknown = [e.entry_id for e in targets if e.entry_id not in by_id]
    if unknown:
        raise ValueError(f"entries not in the index: {unknown[:5]}")
    categories = sorted({b.category for b in benign if b.category})
    rng = random.Random(f"pairs:{seed}")
    attacked = (
        chained_attacks(targets, per_entry, seed)
        if chained
        else attacks.generate(targets, seed=seed)
    )
    listings: list[Listing] = []
    for item in attacked:
        category = rng.choice(categories) if categories and rng.random() < 0.9 else ""
        key = f"{seed}:{item.tactic}:{item.entry_id}:{item.listing.title}"
        listings.append(replace(item.listing, listing_id=_opaque_id("L", key), category=category))
    pairs: list[LabelledPair] = []
    near = _nearest(search, listings)
    for item, listing, candidates in zip(attacked, listings, near, strict=True):
        truth = by_id[item.entry_id]
        pairs.append(LabelledPair(listing, indexed[truth], 1, 0, source=f"attack:{item.tactic}"))
        wrong = [c for c in candidates if c != truth and distinct(indexed[c], indexed[truth])]
        if wrong and rng.random() < wrong_entry_share:
            pairs.append(LabelledPair(listing, indexed[wrong[0]], 0, 0, source="near-miss"))
    for listing, candidates in zip(benign, _nearest(search, list(benign)), strict=True):
        if candidates:
            pairs.append(LabelledPair(listing, indexed[candidates[0]], 0, 0, source="amazon"))
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


def build_split(listings: Sequence[Listing], split: Split, seed: int = 0) -> list[Listing]:
    """The listings a bundle build with `seed` put in `split` (its stable hash split): take
    pairs from "test" and synthetic examples from "train", and neither leaks into the other."""
    config = BuildConfig(seed=seed)
    return [b for b in listings if split_of(b.listing_id or b.title, config) == split]


def sample_entries(
    entries: Sequence[BlocklistEntry],
    n: int,
    words: Sequence[str] = ("toy", "child", "baby", "infant", "doll", "play", "kid", "game"),
) -> list[BlocklistEntry]:
    """A deterministic sample, children's products first (what a toy marketplace mostly sees),
    then the rest of the blocklist (which mixes in cars, cosmetics and appliances)."""

    def key(e: BlocklistEntry) -> tuple[bool, str]:
        child = any(w in f"{e.product_name} {e.category}".lower() for w in words)
        return (not child, hashlib.sha256(e.entry_id.encode()).hexdigest())

    return sorted(entries, key=key)[:n]


def main(argv: Sequence[str] | None = None) -> int:
    """Regenerate the shipped sample: `python -m training.make_pairs --out data/pairs`."""
    import argparse
    from pathlib import Path

    from model.matching.encoder import SentenceTransformerEncoder
    from model.matching.index import BlocklistIndex
    from training.loaders import load_amazon_listings, load_default_blocklist
    from training.pairs import write_pairs

    p = argparse.ArgumentParser(prog="python -m training.make_pairs", description=__doc__)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--entries", type=int, default=120, help="children's products to disguise")
    p.add_argument("--per-entry", type=int, default=5)
    p.add_argument("--benign", type=int, default=300)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--prefix", default="sample")
    p.add_argument("--bundle", type=Path, default=None, help="search with this bundle's index")
    args = p.parse_args(argv)
    blocklist = load_default_blocklist()
    # Listings and entries the default bundle (seed 0) held out for testing: the sample is
    # as new to the served bundle as it is to the retrained one.
    benign = build_split(load_amazon_listings(), "test")[: args.benign]
    if args.bundle:  # search the way that bundle does (its encoder and index)
        from model.matching.bundle import Bundle

        bundle = Bundle.load(args.bundle)
        search = CandidateSearch(bundle.encoder, bundle.index, bundle.config.search_k)
        blocklist = list(bundle.index.entries)
    else:
        encoder = SentenceTransformerEncoder()
        search = CandidateSearch(encoder, BlocklistIndex.from_entries(blocklist, encoder))
    held_out = [e for e in blocklist if split_of(e.entry_id, BuildConfig()) == "test"]
    chosen = sample_entries(held_out, args.entries)
    pairs = make_pairs(search, benign, args.per_entry, seed=args.seed, entries=chosen)
    for name, part in zip(
        ("train", "valid", "test"), split_pairs(pairs, (0.6, 0.2, 0.2)), strict=True
    ):
        path = write_pairs(args.out / f"{args.prefix}-{name}.jsonl", part)
        print(f"{path}: {len(part)} pairs ({sum(p.label for p in part)} match)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
