"""Bundles in the BentoML model store: register with metrics, resolve a tag or path to a folder.

The store gives versioned tags (`recallguard:<version>`), listing and metadata for free; the
bundle itself lives in the model's `bundle/` sub-folder so its manifest stays self-contained.

Promotion: BentoML model labels are fixed at creation, so which bundle is *promoted* (the one
the service serves) is recorded in one small JSON file beside the store, `promotion.json` in
`$BENTOML_HOME` (default `~/bentoml`), written atomically with the history of every promotion.
`resolve()` serves the promoted bundle, or the latest one while nothing has been promoted.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import bentoml

from model.matching.bundle import Bundle
from model.matching.cascade import GATE_TEXTS, bundle_gate
from model.settings import Settings

MODEL_NAME = "recallguard"
BUNDLE_SUBDIR = "bundle"
PROMOTED_LABEL = "promoted"
PROMOTION_FILE = "promotion.json"


class BundleNotFoundError(LookupError):
    """No bundle under the given path or tag."""


def _flat_metrics(metrics: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flat_metrics(value, f"{name}."))
        elif isinstance(value, (int, float, str, bool)) or value is None:
            out[name] = value
    return out


def gate_label(bundle: Bundle) -> str:
    """The cascade gate a bundle screens with, as the store records it at registration.

    Its version and threshold ("char3-tfidf-v2@0.2651"), or "none": every listing then gets the
    full pipeline (a retrained bundle, README "Retraining"). `shown_gate` reads it back.
    """
    found = bundle_gate(bundle)
    return f"{found[0]}@{found[1]:.4f}" if found else "none"


def shown_gate(label: str) -> str:
    """A recorded `gate_label` as this code would serve it.

    A gate version this code does not know is not used (`cascade.bundle_gate`): it reads
    "none (<label> unknown)".
    """
    name = label.split("@", 1)[0]
    return label if name == "none" or name in GATE_TEXTS else f"none ({label} unknown)"


def register(bundle: Bundle, labels: dict[str, str] | None = None) -> str:
    """Save the bundle into the BentoML model store; returns the tag."""
    config = bundle.config
    metadata = {
        "version": config.version,
        "encoder": config.encoder_name,
        "thresholds": {"block": config.thresholds.block, "review": config.thresholds.review},
        "metrics": _flat_metrics(config.metrics),
        "data_sha256": config.training.get("data_sha256", ""),
        "gate": gate_label(bundle),
    }
    if config.training.get("kind") == "retrain":
        metadata["base_model"] = config.training.get("base_model", "")
        metadata["base_encoder"] = config.training.get("base_encoder", "")
        metadata["valid_sha256"] = config.training.get("valid_sha256", "")
        params = _flat_metrics(config.training.get("params", {}))
        # BentoML metadata takes no nulls; an unset knob (None: "use the base's") is left out.
        metadata["params"] = {k: v for k, v in params.items() if v is not None}
    with bentoml.models.create(
        f"{MODEL_NAME}:{config.version}", labels=labels or {}, metadata=metadata
    ) as stored:
        bundle.save(Path(stored.path) / BUNDLE_SUBDIR)
    return str(stored.tag)


def has_bundle() -> bool:
    """Whether the BentoML store holds any RecallGuard bundle (False for a missing store)."""
    try:
        return bool(bentoml.models.list(MODEL_NAME))
    except Exception:  # an empty or missing store is simply "no bundle"
        return False


def _promotion_path() -> Path:
    return Settings.from_env().bentoml_home / PROMOTION_FILE


def promotion_record() -> dict[str, Any]:
    """{"tag": promoted tag or None, "history": [...]} (empty when nothing was ever promoted)."""
    path = _promotion_path()
    if not path.is_file():
        return {"tag": None, "history": []}
    try:
        record = json.loads(path.read_text())
    except ValueError as exc:
        raise ValueError(f"{path} is not valid JSON ({exc}); fix or delete it") from exc
    return {"tag": record.get("tag"), "history": list(record.get("history", []))}


def promoted_tag() -> str | None:
    """The promoted tag, if it is still in the store (a deleted model is not served)."""
    tag = promotion_record()["tag"]
    if not tag:
        return None
    try:
        bentoml.models.get(tag)
    except bentoml.exceptions.NotFound:
        return None
    return str(tag)


def set_promoted(tag: str, **details: Any) -> None:
    """Record `tag` as promoted (atomically), appending `details` to the history."""
    stored = bentoml.models.get(tag)  # raises NotFound for an unknown tag
    full = str(stored.tag)
    record = promotion_record()
    event = {"tag": full, "at": datetime.now(UTC).isoformat(), **details}
    record = {"tag": full, "history": [*record["history"], event]}
    path = _promotion_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".promotion-", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(record, fh, indent=2, default=str)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def served_tag() -> str | None:
    """What `resolve()` serves by default: the promoted bundle, else the latest one."""
    tag = promoted_tag()
    if tag:
        return tag
    try:
        return str(bentoml.models.get(f"{MODEL_NAME}:latest").tag)
    except bentoml.exceptions.NotFound:
        return None


def pin_served(reason: str) -> str | None:
    """Promote what is served now if nothing is promoted yet.

    So registering a new bundle (which becomes "latest") does not change what the service
    serves. Returns the tag pinned, or None when something was already promoted.
    """
    if promoted_tag():
        return None
    tag = served_tag()
    if tag:
        set_promoted(tag, by="pin", reason=reason)
    return tag


def resolve(ref: str | None = None) -> Path:
    """A bundle folder from a path or a store tag.

    `ref` defaults to the `RECALLGUARD_BUNDLE` setting, else the promoted bundle, else the
    latest.

    :raises BundleNotFoundError: no such folder and no such model in the BentoML store.
    """
    ref = ref or Settings.from_env().bundle or promoted_tag() or f"{MODEL_NAME}:latest"
    path = Path(ref).expanduser()
    if path.is_dir():
        return path
    tag = ref if ":" in ref else f"{ref}:latest"
    try:
        stored = bentoml.models.get(tag)
    except bentoml.exceptions.BentoMLException as exc:  # not in the store, or not a tag at all
        raise BundleNotFoundError(
            f"no bundle at path {ref!r} and no model {tag!r} in the BentoML store; "
            "run `recallguard build` first"
        ) from exc
    return Path(stored.path_of(BUNDLE_SUBDIR))


def declared_tag(ref: str | None = None) -> str | None:
    """The store tag a service declares as its `BentoModel`, resolved like `resolve()`.

    `ref` (default: the `RECALLGUARD_BUNDLE` setting) names a store model, else the promoted
    bundle, else the latest. None when `ref` is a bundle folder (nothing to declare: the folder
    is served as is) or when the store holds no such model (`resolve()` then says what to do).
    """
    ref = ref if ref is not None else Settings.from_env().bundle
    if ref and Path(ref).expanduser().is_dir():
        return None
    if not ref:
        return served_tag()
    try:
        return str(bentoml.models.get(ref if ":" in ref else f"{ref}:latest").tag)
    except bentoml.exceptions.NotFound:
        return None


def bundle_folder(stored_path: str) -> Path:
    """The bundle inside a stored model's folder (`stored_path`: `bentoml.models.Model.path`)."""
    return Path(stored_path) / BUNDLE_SUBDIR


def list_bundles() -> list[dict[str, Any]]:
    """Bundles newest first, each with its metadata and whether it is the promoted one."""
    rows = []
    try:
        stored_models = bentoml.models.list(MODEL_NAME)
    except bentoml.exceptions.NotFound:
        return []
    promoted = promoted_tag()
    for stored in stored_models:
        rows.append(
            {
                "tag": str(stored.tag),
                "created": stored.info.creation_time.isoformat(),
                "labels": dict(stored.info.labels),
                "metadata": dict(stored.info.metadata),
                "promoted": str(stored.tag) == promoted,
            }
        )
    return sorted(rows, key=lambda r: r["created"], reverse=True)
