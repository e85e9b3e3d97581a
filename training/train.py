"""Retrain a bundle on labelled pairs: fine-tune, re-index, classify, calibrate, set thresholds.

1. The encoder is fine-tuned on the training pairs (`training.finetune`), starting from the
   base bundle's own encoder, so retraining builds on what is served rather than starting over.
2. The blocklist (the base bundle's entries plus any entry the pairs files define) is indexed
   again with the new encoder: old vectors mean nothing to a new model.
3. The pair classifier is trained only on the labelled pairs' features, computed through the
   production candidate search, so it sees exactly what the screener will. `MatchClassifier`
   calibrates it on a held-out quarter of the training listings (grouped by listing).
   The bundle build's synthetic examples are deliberately not mixed in: the point of
   retraining is to learn what reviewers decided, and `promote` guards against a worse result.
4. Thresholds come from the validation pairs: the block threshold meets the precision target
   and the review threshold the recall target, as in the build; with `match_threshold` a single
   F1-maximising cut is used instead (plain pair-matching data has no review band).
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from model.matching.bundle import ENCODER_DIR, Bundle, BundleConfig
from model.matching.candidates import CandidateSearch
from model.matching.classifier import MatchClassifier
from model.matching.encoder import DEFAULT_MODEL, Encoder, embed_precision, training_encoder
from model.matching.index import BlocklistIndex
from model.matching.thresholds import choose_thresholds
from model.matching.verdict import Thresholds
from model.schema import BlocklistEntry, Listing
from training.finetune import FinetuneConfig, FinetuneReport, finetune
from training.pair_scoring import MISSED, combine, score_pairs, synthetic_rows, training_rows
from training.pairs import PairSet, listing_key
from training.pairs_eval import (
    DEFAULT_PRECISION_TARGET,
    at_threshold,
    best_f1_threshold,
    pair_metrics,
)

DEFAULT_RECALL_TARGET = 0.98
ISOTONIC_MIN_POSITIVES = 3000


@dataclass(frozen=True)
class TrainConfig:
    """Everything a retraining run depends on besides the data; stored in the bundle."""

    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)
    seed: int = 0
    match_threshold: bool = False
    implied_negatives: bool = True
    precision_target: float | None = None  # None: the base bundle's, else 0.99
    recall_target: float | None = None  # None: the base bundle's, else 0.98
    search_k: int | None = None  # None: the base bundle's, else 10
    calibration: str | None = None  # None: by data size (see calibration_for)
    synthetic: int = 3000  # synthetic build examples mixed into the classifier's training


@dataclass(frozen=True)
class BaseModel:
    """Where retraining starts: a bundle (and its folder) or just the packaged encoder."""

    bundle: Bundle | None
    path: Path | None

    @property
    def entries(self) -> list[BlocklistEntry]:
        return list(self.bundle.index.entries) if self.bundle else []

    @property
    def encoder_source(self) -> str:
        return str(self.path / ENCODER_DIR) if self.path else DEFAULT_MODEL

    @property
    def version(self) -> str:
        return self.bundle.config.version if self.bundle else ""

    def validation(self, key: str, default: float) -> float:
        if not self.bundle:
            return default
        return float(self.bundle.config.metrics.get("validation", {}).get(key, default))


@dataclass(frozen=True)
class TrainResult:
    bundle: Bundle
    validation: dict[str, Any]
    rows: dict[str, int]
    finetune: FinetuneReport | None


def calibration_for(positive_rows: int) -> str:
    """Isotonic calibration needs many examples; on a few hundred labelled matches its steps
    tie whole blocks of pairs at one probability (and a single wrong pair in the top block makes
    the precision target unreachable), so smaller sets get Platt's sigmoid."""
    return "isotonic" if positive_rows >= ISOTONIC_MIN_POSITIVES else "sigmoid"


def load_base(path: Path | None, encoder: Encoder | None = None) -> BaseModel:
    """`path` None: no base bundle (packaged encoder, blocklist only from the pairs files).

    The base bundle's encoder is loaded in the training arithmetic (`training_encoder`: fp32,
    not the serving precision), unless `encoder` is given.
    """
    if path is None:
        return BaseModel(None, None)
    return BaseModel(Bundle.load(path, encoder=encoder, for_training=True), Path(path))


def merged_entries(base: BaseModel, *sets: PairSet) -> list[BlocklistEntry]:
    entries = {e.entry_id: e for e in base.entries}
    for pair_set in sets:
        for entry in pair_set.new_entries:
            entries.setdefault(entry.entry_id, entry)
    if not entries:
        raise ValueError("no blocklist: give a base bundle or pairs that define their entries")
    return list(entries.values())


def _thresholds(
    labels: np.ndarray, proba: np.ndarray, config: TrainConfig, p: float, r: float
) -> tuple[Thresholds, dict[str, Any]]:
    if config.match_threshold:
        from training.pair_scoring import RETRIEVED, ScoredPairs

        scored = ScoredPairs(labels, proba, np.full(len(labels), RETRIEVED))
        t = best_f1_threshold(scored)
        at = at_threshold(scored, t)
        report = {
            "mode": "max_f1",
            "block_precision": at.precision,
            "block_recall": at.recall,
            "review_precision": at.precision,
            "review_recall": at.recall,
            "f1": at.f1,
        }
        return Thresholds(block=t, review=t), report
    chosen = choose_thresholds(labels, proba, p, r)
    report = {k: v for k, v in asdict(chosen).items() if k != "thresholds"}
    return chosen.thresholds, {"mode": "targets", **report}


