"""Block-cut selection on the real-listing tuning half (training/dev_tuning.py)."""

from __future__ import annotations

import numpy as np

from training.dev_tuning import MAX_AMAZON_BLOCK, select_block


def test_block_cut_rises_above_every_benign_score() -> None:
    score = np.array([0.95, 0.9, 0.6, 0.91, 0.3])
    positive = np.array([True, True, True, False, False])
    cut, met = select_block(score, positive, np.zeros(100))
    assert met
    assert 0.91 < cut <= 0.95  # the honest 0.91 is allowed; the 0.95 positive still blocks
    assert not np.any(score[~positive] >= cut)


def test_block_cut_stays_at_floor_when_nothing_benign_scores_high() -> None:
    cut, met = select_block(np.array([0.7, 0.2]), np.array([True, False]), np.zeros(10))
    assert (cut, met) == (0.5, True)


def test_amazon_guard_pushes_the_cut_up() -> None:
    amazon = np.zeros(10_000)
    amazon[:10] = 0.8  # 0.1% of validation Amazon at 0.8: above the guard
    assert MAX_AMAZON_BLOCK < 0.001
    cut, met = select_block(np.array([0.9]), np.array([True]), amazon)
    assert met and 0.8 < cut <= 0.9


def test_benign_at_one_cannot_be_cleared() -> None:
    cut, met = select_block(np.array([1.0, 1.0]), np.array([True, False]), np.zeros(10))
    assert (cut, met) == (1.0, False)
