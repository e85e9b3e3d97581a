"""The flat tree walk and the unwrapped calibration give scikit-learn's numbers exactly."""

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier

from model.matching.classifier import MatchClassifier
from model.matching.flat_trees import FLAT_MAX_ROWS, FlatTrees


def data(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    X[:, 3] = rng.integers(0, 3, size=n)  # ties on thresholds, like 0/1 pair features
    y = (X[:, 0] + X[:, 3] * 0.5 + 0.5 * rng.normal(size=n) > 0.5).astype(int)
    return X, y


@pytest.mark.parametrize("calibration", ["sigmoid", "isotonic"])
@pytest.mark.parametrize("rows", [1, 10, FLAT_MAX_ROWS, FLAT_MAX_ROWS + 1, 700])
def test_same_probabilities_as_sklearn(calibration: str, rows: int) -> None:
    X, y = data(2000)
    clf = MatchClassifier(max_iter=60, calibration=calibration).fit(X, y)
    assert clf.flat_trees_ is not None
    Q, _ = data(rows, seed=1)
    assert np.array_equal(clf.predict_proba(Q), clf.calibrated_.predict_proba(Q))


def test_raw_scores_match_bit_for_bit_with_missing_values() -> None:
    X, y = data(2000)
    X[::7, 1] = np.nan  # trees learn a side for missing values
    trees = HistGradientBoostingClassifier(max_iter=40, random_state=0).fit(X, y)
    flat = FlatTrees.from_estimator(trees)
    assert flat is not None
    Q, _ = data(300, seed=2)
    Q[::3, 1] = np.nan
    Q[::5, 0] = np.nan  # a feature that had no missing values in training
    assert np.array_equal(flat.raw_predict(Q), trees._raw_predict(Q).ravel())


def test_categorical_models_keep_sklearns_path() -> None:
    X, y = data(500)
    X[:, 3] = np.abs(X[:, 3])
    trees = HistGradientBoostingClassifier(max_iter=5, categorical_features=[3]).fit(X, y)
    assert FlatTrees.from_estimator(trees) is None


def test_loaded_classifier_uses_the_flat_path(tmp_path) -> None:  # type: ignore[no-untyped-def]
    X, y = data(1500)
    clf = MatchClassifier(max_iter=30).fit(X, y)
    clf.save(tmp_path / "c.skops")
    loaded = MatchClassifier.load(tmp_path / "c.skops", clf.get_params())
    assert loaded.flat_trees_ is not None
    assert np.array_equal(loaded.predict_proba(X[:20]), clf.calibrated_.predict_proba(X[:20]))
