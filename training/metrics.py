"""Evaluation metrics for a matcher that must name the right recall, not just raise a flag.

A listing counts as caught only when its top candidate is the recall it was made from, so the
precision-recall curve here takes a per-listing "correct" flag and the total number of true
positives separately: a positive whose top candidate is the wrong recall is a false alarm at
every threshold and can never add recall. scikit-learn's curve cannot express that (it would
drop those positives from the denominator), hence these few lines of our own, pinned by
hand-computed tests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

ECE_BINS = 15


@dataclass(frozen=True)
class PRCurve:
    """Precision and recall at every distinct score threshold, highest threshold first."""

    thresholds: np.ndarray
    precision: np.ndarray
    recall: np.ndarray

    @property
    def average_precision(self) -> float:
        """Step-wise area: sum of (R_k - R_{k-1}) * P_k, as scikit-learn defines AP."""
        if not len(self.recall):
            return 0.0
        steps = np.diff(np.concatenate([[0.0], self.recall]))
        return float(np.sum(steps * self.precision))


def pr_curve(scores: np.ndarray, correct: np.ndarray, n_positive: int) -> PRCurve:
    """Curve over listings scored by their top candidate.

    `correct[i]` says listing i is a true positive whose top candidate is the right recall;
    `n_positive` counts all true positives, including those ranked wrong or never found.
    """
    s = np.asarray(scores, dtype=float)
    c = np.asarray(correct, dtype=bool)
    if s.shape != c.shape or s.ndim != 1:
        raise ValueError(
            f"scores and correct must be 1-d and equal length, got {s.shape}, {c.shape}"
        )
    if n_positive < int(c.sum()):
        raise ValueError("n_positive cannot be smaller than the number of correct listings")
    if not len(s):
        return PRCurve(np.zeros(0), np.zeros(0), np.zeros(0))
    order = np.argsort(-s, kind="stable")
    s, c = s[order], c[order]
    tp = np.cumsum(c)
    fp = np.cumsum(~c)
    # The last index of each run of equal scores: a threshold admits all ties at once.
    last = np.flatnonzero(np.r_[s[1:] != s[:-1], True])
    precision = tp[last] / (tp[last] + fp[last])
    recall = tp[last] / n_positive if n_positive else np.zeros(len(last))
    return PRCurve(s[last], precision, recall)


def brier(proba: np.ndarray, outcome: np.ndarray) -> float:
    """Mean squared error of the stated probability against what happened (0/1)."""
    p = np.asarray(proba, dtype=float)
    y = np.asarray(outcome, dtype=float)
    return float(np.mean((p - y) ** 2)) if len(p) else 0.0


@dataclass(frozen=True)
class ReliabilityBin:
    """One equal-width probability bin of a reliability diagram."""

    lower: float
    upper: float
    count: int
    mean_confidence: float
    observed_rate: float


def reliability(
    proba: np.ndarray, outcome: np.ndarray, bins: int = ECE_BINS
) -> list[ReliabilityBin]:
    """Equal-width bins over [0, 1]; the last bin includes 1.0; empty bins are kept (count 0)."""
    p = np.asarray(proba, dtype=float)
    y = np.asarray(outcome, dtype=float)
    which = np.minimum((p * bins).astype(int), bins - 1)
    out = []
    for b in range(bins):
        mask = which == b
        n = int(mask.sum())
        out.append(
            ReliabilityBin(
                lower=b / bins,
                upper=(b + 1) / bins,
                count=n,
                mean_confidence=float(p[mask].mean()) if n else 0.0,
                observed_rate=float(y[mask].mean()) if n else 0.0,
            )
        )
    return out


def expected_calibration_error(
    proba: np.ndarray, outcome: np.ndarray, bins: int = ECE_BINS
) -> float:
    """Sum over bins of (bin share) * |observed rate - mean stated probability|."""
    total = len(proba)
    if not total:
        return 0.0
    return float(
        sum(
            b.count / total * abs(b.observed_rate - b.mean_confidence)
            for b in reliability(proba, outcome, bins)
        )
    )


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval for a rate; honest error bars on small held-out counts."""
    if n <= 0:
        return (0.0, 1.0)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))
