import numpy as np
import pytest

from model.matching.thresholds import choose_thresholds
from model.matching.verdict import Thresholds


def test_block_threshold_is_lowest_cut_meeting_precision() -> None:
    # 100 positives scored 0.5..0.99, 100 negatives scored 0..0.49 plus one negative at 0.9.
    pos = np.linspace(0.5, 0.99, 100)
    neg = np.concatenate([np.linspace(0.0, 0.49, 99), [0.9]])
    y = np.concatenate([np.ones(100), np.zeros(100)])
    p = np.concatenate([pos, neg])
    report = choose_thresholds(y, p, precision_target=0.99, recall_target=0.98)
    t = report.thresholds
    pred = p >= t.block
    precision = (pred & (y == 1)).sum() / pred.sum()
    assert precision >= 0.99
    # One step lower would break the target, so the threshold is as low as it may be.
    lower = p[p < t.block].max()
    pred_lower = p >= lower
    assert (pred_lower & (y == 1)).sum() / pred_lower.sum() < 0.99
    assert report.precision_target_met and report.recall_target_met
    assert ((p >= t.review) & (y == 1)).sum() / 100 >= 0.98
    assert t.review <= t.block


def test_unreachable_precision_blocks_nothing() -> None:
    y = np.array([1, 0, 1, 0])
    p = np.array([0.9, 0.9, 0.8, 0.8])
    report = choose_thresholds(y, p, precision_target=0.99)
    assert report.thresholds.block == 1.0
    assert not report.precision_target_met


def test_needs_both_classes() -> None:
    with pytest.raises(ValueError, match="both positive and negative"):
        choose_thresholds(np.ones(3), np.array([0.1, 0.2, 0.3]))


def test_thresholds_decide_and_validate() -> None:
    t = Thresholds(block=0.9, review=0.4)
    assert [t.decide(p) for p in (0.95, 0.9, 0.5, 0.39)] == ["block", "block", "review", "allow"]
    with pytest.raises(ValueError, match="review <= block"):
        Thresholds(block=0.3, review=0.5)
