"""The promotion gate: a bundle is served only if it is at least as good as the one served now.

"As good" is measured on one labelled validation set for both bundles, with two numbers:

* recall at the block precision target: the most true matches any threshold catches while
  keeping precision at the target (threshold-free, so bundles with different thresholds
  compare fairly); it may not drop;
* expected calibration error: the thresholds are read as probabilities, so calibration may
  not get worse by more than a small tolerance (ECE on a few hundred pairs moves by about a
  point from sampling alone).

With `--valid FILE` both bundles are scored on that file now. Without it, the metrics stored at
training time are compared, which is only allowed when both were validated on the same data
(same hash, same precision target). `force` skips the gate and records that it did.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from model.matching.bundle import Bundle
from model.matching.encoder import Encoder
from model.runtime import registry
from training.pairs_eval import pair_metrics, precision_target_of, score_file

ECE_TOLERANCE = 0.01
GATE_KEYS = ("recall_at_precision_target", "ece")


class GateError(ValueError):
    """The candidate cannot be compared with the served bundle as asked (a user-fixable cause)."""


@dataclass(frozen=True)
class GateResult:
    """Both bundles' gate numbers, the verdict and the reasons for a refusal."""

    candidate: str
    current: str | None
    passed: bool
    basis: str
    candidate_metrics: dict[str, float] = field(default_factory=dict)
    current_metrics: dict[str, float] = field(default_factory=dict)
    reasons: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _stored(bundle: Bundle) -> dict[str, Any]:
    validation = bundle.config.metrics.get("validation", {})
    return {
        "recall_at_precision_target": validation.get("recall_at_precision_target"),
        "ece": validation.get("ece"),
        "precision_target": validation.get("precision_target"),
        "valid_sha256": validation.get("valid_sha256"),
    }


def _on_file(bundle: Bundle, valid: Path, target: float, skip_bad: bool) -> dict[str, float]:
    scored, _ = score_file(bundle, valid, skip_bad=skip_bad)
    metrics = pair_metrics(scored, bundle.config.thresholds, target)
    return {k: float(metrics[k]) for k in GATE_KEYS}


def compare(
    candidate: dict[str, float], current: dict[str, float], ece_tolerance: float
) -> tuple[str, ...]:
    """Reasons the candidate is worse (empty: at least as good)."""
    reasons = []
    c_recall, s_recall = (
        candidate["recall_at_precision_target"],
        current["recall_at_precision_target"],
    )
    if c_recall < s_recall:
        reasons.append(f"recall at the precision target fell from {s_recall:.4f} to {c_recall:.4f}")
    if candidate["ece"] > current["ece"] + ece_tolerance:
        reasons.append(
            f"calibration error rose from {current['ece']:.4f} to {candidate['ece']:.4f} "
            f"(tolerance {ece_tolerance})"
        )
    return tuple(reasons)


def gate(
    candidate_tag: str,
    current_tag: str | None,
    valid: Path | None = None,
    ece_tolerance: float = ECE_TOLERANCE,
    skip_bad: bool = False,
    encoder: Encoder | None = None,
) -> GateResult:
    """Compare the candidate with the current bundle (None: nothing to beat, it passes)."""
    cand = Bundle.load(registry.resolve(candidate_tag), encoder=encoder)
    if current_tag is None:
        return GateResult(candidate_tag, None, True, "no bundle is promoted or served yet")
    curr = Bundle.load(registry.resolve(current_tag), encoder=encoder)
    target = precision_target_of(cand)
    if valid is not None:
        c = _on_file(cand, valid, target, skip_bad)
        s = _on_file(curr, valid, target, skip_bad)
        basis = f"both scored on {valid}"
    else:
        c_all, s_all = _stored(cand), _stored(curr)
        if any(c_all[k] is None or s_all[k] is None for k in (*GATE_KEYS, "valid_sha256")):
            raise GateError(
                f"{current_tag if s_all['valid_sha256'] is None else candidate_tag} has no "
                "labelled-pairs validation metrics; pass --valid FILE to score both bundles on "
                "the same pairs (or --force)"
            )
        if c_all["valid_sha256"] != s_all["valid_sha256"] or (
            c_all["precision_target"] != s_all["precision_target"]
        ):
            raise GateError(
                "the two bundles were validated on different pairs or precision targets; "
                "pass --valid FILE to score both on the same pairs (or --force)"
            )
        c = {k: float(c_all[k]) for k in GATE_KEYS}
        s = {k: float(s_all[k]) for k in GATE_KEYS}
        basis = "metrics stored at training time (same validation pairs)"
    reasons = compare(c, s, ece_tolerance)
    return GateResult(candidate_tag, current_tag, not reasons, basis, c, s, reasons)


def promote(
    tag: str,
    force: bool = False,
    valid: Path | None = None,
    ece_tolerance: float = ECE_TOLERANCE,
    skip_bad: bool = False,
    encoder: Encoder | None = None,
) -> GateResult:
    """Gate, then record the promotion if it passed (or was forced). Returns the gate result;
    `passed` False with `force` False means nothing changed."""
    import bentoml

    try:
        full = str(bentoml.models.get(tag if ":" in tag else f"{registry.MODEL_NAME}:{tag}").tag)
    except bentoml.exceptions.NotFound:
        raise LookupError(
            f"no bundle {tag!r} in the BentoML store; see `recallguard models`"
        ) from None
    current = registry.promoted_tag()
    if current == full:
        return GateResult(full, current, True, "already the promoted bundle")
    if current is None:
        # Nothing promoted: the bundle served until now is the newest other one ("latest").
        others = [row["tag"] for row in registry.list_bundles() if row["tag"] != full]
        current = others[0] if others else None
    if force:
        result = GateResult(full, current, True, "forced: the gate was not run")
        registry.set_promoted(full, by="promote", forced=True, replaced=current)
        return result
    result = gate(full, current, valid, ece_tolerance, skip_bad, encoder)
    if result.passed:
        registry.set_promoted(
            full,
            by="promote",
            forced=False,
            replaced=current,
            basis=result.basis,
            metrics=result.candidate_metrics,
        )
    return result
