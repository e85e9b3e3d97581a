"""Build a bundle from a blocklist and real benign listings.

Positives are listing-like texts generated from each entry (clean variants and, by default, the
attack suite's evasions); negatives are real marketplace listings and every wrong candidate the
index proposes. Entries and listings are split by a stable hash so the classifier, the
calibration and the thresholds each see data the previous step never trained on.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

import numpy as np
from tqdm.auto import tqdm

from model.matching.bundle import Bundle, BundleConfig
from model.matching.candidates import CandidateSearch, CandidateSet, candidate_probabilities
from model.matching.cascade import LexicalGate
from model.matching.classifier import MatchClassifier
from model.matching.encoder import DEFAULT_MODEL, Encoder, embed_precision, training_encoder
from model.matching.gate_selection import fit_gate
from model.matching.index import BlocklistIndex
from model.matching.rules import REVIEW_FLOOR
from model.matching.thresholds import choose_thresholds
from model.schema import BlocklistEntry, Listing
from training import attacks, realistic
from training.same_product import same_product_groups

Split = Literal["train", "valid", "test"]


@dataclass(frozen=True)
class BuildConfig:
    """Knobs of a build, stored verbatim in the bundle so a build can be repeated."""

    encoder: str = DEFAULT_MODEL
    seed: int = 0
    variants_per_entry: int = 3
    attack_tactics: tuple[str, ...] = tuple(attacks.TACTICS)
    attacks_per_tactic: int = 1
    search_k: int = 10
    precision_target: float = 0.99
    recall_target: float = 0.98
    valid_fraction: float = 0.2
    test_fraction: float = 0.15
    batch_size: int = 256
    # Monotone boosted trees with Platt calibration: at equal settings on the dev tuning half the
    # isotonic, unconstrained default ranked same-brand look-alikes above real listings (issue 10).
    classifier: dict[str, Any] = field(
        default_factory=lambda: {"calibration": "sigmoid", "monotonic": True}
    )
    # Listings written the way sellers write (training/realistic): styles, listings per style.
    realistic_styles: tuple[str, ...] = tuple(realistic.STYLES)
    realistic_per_style: int = 1
    realistic_styles_per_entry: int | None = 4
    # Bare generic titles and a recalled brand on another product, as negatives.
    hard_negatives: bool = True
    # Move the thresholds with the tuning half of data/realworld-dev (training/dev_tuning.py).
    tune_on_dev: bool = True


@dataclass(frozen=True)
class Example:
    """A listing with its truth: the entry it was made from, or None for a benign listing."""

    listing: Listing
    entry_id: str | None
    split: Split
    tactic: str


def split_of(key: str, config: BuildConfig) -> Split:
    """A stable, seeded split by key, independent of order and of the rest of the data."""
    digest = hashlib.sha256(f"{config.seed}:{key}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    if u < config.test_fraction:
        return "test"
    if u < config.test_fraction + config.valid_fraction:
        return "valid"
    return "train"


def make_examples(
    entries: Sequence[BlocklistEntry], benign: Sequence[Listing], config: BuildConfig
) -> list[Example]:
    categories = sorted({b.category for b in benign if b.category})

    def categorised(listing: Listing, key: str) -> Listing:
        # Real listings nearly always carry a category; generated positives without one would
        # teach the classifier that "no category" means "recalled".
        rng = random.Random(f"{config.seed}:category:{key}")
        if not categories or rng.random() < 0.1:
            return listing
        return replace(listing, category=rng.choice(categories))

    examples: list[Example] = []
    bank = realistic.TitleBank(benign)
    for item in realistic.realistic_listings(
        entries,
        bank,
        config.realistic_styles,
        config.realistic_per_style,
        config.seed,
        config.realistic_styles_per_entry,
    ):
        listing = categorised(item.listing, f"{item.style}:{item.entry_id}:{item.listing.title}")
        examples.append(
            Example(listing, item.entry_id, split_of(item.entry_id or "", config), item.style)
        )
    if config.hard_negatives:
        negatives = [
            *realistic.generic_negatives(entries, config.seed),
            *realistic.same_brand_negatives(entries, bank, config.seed),
            *realistic.same_line_negatives(entries, bank, config.seed),
            *realistic.variant_negatives(entries, config.seed),
            *realistic.colour_negatives(entries, config.seed),
        ]
        for item in negatives:
            key = f"{item.style}:{item.listing.title}"
            examples.append(
                Example(categorised(item.listing, key), None, split_of(key, config), item.style)
            )
    for entry in entries:
        split = split_of(entry.entry_id, config)
        rng = random.Random(f"{config.seed}:plain:{entry.entry_id}")
        for listing in attacks.plain_variants(entry, rng, n=config.variants_per_entry):
            listing = categorised(listing, listing.listing_id or listing.title)
            examples.append(Example(listing, entry.entry_id, split, "plain"))
    if config.attack_tactics:
        for attacked in attacks.generate(
            entries, config.attack_tactics, per_tactic=config.attacks_per_tactic, seed=config.seed
        ):
            split = split_of(attacked.entry_id, config)
            listing = categorised(
                attacked.listing, attacked.listing.listing_id or attacked.listing.title
            )
            examples.append(Example(listing, attacked.entry_id, split, attacked.tactic))
    for listing in benign:
        examples.append(
            Example(listing, None, split_of(listing.listing_id or listing.title, config), "benign")
        )
    return examples


def find_all(
    search: CandidateSearch, listings: Sequence[Listing], batch: int, desc: str
) -> list[CandidateSet]:
    out: list[CandidateSet] = []
    for start in tqdm(range(0, len(listings), batch), desc=desc, unit="batch", leave=False):
        out.extend(search.find(listings[start : start + batch]))
    return out


def pair_labels(
    found: CandidateSet,
    entries: Sequence[BlocklistEntry],
    truth: str | None,
    same: dict[str, frozenset[str]] | None = None,
) -> np.ndarray:
    """1 for the candidate that is the truth, or (with `same`) another notice of that product."""
    ok = (same or {}).get(truth or "", frozenset({truth}))
    return np.asarray([int(entries[e].entry_id in ok) for e in found.entries], dtype=int)


def listing_scores(
    classifier: MatchClassifier, found: Sequence[CandidateSet]
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Listing-level score = the best candidate's probability (what the verdict reports)."""
    per = candidate_probabilities(classifier, found)
    best = np.asarray([p.max() if len(p) else 0.0 for p in per])
    return best, per


