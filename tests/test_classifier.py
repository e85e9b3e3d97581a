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
