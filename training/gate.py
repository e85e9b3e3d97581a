"""Select the threshold of the cascade's lexical gate (model/matching/cascade.py) on a bundle's own
evaluation data.

The gate may only let a listing through unscored if the full pipeline would have allowed it, so
its threshold is learnt from the validation split (every listing the full pipeline escalates to
review or block) and then checked on the test split, where misses must be zero. The splits,
attacks and benign listings are regenerated exactly as the build made them (`make_examples`
with the bundle's recorded build config), so a bundle built before the gate existed can be
given a gate threshold after the fact, and a bundle whose gate is an older version (`recallguard
gate`) can be re-gated without retraining: the copy keeps its encoder, index, classifier and
thresholds, so every listing the gate sends on gets the same verdict.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from model.matching.bundle import Bundle
from model.matching.cascade import DEFAULT_MARGIN, LexicalGate
from model.matching.gate_selection import GateFit, fit_gate
from model.matching.screener import Screener
from model.matching.views import ListingView
from model.schema import Listing
from training.build import BuildConfig, build_version, make_examples


def build_config_of(bundle: Bundle) -> BuildConfig:
    raw: dict[str, Any] = dict(bundle.config.training.get("config", {}))
    fields: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()}
    return BuildConfig(**fields)


def fit_bundle_gate(
    bundle: Bundle, benign: Sequence[Listing], batch: int = 256, margin: float = DEFAULT_MARGIN
) -> GateFit:
    """Regenerate the bundle's valid/test examples, screen them in full, fit the gate.

    `benign`: the benign listings the bundle was built from (its config records their count).
    """
    config = build_config_of(bundle)
    examples = make_examples(bundle.index.entries, benign, config)
    # Deliberately the ungated pipeline: the gate is calibrated against what it would skip.
    screener = Screener(bundle)
    by_split: dict[str, list[Listing]] = {"valid": [], "test": []}
    is_benign: dict[str, list[bool]] = {"valid": [], "test": []}
    train_benign: list[Listing] = []  # real listings only, for the stoplist (as the build)
    for ex in examples:
        if ex.split in by_split:
            by_split[ex.split].append(ex.listing)
            is_benign[ex.split].append(ex.entry_id is None)
        elif ex.tactic == "benign":
            train_benign.append(ex.listing)
    reach: dict[str, np.ndarray] = {}
    views: dict[str, list[ListingView]] = {}
    for split, listings in by_split.items():
        decisions: list[bool] = []
        for start in range(0, len(listings), batch):
            verdicts = screener.screen(listings[start : start + batch])
            decisions.extend(v.decision != "allow" for v in verdicts)
        reach[split] = np.asarray(decisions, dtype=bool)
        views[split] = screener.search.prepare(listings)
    return fit_gate(
        LexicalGate(bundle.index),
        views["valid"],
        reach["valid"],
        views["test"],
        reach["test"],
        np.asarray(is_benign["test"], dtype=bool),
        margin,
        valid_benign=np.asarray(is_benign["valid"], dtype=bool),
        train_benign=screener.search.prepare(train_benign),
    )


def regate(bundle: Bundle, benign: Sequence[Listing], margin: float = DEFAULT_MARGIN) -> Bundle:
    """A copy of `bundle` with the gate re-selected by this code's version (`cascade.GATE_NAME`).

    Everything else is the bundle's own (encoder, index, classifier, thresholds). The copy gets
    a new version (a fresh UTC stamp, the same data hash), so verdicts say which one decided.
    `benign`: the benign listings the bundle was built from (`fit_bundle_gate`).

    :raises ValueError: the bundle records no build config (a retrained bundle).
    """
    if not bundle.config.training.get("config"):
        kind = bundle.config.training.get("kind", "unknown")
        raise ValueError(
            f"bundle {bundle.config.version} records no build config (made by {kind!r}); the "
            "gate is selected on the build's own attacked validation listings"
        )
    fit = fit_bundle_gate(bundle, benign, margin=margin)
    version = build_version(bundle.config.version.rsplit("-", 1)[-1])
    return replace(bundle, config=replace(bundle.config, version=version, cascade=fit.to_config()))


def cmd_gate(args: argparse.Namespace) -> int:
    from model.runtime import registry
    from training.cli import save_and_register
    from training.loaders import load_amazon_listings

    # The build's arithmetic (fp32 whatever the CPU): a bundle built in fp32 is re-gated on the
    # decisions its build saw, on any machine.
    bundle = Bundle.load(registry.resolve(args.model), for_training=True)
    n = int(bundle.config.metrics.get("counts", {}).get("benign_listings", 0))
    gated = regate(bundle, load_amazon_listings()[: n or None])
    before = bundle.config.cascade or {}
    after = gated.config.cascade
    print(
        f"bundle {bundle.config.version} (gate {before.get('gate', 'none')}) -> "
        f"{gated.config.version} (gate {after['gate']}, threshold {after['threshold']:.4f}; "
        f"test split: {after['test_missed']} of {after['test_reviewed']} escalated listings "
        f"cleared, {after['test_benign_cleared_fraction']:.1%} of benign ones)"
    )
    save_and_register(gated, args.out, register=not args.no_register)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "gate",
        help="re-select a bundle's cascade gate for this code's gate version (no retraining)",
        description=(
            "Regenerates the bundle's validation and test listings from its build config, "
            "screens them with the full pipeline and selects the gate threshold, then writes a "
            "copy with a new version. Decisions of the listings the gate sends on are unchanged."
        ),
    )
    p.add_argument("--model", default=None, help="bundle folder or store tag (default: latest)")
    p.add_argument("--out", type=Path, default=None, help="also write the bundle folder here")
    p.add_argument("--no-register", action="store_true", help="do not add it to the BentoML store")
    p.set_defaults(func=cmd_gate)