def data_fingerprint(entries: Sequence[BlocklistEntry], benign: Sequence[Listing]) -> str:
    h = hashlib.sha256()
    for e in entries:
        h.update(json.dumps(e.to_dict(), sort_keys=True).encode())
    for listing in benign:
        h.update(json.dumps(listing.to_dict(), sort_keys=True).encode())
    return h.hexdigest()


@dataclass(frozen=True)
class Prepared:
    """The expensive half of a build (embedding and pair features), reusable across fits."""

    index: BlocklistIndex
    search: CandidateSearch
    examples: list[Example]
    found: list[CandidateSet]


def build_version(data_hash: str) -> str:
    """A built bundle's version: ``<UTC stamp>-<first 8 of the data hash>``."""
    return f"{datetime.now(UTC).strftime('%Y%m%d%H%M%S')}-{data_hash[:8]}"


def prepare(
    entries: Sequence[BlocklistEntry],
    benign: Sequence[Listing],
    config: BuildConfig,
    encoder: Encoder,
) -> Prepared:
    """Index the entries, generate the examples and find every example's candidates."""
    if not entries:
        raise ValueError("cannot build a bundle from an empty blocklist")
    print(f"indexing {len(entries)} blocklist entries", flush=True)
    index = BlocklistIndex.from_entries(entries, encoder)
    search = CandidateSearch(encoder, index, config.search_k)
    examples = make_examples(entries, benign, config)
    found = find_all(search, [ex.listing for ex in examples], config.batch_size, "candidates")
    return Prepared(index, search, examples, found)