def _encoder(
    base: BaseModel,
    train: PairSet,
    entries: Sequence[BlocklistEntry],
    config: TrainConfig,
    work: Path,
) -> tuple[Encoder, FinetuneReport | None]:
    if config.finetune.epochs <= 0:  # the base's encoder, loaded by `load_base`
        encoder = base.bundle.encoder if base.bundle else training_encoder(DEFAULT_MODEL)
        return encoder, None
    tune = replace(config.finetune, seed=config.seed)
    return finetune(base.encoder_source, train.pairs, entries, work / ENCODER_DIR, tune)


def train_bundle(
    base: BaseModel,
    train: PairSet,
    valid: PairSet,
    config: TrainConfig | None = None,
    benign: Sequence[Listing] = (),
) -> TrainResult:
    """Train a new bundle from labelled pairs; nothing is saved or registered here.

    `benign`: real listings for the synthetic examples (`config.synthetic`); listings that
    appear in the pairs files are left out of them.
    """
    config = config or TrainConfig()
    entries = merged_entries(base, train, valid)
    p_target = config.precision_target or base.validation(
        "precision_target", DEFAULT_PRECISION_TARGET
    )
    r_target = config.recall_target or base.validation("recall_target", DEFAULT_RECALL_TARGET)
    k = config.search_k or (base.bundle.config.search_k if base.bundle else 10)
    with tempfile.TemporaryDirectory(prefix="recallguard-train-") as tmp:
        encoder, tuned = _encoder(base, train, entries, config, Path(tmp))
    print(f"indexing {len(entries)} blocklist entries with the new encoder", flush=True)
    index = BlocklistIndex.from_entries(entries, encoder)
    search = CandidateSearch(encoder, index, k)
    rows = training_rows(search, train.pairs, config.implied_negatives)
    if len(set(rows.y.tolist())) < 2:
        raise ValueError(
            f"the training pairs give {rows.stats['rows']} classifier rows of one class only; "
            "they need both matches and non-matches that the search reaches"
        )
    if config.synthetic > 0 and benign:
        seen = {p.listing_key() for p in (*train.pairs, *valid.pairs)}
        pool = [b for b in benign if listing_key(b) not in seen]
        offset = int(rows.groups.max()) + 1 if len(rows.groups) else 0
        rows = combine(rows, synthetic_rows(search, pool, config.synthetic, config.seed, offset))
    params = dict(base.bundle.config.classifier_params) if base.bundle else {}
    params["random_state"] = config.seed
    # The base's calibration when it names one (the build's is Platt since issue 10, whose
    # isotonic steps tied the held-out pairs at one probability), else by the positives' count.
    params["calibration"] = (
        config.calibration or params.get("calibration") or calibration_for(int(rows.y.sum()))
    )
    rows.stats["classifier_rows"] = len(rows.y)
    print(f"training the classifier on {len(rows.y)} pair rows", flush=True)
    classifier = MatchClassifier(**params).fit(rows.X, rows.y, rows.groups)
    scored = score_pairs(search, classifier, valid.pairs, desc="validation pairs")
    reached = scored.status != MISSED
    if len(set(scored.labels[reached].tolist())) < 2:
        raise ValueError(
            "the validation pairs need both matches and non-matches the search reaches"
        )
    thresholds, chosen = _thresholds(
        scored.labels[reached], scored.proba[reached], config, p_target, r_target
    )
    validation = pair_metrics(scored, thresholds, p_target)
    metrics = {
        # Rates over all validation pairs (a pair the search missed counts against recall);
        # the threshold choice itself only sees the pairs the bundle can score.
        "validation": {
            **chosen,
            "block_precision": validation["block"]["precision"],
            "block_recall": validation["block"]["recall"],
            "review_precision": validation["review"]["precision"],
            "review_recall": validation["review"]["recall"],
            "precision_target": p_target,
            "recall_target": r_target,
            "recall_at_precision_target": validation["recall_at_precision_target"],
            "ece": validation["ece"],
            "pr_auc": validation["pr_auc"],
            "f1_at_block": validation["block"]["f1"],
            "valid_sha256": valid.sha256(),
            "reach": validation["reach"],
        },
        "counts": {
            "entries": len(entries),
            "train_pairs": len(train.pairs),
            "valid_pairs": len(valid.pairs),
            **rows.stats,
        },
        "finetune": asdict(tuned) if tuned else {},
    }
    params_record = {"train": asdict(config), "classifier": classifier.get_params()}
    fingerprint = hashlib.sha256(
        json.dumps(
            [train.sha256(), valid.sha256(), base.version, params_record],
            sort_keys=True,
            default=str,
        ).encode()
    ).hexdigest()
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S%f")[:-3]
    base_encoder = base.bundle.config.encoder_name if base.bundle else DEFAULT_MODEL
    bundle_config = BundleConfig(
        version=f"{stamp}-{fingerprint[:8]}",
        thresholds=thresholds,
        encoder_name=f"finetuned:{base_encoder}" if tuned else base_encoder,
        search_k=k,
        max_candidates=base.bundle.config.max_candidates if base.bundle else 5,
        classifier_params=classifier.get_params(),
        metrics=metrics,
        training={
            "kind": "retrain",
            "base_model": base.version,
            "base_encoder": base_encoder,
            "embed_precision": embed_precision(encoder),
            "data_sha256": train.sha256(),
            "valid_sha256": valid.sha256(),
            "train_file": str(train.path),
            "valid_file": str(valid.path),
            "params": params_record,
        },
    )
    bundle = Bundle(config=bundle_config, encoder=encoder, index=index, classifier=classifier)
    return TrainResult(bundle, validation, rows.stats, tuned)
