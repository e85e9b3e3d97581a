"""How well a bundle decides labelled pairs: the numbers behind `evaluate --pairs` and `promote`.

Precision, recall and F1 at the bundle's own thresholds (a pair is flagged when its probability
reaches the threshold), the precision-recall curve's area, the best recall reachable at the
block precision target (threshold-free, so two bundles compare fairly), the expected
calibration error and a confusion table of decisions against labels. Pairs the search never
reached stay in the denominator of recall: retraining the encoder is meant to fix exactly them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from model.matching.bundle import Bundle
from model.matching.candidates import CandidateSearch
from model.matching.encoder import Encoder
from model.matching.verdict import Thresholds
from training.metrics import PRCurve, expected_calibration_error, pr_curve
from training.pair_scoring import MISSED, ScoredPairs, score_pairs
from training.pairs import load_pairs

DEFAULT_PRECISION_TARGET = 0.99


@dataclass(frozen=True)
class AtThreshold:
    """Counts and rates when every pair with probability >= threshold is called a match."""

    threshold: float
    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def to_dict(self) -> dict[str, float | int]:
        return {
            "threshold": self.threshold,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "tn": self.tn,
        }


def at_threshold(scored: ScoredPairs, threshold: float) -> AtThreshold:
    flagged = (scored.proba >= threshold) & (scored.status != MISSED)
    y = scored.labels == 1
    return AtThreshold(
        threshold=float(threshold),
        tp=int(np.sum(flagged & y)),
        fp=int(np.sum(flagged & ~y)),
        fn=int(np.sum(~flagged & y)),
        tn=int(np.sum(~flagged & ~y)),
    )


def curve(scored: ScoredPairs) -> PRCurve:
    """PR curve over the pairs the bundle could score; misses count as unrecoverable positives."""
    reached = scored.status != MISSED
    return pr_curve(
        scored.proba[reached], scored.labels[reached] == 1, int(np.sum(scored.labels == 1))
    )


def recall_at_precision(pr: PRCurve, target: float) -> float:
    """The most recall any threshold reaches while keeping precision >= target."""
    ok = pr.precision >= target
    return float(pr.recall[ok].max()) if ok.any() else 0.0


def best_f1_threshold(scored: ScoredPairs) -> float:
    """The threshold that maximises F1 (the lowest such, so ties favour recall)."""
    pr = curve(scored)
    if not len(pr.thresholds):
        return 1.0
    f1 = np.where(
        pr.precision + pr.recall > 0,
        2 * pr.precision * pr.recall / np.maximum(pr.precision + pr.recall, 1e-12),
        0.0,
    )
    best = np.flatnonzero(f1 == f1.max())
    return float(pr.thresholds[best[-1]])


def pair_metrics(
    scored: ScoredPairs, thresholds: Thresholds, precision_target: float
) -> dict[str, Any]:
    """Every number of the pairs report, as plain JSON-ready values."""
    reached = scored.status != MISSED
    pr = curve(scored)
    block = at_threshold(scored, thresholds.block)
    review = at_threshold(scored, thresholds.review)
    decision = np.where(
        ~reached,
        "allow",
        np.where(
            scored.proba >= thresholds.block,
            "block",
            np.where(scored.proba >= thresholds.review, "review", "allow"),
        ),
    )
    confusion = {
        name: {
            d: int(np.sum((decision == d) & (scored.labels == lab)))
            for d in ("block", "review", "allow")
        }
        for name, lab in (("match", 1), ("not_match", 0))
    }
    return {
        "n_pairs": len(scored.labels),
        "n_positive": int(np.sum(scored.labels == 1)),
        "n_negative": int(np.sum(scored.labels == 0)),
        "reach": scored.counts(),
        "thresholds": {"block": thresholds.block, "review": thresholds.review},
        "block": block.to_dict(),
        "review": review.to_dict(),
        "pr_auc": pr.average_precision,
        "precision_target": precision_target,
        "recall_at_precision_target": recall_at_precision(pr, precision_target),
        "ece": expected_calibration_error(scored.proba[reached], scored.labels[reached]),
        "confusion": confusion,
    }


def precision_target_of(bundle: Bundle) -> float:
    validation = bundle.config.metrics.get("validation", {})
    return float(validation.get("precision_target", DEFAULT_PRECISION_TARGET))


def score_file(
    bundle: Bundle, pairs_path: Path, skip_bad: bool = False
) -> tuple[ScoredPairs, dict[str, Any]]:
    """Load `pairs_path` against the bundle's blocklist and score it; also returns file facts."""
    pairs = load_pairs(pairs_path, bundle.index.entries, skip_bad=skip_bad)
    search = CandidateSearch(bundle.encoder, bundle.index, bundle.config.search_k)
    scored = score_pairs(search, bundle.classifier, pairs.pairs)
    facts = {"path": str(pairs_path), "sha256": pairs.sha256(), "skipped_rows": len(pairs.skipped)}
    return scored, facts


def evaluate_pairs(
    bundle_path: Path, pairs_path: Path, *, encoder: Encoder | None = None, skip_bad: bool = False
) -> dict[str, Any]:
    """The pairs report for one bundle folder and one labelled pairs file."""
    bundle = Bundle.load(Path(bundle_path), encoder=encoder)
    scored, facts = score_file(bundle, Path(pairs_path), skip_bad=skip_bad)
    result = pair_metrics(scored, bundle.config.thresholds, precision_target_of(bundle))
    result["bundle"] = {"path": str(bundle_path), "version": bundle.config.version}
    result["pairs"] = facts
    return result


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def pairs_markdown(result: dict[str, Any]) -> str:
    """The pairs report as Markdown: headline table, then the confusion table."""
    b, r = result["block"], result["review"]
    reach = result["reach"]
    lines = [
        f"### Labelled pairs: {result['pairs']['path']}",
        "",
        f"Bundle `{result['bundle']['version']}`; {result['n_pairs']} pairs "
        f"({result['n_positive']} match, {result['n_negative']} not); reached by search: "
        f"{reach['retrieved']} retrieved, {reach['direct']} scored directly, "
        f"{reach['missed']} missed.",
        "",
        "| cut | threshold | precision | recall | F1 |",
        "| --- | ---: | ---: | ---: | ---: |",
        f"| block | {b['threshold']:.4f} | {_pct(b['precision'])} | {_pct(b['recall'])} "
        f"| {b['f1']:.3f} |",
        f"| review | {r['threshold']:.4f} | {_pct(r['precision'])} | {_pct(r['recall'])} "
        f"| {r['f1']:.3f} |",
        "",
        f"PR-AUC {result['pr_auc']:.4f}; recall at precision >= "
        f"{_pct(result['precision_target'])}: {_pct(result['recall_at_precision_target'])}; "
        f"ECE {result['ece']:.4f}.",
        "",
        "| label \\ decision | block | review | allow |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name in ("match", "not_match"):
        row = result["confusion"][name]
        lines.append(f"| {name} | {row['block']} | {row['review']} | {row['allow']} |")
    return "\n".join(lines) + "\n"