def build_bundle(
    entries: Sequence[BlocklistEntry],
    benign: Sequence[Listing],
    config: BuildConfig | None = None,
    encoder: Encoder | None = None,
    prepared: Prepared | None = None,
) -> Bundle:
    """Index the entries, train and calibrate the classifier, choose thresholds on validation
    (then on the real-listing tuning half). `prepared`: a `prepare` result made with the same
    entries, listings, config and encoder, to refit without re-embedding."""
    config = config or BuildConfig()
    encoder = encoder or training_encoder(config.encoder)
    prepared = prepared or prepare(entries, benign, config, encoder)
    index, search, examples, found = (
        prepared.index,
        prepared.search,
        prepared.examples,
        prepared.found,
    )
    by_split: dict[str, list[int]] = {"train": [], "valid": [], "test": []}
    for i, ex in enumerate(examples):
        by_split[ex.split].append(i)

    train = [i for i in by_split["train"] if len(found[i].entries)]
    X = CandidateSearch.stack([found[i] for i in train])
    same = same_product_groups(entries)
    y = np.concatenate(
        [pair_labels(found[i], index.entries, examples[i].entry_id, same) for i in train]
    )
    groups = np.concatenate([np.full(len(found[i].entries), i) for i in train])
    print(f"training on {len(y)} pairs ({int(y.sum())} positive)", flush=True)
    classifier = MatchClassifier(random_state=config.seed, **config.classifier).fit(X, y, groups)

    valid = by_split["valid"]
    scores, _ = listing_scores(classifier, [found[i] for i in valid])
    y_valid = np.asarray([int(examples[i].entry_id is not None) for i in valid])
    # Precision is measured at equal total weight for matches and benign listings, so the
    # number of generated variants per entry cannot inflate it.
    n_pos, n_neg = int(y_valid.sum()), int(len(y_valid) - y_valid.sum())
    weights = np.where(y_valid == 1, 1.0 / max(n_pos, 1), 1.0 / max(n_neg, 1))
    report = choose_thresholds(
        y_valid,
        scores,
        config.precision_target,
        config.recall_target,
        sample_weight=weights,
        max_review=REVIEW_FLOOR,
    )
    dev_report: dict[str, Any] = {}
    if config.tune_on_dev:
        from training.dev_tuning import tune_thresholds

        benign_valid = np.asarray([examples[i].tactic == "benign" for i in valid])
        thresholds, dev_report = tune_thresholds(
            search, classifier, report.thresholds, scores[benign_valid]
        )
        report = replace(report, thresholds=thresholds)
    # The cascade's lexical gate: threshold set on valid so that nothing the full pipeline
    # escalates is cleared, its misses and savings measured on test (model/cascade.py).
    test = by_split["test"]
    test_scores, _ = listing_scores(classifier, [found[i] for i in test])
    gate = fit_gate(
        LexicalGate(index),
        [found[i].view for i in valid],
        scores >= report.thresholds.review,
        [found[i].view for i in test],
        test_scores >= report.thresholds.review,
        np.asarray([examples[i].entry_id is None for i in test]),
        valid_benign=np.asarray([examples[i].entry_id is None for i in valid]),
        # Real marketplace listings only: the stoplist is of words common where sellers write.
        train_benign=[found[i].view for i in by_split["train"] if examples[i].tactic == "benign"],
    )
    fingerprint = data_fingerprint(entries, benign)
    metrics = {
        "validation": {k: v for k, v in asdict(report).items() if k != "thresholds"},
        "dev_tuning": dev_report,
        "counts": {
            "entries": len(entries),
            "benign_listings": len(benign),
            **{f"{s}_listings": len(v) for s, v in by_split.items()},
            "train_pairs": len(y),
        },
    }
    bundle_config = BundleConfig(
        version=build_version(fingerprint),
        thresholds=report.thresholds,
        encoder_name=config.encoder,
        search_k=config.search_k,
        classifier_params=classifier.get_params(),
        metrics=metrics,
        training={
            "config": asdict(config),
            "data_sha256": fingerprint,
            "embed_precision": embed_precision(encoder),
        },
        cascade=gate.to_config(),
    )
    return Bundle(config=bundle_config, encoder=encoder, index=index, classifier=classifier)
