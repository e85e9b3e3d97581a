"""Select the threshold of the cascade's lexical gate (model/matching/cascade.py) on a bundle's own
evaluation data.

The gate may only let a listing through unscored if the full pipeline would have allowed it, so
its threshold is learnt from the validation split (every listing the full pipeline escalates to
review or block) and then checked on the test split, where misses must be zero. The splits,
attacks and benign listings are regenerated exactly as the build made them (`make_examples`
with the bundle's recorded build config), so a bundle built before the gate existed can be
given a gate threshold after the fact.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from model.matching.bundle import Bundle
from model.matching.cascade import DEFAULT_MARGIN, GateFit, LexicalGate, fit_gate
from model.matching.screener import Screener
from model.matching.views import ListingView
from model.schema import Listing
from training.build import BuildConfig, make_examples


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
    benign_test: list[bool] = []
    for ex in examples:
        if ex.split in by_split:
            by_split[ex.split].append(ex.listing)
            if ex.split == "test":
                benign_test.append(ex.entry_id is None)
    reach: dict[str, np.ndarray] = {}
    views: dict[str, list[ListingView]] = {}
    for split, listings in by_split.items():
        decisions: list[bool] = []
        for start in range(0, len(listings), batch):
            verdicts = screener.screen(listings[start : start + batch])
            decisions.extend(v.decision != "allow" for v in verdicts)
        reach[split] = np.asarray(decisions, dtype=bool)
        views[split] = [ListingView.of(x, bundle.index.by_identifier) for x in listings]
    return fit_gate(
        LexicalGate(bundle.index),
        views["valid"],
        reach["valid"],
        views["test"],
        reach["test"],
        np.asarray(benign_test, dtype=bool),
        margin,
    )


def main() -> None:  # pragma: no cover - a manual helper: python -m training.gate BUNDLE
    import sys
    from pathlib import Path

    from training.loaders import load_amazon_listings

    bundle = Bundle.load(Path(sys.argv[1]))
    n = int(bundle.config.metrics.get("counts", {}).get("benign_listings", 10_000))
    fit = fit_bundle_gate(bundle, load_amazon_listings()[:n])
    print(json.dumps(fit.to_config(), indent=2))


if __name__ == "__main__":  # pragma: no cover
    main()
