"""The calibrated pair classifier: P(listing is this recalled product | pair features).

Gradient boosting ranks well on these few, heterogeneous features; it is then calibrated on a
held-out split (the fitted model frozen) because the decision thresholds are read as
probabilities and must mean what they say.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import skops.io as sio
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import GroupShuffleSplit, StratifiedShuffleSplit
from sklearn.utils.validation import check_is_fitted, check_X_y, validate_data

from model.matching.features import FEATURE_NAMES
from model.matching.flat_trees import FLAT_MAX_ROWS, FlatTrees

CLASSIFIER_FILE = "classifier.skops"

# The only types a bundle's classifier file may contain. skops refuses anything else, so a
# tampered or foreign file cannot smuggle code in the way a pickle could.
TRUSTED_TYPES: frozenset[str] = frozenset(
    {
        "sklearn.calibration.CalibratedClassifierCV",
        "sklearn.calibration._CalibratedClassifier",
        "sklearn.calibration._SigmoidCalibration",
        "sklearn.isotonic.IsotonicRegression",
        "sklearn.frozen._frozen.FrozenEstimator",
        "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier",
        "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        "sklearn._loss.loss.HalfBinomialLoss",
        "sklearn._loss.link.LogitLink",
        "sklearn._loss.link.Interval",
        "sklearn._loss._loss.CyHalfBinomialLoss",
        "sklearn.utils._bunch.Bunch",
        "sklearn.utils._metadata_requests.MetadataRequest",
        "sklearn.utils._metadata_requests.MethodMetadataRequest",
        "sklearn.utils._metadata_requests._MetadataRequest",
        "numpy.dtype",
        "numpy.ndarray",
        "builtins.slice",
        "collections.OrderedDict",
    }
)


class UntrustedArtifactError(ValueError):
    """A classifier file holds types outside TRUSTED_TYPES; it is refused, never loaded."""


# The direction each pair feature may move P(match), all else equal (+1 more evidence of the
# recalled product, -1 evidence against, 0 unconstrained). Boosted trees fit on generated pairs
# otherwise learn interactions that invert on real listings: at 6b2b5c0 a listing with the
# recall's exact code (INIU BI-B41) scored below one without it, through a low cosine.
MONOTONIC = {
    "cosine": 1,
    "token_set_ratio": 1,
    "partial_ratio": 1,
    "wratio": 1,
    "char_trigram_jaccard": 1,
    "name_token_coverage": 1,
    "shared_identifiers": 1,
    "identifier_conflict": -1,
    "brand_in_listing": 1,
    "brand_field_ratio": 1,
    "idf_coverage": 1,
    "max_shared_weight": 1,
    "brand_token_match": 1,
    "context_coverage": 1,
    "distinctive_id_match": 1,
    "id_family": 1,
    "id_sibling": -1,
    "generic_only": -1,
    "line_word_unexplained": -1,
    "variant_extra": -1,
    "variant_missing": -1,
    "colour_conflict": -1,
    "brand_conflict": -1,
    "line_word_known": 1,
}


def monotonic_constraints() -> list[int]:
    """`MONOTONIC` as HistGradientBoosting's `monotonic_cst`, in FEATURE_NAMES order."""
    return [MONOTONIC.get(name, 0) for name in FEATURE_NAMES]


