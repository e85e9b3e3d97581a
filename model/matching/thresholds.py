"""The decision policy: pick thresholds on validation data so they carry a stated guarantee.

`block` takes a listing down without a human, so its threshold is the lowest probability at
which validation precision is still at least the target (a wrong block hurts an honest seller).
`review` is the safety net: the highest threshold that still sends at least the target share of
true positives to a person. Both are stored in the bundle, never hard-coded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model.matching.verdict import Thresholds


@dataclass(frozen=True)
class ThresholdReport:
    """The chosen thresholds and what they achieved on the data they were chosen on."""

    thresholds: Thresholds
    block_precision: float
    block_recall: float
    review_recall: float
    review_precision: float
    precision_target: float
    recall_target: float
    precision_target_met: bool
    recall_target_met: bool


def _precision_recall_at(
    y: np.ndarray, p: np.ndarray, t: float, w: np.ndarray
) -> tuple[float, float]:
    pred = p >= t
    tp = float(np.sum(w[pred & (y == 1)]))
    fp = float(np.sum(w[pred & (y == 0)]))
    pos = float(np.sum(w[y == 1]))
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / pos if pos else 0.0
    return precision, recall


def choose_thresholds(
    y_true: np.ndarray,
    proba: np.ndarray,
    precision_target: float = 0.99,
    recall_target: float = 0.98,
    sample_weight: np.ndarray | None = None,
    min_block: float = 0.5,
    max_review: float = 1.0,
) -> ThresholdReport:
    """Thresholds from labelled validation scores (one score per listing).

    `sample_weight` lets the caller fix the class balance precision is measured at (precision
    depends on prevalence, and generated positives are cheap to over-produce). `min_block` is a
    floor: below a calibrated 0.5 the model itself says "more likely not", and no validation
    set is large enough to justify taking a listing down automatically there. `max_review` is a
    ceiling on the review cut (the evidence rules' floor, `model.matching.rules.REVIEW_FLOOR`, so
    that a floored candidate always reaches review).
    """
    y = np.asarray(y_true).astype(int)
    p = np.asarray(proba, dtype=float)
    w = np.ones(len(p)) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    if y.shape != p.shape or y.ndim != 1:
        raise ValueError(
            f"y_true and proba must be 1-d and the same length, got {y.shape}, {p.shape}"
        )
    if not (y == 1).any() or not (y == 0).any():
        raise ValueError("validation data needs both positive and negative examples")
    if w.shape != p.shape:
        raise ValueError(f"sample_weight must have shape {p.shape}, got {w.shape}")
    candidates = np.unique(p[p >= min_block])
    # Block: the lowest cut whose precision meets the target (most recall at that precision).
    block = None
    for t in candidates:
        precision, _ = _precision_recall_at(y, p, float(t), w)
        if precision >= precision_target:
            block = float(t)
            break
    precision_met = block is not None
    if block is None:
        # Unreachable target: block nothing automatically, everything goes through review.
        block = 1.0
    # Review: the highest cut whose recall still meets the target.
    review = 0.0
    for t in np.unique(p)[::-1]:
        _, recall = _precision_recall_at(y, p, float(t), w)
        if recall >= recall_target:
            review = float(t)
            break
    recall_met = _precision_recall_at(y, p, review, w)[1] >= recall_target
    review = min(review, block, max_review)
    block_p, block_r = _precision_recall_at(y, p, block, w)
    review_p, review_r = _precision_recall_at(y, p, review, w)
    return ThresholdReport(
        thresholds=Thresholds(block=block, review=review),
        block_precision=block_p,
        block_recall=block_r,
        review_recall=review_r,
        review_precision=review_p,
        precision_target=precision_target,
        recall_target=recall_target,
        precision_target_met=precision_met,
        recall_target_met=recall_met,
    )
