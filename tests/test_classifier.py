import os
from pathlib import Path

import numpy as np
import pytest
import skops.io as sio
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.preprocessing import FunctionTransformer

from model.matching.classifier import MatchClassifier, UntrustedArtifactError


def data(n: int = 1500) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 4))
    y = (X[:, 0] + 0.5 * rng.normal(size=n) > 0).astype(int)
    return X, y


def test_follows_sklearn_contract() -> None:
    clf = MatchClassifier(max_iter=30)
    with pytest.raises(NotFittedError):
        clf.predict_proba(np.zeros((1, 4)))
    X, y = data()
    assert clf.fit(X, y) is clf
    assert clone(clf).get_params() == clf.get_params()
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 2) and np.allclose(proba.sum(axis=1), 1)
    # It learned the signal: far better than chance on its own training distribution.
    assert (clf.predict(X) == y).mean() > 0.8
    with pytest.raises(ValueError):
        clf.predict_proba(np.zeros((1, 3)))


def test_calibrated_probabilities_track_frequencies() -> None:
    X, y = data(6000)
    clf = MatchClassifier(max_iter=50).fit(X[:4000], y[:4000])
    p = clf.predict_proba(X[4000:])[:, 1]
    for lo, hi in ((0.0, 0.2), (0.8, 1.0)):
        sel = (p >= lo) & (p < hi)
        assert sel.sum() > 50
        assert abs(y[4000:][sel].mean() - p[sel].mean()) < 0.1


def test_save_load_round_trip(tmp_path: Path) -> None:
    X, y = data()
    clf = MatchClassifier(max_iter=30).fit(X, y)
    clf.save(tmp_path / "c.skops")
    loaded = MatchClassifier.load(tmp_path / "c.skops", clf.get_params())
    assert np.array_equal(loaded.predict_proba(X), clf.predict_proba(X))


def test_untrusted_types_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.skops"
    sio.dump(FunctionTransformer(func=os.system), path)
    with pytest.raises(UntrustedArtifactError, match="system"):
        MatchClassifier.load(path)


def test_monotone_features_move_the_probability_one_way_only() -> None:
    # Labels where the evidence-against features look like evidence for (as an artefact of
    # generated data can make them): the constrained model must not learn that.
    from model.matching.classifier import MONOTONIC
    from model.matching.features import FEATURE_NAMES

    rng = np.random.default_rng(1)
    n, cols = 3000, {name: i for i, name in enumerate(FEATURE_NAMES)}
    X = rng.random((n, len(FEATURE_NAMES)))
    against = [cols[name] for name, sign in MONOTONIC.items() if sign < 0]
    X[:, against] = rng.integers(0, 2, size=(n, len(against)))
    spurious = (X[:, cols["variant_missing"]] == 1) & (rng.random(n) < 0.5)
    y = ((X[:, cols["cosine"]] > 0.5) | spurious).astype(int)
    free = MatchClassifier(max_iter=50, calibration="sigmoid").fit(X, y)
    fixed = MatchClassifier(max_iter=50, calibration="sigmoid", monotonic=True).fit(X, y)
    off, on = X.copy(), X.copy()
    off[:, cols["variant_missing"]], on[:, cols["variant_missing"]] = 0.0, 1.0
    assert (free.predict_proba(on)[:, 1] > free.predict_proba(off)[:, 1] + 0.05).mean() > 0.3
    assert np.all(fixed.predict_proba(on)[:, 1] <= fixed.predict_proba(off)[:, 1] + 1e-9)
    more = X.copy()
    more[:, cols["cosine"]] = np.minimum(X[:, cols["cosine"]] + 0.3, 1.0)
    assert np.all(fixed.predict_proba(more)[:, 1] >= fixed.predict_proba(X)[:, 1] - 1e-9)