class MatchClassifier(ClassifierMixin, BaseEstimator):
    """Boosted trees + calibration on a held-out split, in one scikit-learn estimator."""

    def __init__(
        self,
        calibration: str = "isotonic",
        calibration_fraction: float = 0.3,
        max_iter: int = 300,
        learning_rate: float = 0.05,
        max_leaf_nodes: int = 31,
        l2_regularization: float = 1.0,
        random_state: int = 0,
        monotonic: bool = False,
    ) -> None:
        self.calibration = calibration
        self.calibration_fraction = calibration_fraction
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.l2_regularization = l2_regularization
        self.random_state = random_state
        self.monotonic = monotonic

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        groups: np.ndarray | None = None,
        sample_weight: np.ndarray | None = None,
    ) -> MatchClassifier:
        """Fit the trees on one part and the calibrator on the rest.

        `groups` (e.g. the source listing of each pair) keeps every pair of a listing on one
        side of the split, so calibration sees listings the trees never saw.
        """
        if self.calibration not in ("isotonic", "sigmoid"):
            raise ValueError(
                f"calibration must be 'isotonic' or 'sigmoid', got {self.calibration!r}"
            )
        if not 0.0 < self.calibration_fraction < 1.0:
            raise ValueError("calibration_fraction must be between 0 and 1")
        X, y = check_X_y(X, y, dtype=np.float64)
        w = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        self.classes_ = np.unique(y)
        if len(self.classes_) != 2:
            raise ValueError(f"need both classes 0 and 1 in y, got {self.classes_.tolist()}")
        self.n_features_in_ = X.shape[1]
        splitter: Any
        if groups is not None:
            splitter = GroupShuffleSplit(
                n_splits=1, test_size=self.calibration_fraction, random_state=self.random_state
            )
            fit_idx, cal_idx = next(splitter.split(X, y, groups))
        else:
            splitter = StratifiedShuffleSplit(
                n_splits=1, test_size=self.calibration_fraction, random_state=self.random_state
            )
            fit_idx, cal_idx = next(splitter.split(X, y))
        trees = HistGradientBoostingClassifier(
            max_iter=self.max_iter,
            learning_rate=self.learning_rate,
            max_leaf_nodes=self.max_leaf_nodes,
            l2_regularization=self.l2_regularization,
            early_stopping=False,
            random_state=self.random_state,
            monotonic_cst=monotonic_constraints() if self.monotonic else None,
        ).fit(X[fit_idx], y[fit_idx], sample_weight=None if w is None else w[fit_idx])
        self.calibrated_ = CalibratedClassifierCV(
            FrozenEstimator(trees), method=self.calibration
        ).fit(X[cal_idx], y[cal_idx], sample_weight=None if w is None else w[cal_idx])
        self.flat_trees_ = _flat_trees(self.calibrated_)
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Calibrated ``[P(no match), P(match)]`` per row: `X` (n, n_features_in_) → (n, 2).

        :raises NotFittedError: before `fit` or `load`.
        :raises ValueError: when `X` has another number of columns than it was fitted on.
        """
        check_is_fitted(self, "calibrated_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        flat = getattr(self, "flat_trees_", None)
        if flat is None:
            return np.asarray(self.calibrated_.predict_proba(X))
        return _calibrated_proba(self.calibrated_, flat, X)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """1 where P(match) ≥ 0.5, else 0, shape (n,); the service uses thresholds instead."""
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)

    def save(self, path: Path) -> None:
        """Persist only the fitted sklearn objects, in skops' non-pickle format."""
        check_is_fitted(self, "calibrated_")
        sio.dump(self.calibrated_, path)

    @classmethod
    def load(cls, path: Path, params: dict[str, Any] | None = None) -> MatchClassifier:
        """A fitted classifier from a skops file, after the trusted-types check.

        :raises UntrustedArtifactError: when the file holds types outside `TRUSTED_TYPES`.
        """
        found = set(sio.get_untrusted_types(file=path))
        untrusted = found - TRUSTED_TYPES
        if untrusted:
            raise UntrustedArtifactError(
                f"{path} contains types that are not on the trusted list: {sorted(untrusted)}"
            )
        calibrated = sio.load(path, trusted=sorted(found))
        self = cls(**(params or {}))
        self.calibrated_ = calibrated
        self.classes_ = np.asarray(calibrated.classes_)
        self.n_features_in_ = int(calibrated.n_features_in_)
        self.flat_trees_ = _flat_trees(calibrated)
        return self


def _flat_trees(calibrated: Any) -> list[FlatTrees] | None:
    """Each calibrated fold's trees in flat form; None when any cannot be (sklearn path kept)."""
    if calibrated.method not in ("sigmoid", "isotonic") or len(calibrated.classes_) != 2:
        return None
    flat = [
        FlatTrees.from_estimator(getattr(fold.estimator, "estimator", fold.estimator))
        for fold in calibrated.calibrated_classifiers_
    ]
    return None if any(f is None for f in flat) else [f for f in flat if f is not None]


def _calibrated_proba(calibrated: Any, flat: list[FlatTrees], X: np.ndarray) -> np.ndarray:
    """`CalibratedClassifierCV.predict_proba` for a binary model without its per-call wrapping.

    The same arithmetic as scikit-learn 1.9's `_CalibratedClassifier.predict_proba` (calibrator
    on the decision function, ``P0 = 1 - P1``, mean over folds, the 1 + 1e-5 clip), which costs
    about 1.8 ms a call in validation and label encoding; the raw scores come from `FlatTrees`
    for up to `FLAT_MAX_ROWS` rows, else from the estimator itself. Bit-identical (tested).
    """
    mean = np.zeros((len(X), 2))
    for fold, trees in zip(calibrated.calibrated_classifiers_, flat, strict=True):
        estimator = getattr(fold.estimator, "estimator", fold.estimator)
        raw = trees.raw_predict(X) if len(X) <= FLAT_MAX_ROWS else estimator.decision_function(X)
        proba = np.zeros((len(X), 2))
        proba[:, 1] = fold.calibrators[0].predict(raw)
        proba[:, 0] = 1.0 - proba[:, 1]
        proba[(proba > 1.0) & (proba <= 1.0 + 1e-5)] = 1.0
        mean += proba
    mean /= len(calibrated.calibrated_classifiers_)
    return mean
