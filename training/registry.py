"""Bundles in the BentoML model store: register with metrics, resolve a tag or path to a folder.

The store gives versioned tags (`recallguard:<version>`), listing and metadata for free; the
bundle itself lives in the model's `bundle/` sub-folder so its manifest stays self-contained.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import bentoml

from model.bundle import Bundle

MODEL_NAME = "recallguard"
BUNDLE_SUBDIR = "bundle"
PROMOTED_LABEL = "promoted"


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


def register(bundle: Bundle, labels: dict[str, str] | None = None) -> str:
    """Save the bundle into the BentoML model store; returns the tag."""
    config = bundle.config
    metadata = {
        "version": config.version,
        "encoder": config.encoder_name,
        "thresholds": {"block": config.thresholds.block, "review": config.thresholds.review},
        "metrics": _flat_metrics(config.metrics),
        "data_sha256": config.training.get("data_sha256", ""),
    }
    with bentoml.models.create(
        f"{MODEL_NAME}:{config.version}", labels=labels or {}, metadata=metadata
    ) as stored:
        bundle.save(Path(stored.path) / BUNDLE_SUBDIR)
    return str(stored.tag)


def has_bundle() -> bool:
    try:
        return bool(bentoml.models.list(MODEL_NAME))
    except Exception:  # an empty or missing store is simply "no bundle"
        return False


def resolve(ref: str | None = None) -> Path:
    """A bundle folder from a path, a store tag, or (default) env RECALLGUARD_BUNDLE / latest."""
    ref = ref or os.environ.get("RECALLGUARD_BUNDLE") or f"{MODEL_NAME}:latest"
    path = Path(ref).expanduser()
    if path.is_dir():
        return path
    tag = ref if ":" in ref else f"{ref}:latest"
    try:
        stored = bentoml.models.get(tag)
    except bentoml.exceptions.NotFound as exc:
        raise BundleNotFoundError(
            f"no bundle at path {ref!r} and no model {tag!r} in the BentoML store; "
            "run `recallguard build` first"
        ) from exc
    return Path(stored.path_of(BUNDLE_SUBDIR))


def list_bundles() -> list[dict[str, Any]]:
    rows = []
    for stored in bentoml.models.list(MODEL_NAME):
        rows.append(
            {
                "tag": str(stored.tag),
                "created": stored.info.creation_time.isoformat(),
                "labels": dict(stored.info.labels),
                "metadata": dict(stored.info.metadata),
            }
        )
    return sorted(rows, key=lambda r: r["created"], reverse=True)
