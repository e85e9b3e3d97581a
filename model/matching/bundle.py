"""A model bundle: one versioned folder of safe formats that fully defines a screener.

encoder/           sentence-transformers' own save format (safetensors + JSON)
index.faiss        FAISS index of entry texts; entries.jsonl + rows.json map rows to entries
classifier.skops   the calibrated classifier (skops, loaded only with trusted types)
config.json        thresholds, search depth, feature names, metrics, provenance
manifest.json      SHA-256 of every file above; a mismatch refuses the whole bundle
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from model.matching.classifier import CLASSIFIER_FILE, MatchClassifier
from model.matching.encoder import Encoder, SentenceTransformerEncoder
from model.matching.features import FEATURE_NAMES
from model.matching.index import BlocklistIndex
from model.matching.verdict import Thresholds

FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
MANIFEST_FILE = "manifest.json"
ENCODER_DIR = "encoder"


class BundleIntegrityError(ValueError):
    """The bundle on disk is not the one that was written: missing, extra or altered files."""


@dataclass(frozen=True)
class BundleConfig:
    """Everything about a bundle that is not a learned array, as plain JSON."""

    version: str
    thresholds: Thresholds
    encoder_name: str
    search_k: int = 10
    max_candidates: int = 5
    feature_names: tuple[str, ...] = FEATURE_NAMES
    classifier_params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    cascade: dict[str, Any] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["feature_names"] = list(self.feature_names)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BundleConfig:
        data = dict(data)
        if data.get("format_version") != FORMAT_VERSION:
            raise BundleIntegrityError(
                f"bundle format {data.get('format_version')!r} is not supported "
                f"(this code reads format {FORMAT_VERSION})"
            )
        data["thresholds"] = Thresholds(**data["thresholds"])
        data["feature_names"] = tuple(data["feature_names"])
        return cls(**data)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _files(root: Path) -> list[str]:
    return sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and p.name != MANIFEST_FILE
    )


def verify(path: Path) -> dict[str, str]:
    """Check every file against the manifest; raise BundleIntegrityError on any difference."""
    if not (path / MANIFEST_FILE).is_file():
        raise BundleIntegrityError(f"{path} is not a bundle: {MANIFEST_FILE} is missing")
    try:
        manifest = json.loads((path / MANIFEST_FILE).read_text())
        expected: dict[str, str] = manifest["files"]
    except (ValueError, KeyError, TypeError) as exc:
        raise BundleIntegrityError(f"{path}/{MANIFEST_FILE} is unreadable: {exc}") from exc
    present = set(_files(path))
    missing = sorted(set(expected) - present)
    extra = sorted(present - set(expected))
    if missing or extra:
        raise BundleIntegrityError(
            f"bundle {path}: missing files {missing}, unexpected files {extra}"
        )
    changed = [name for name, digest in expected.items() if _sha256(path / name) != digest]
    if changed:
        raise BundleIntegrityError(f"bundle {path}: hash mismatch in {changed}; refusing to load")
    return expected


@dataclass
class Bundle:
    """A loaded bundle: the objects the screener runs on."""

    config: BundleConfig
    encoder: Encoder
    index: BlocklistIndex
    classifier: MatchClassifier

    def save(self, path: Path) -> Path:
        """Write atomically: build in a sibling temp folder, then rename into place."""
        path = Path(path)
        if path.exists() and any(path.iterdir()):
            raise FileExistsError(f"{path} exists and is not empty; bundles are immutable")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".bundle-", dir=path.parent))
        try:
            save_encoder = getattr(self.encoder, "save", None)
            if save_encoder is None:
                raise TypeError("the encoder has no save(path) method; it cannot go in a bundle")
            save_encoder(tmp / ENCODER_DIR)
            self.index.save(tmp)
            self.classifier.save(tmp / CLASSIFIER_FILE)
            (tmp / CONFIG_FILE).write_text(json.dumps(self.config.to_dict(), indent=2))
            files = {name: _sha256(tmp / name) for name in _files(tmp)}
            manifest = {
                "format_version": FORMAT_VERSION,
                "version": self.config.version,
                "files": files,
            }
            (tmp / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2))
            if path.exists():
                path.rmdir()
            os.replace(tmp, path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return path

    @classmethod
    def load(cls, path: Path, encoder: Encoder | None = None) -> Bundle:
        """Verify hashes, then load. `encoder` lets a caller reuse one already in memory."""
        path = Path(path)
        verify(path)
        config = BundleConfig.from_dict(json.loads((path / CONFIG_FILE).read_text()))
        if config.feature_names != FEATURE_NAMES:
            raise BundleIntegrityError(
                "bundle was trained on different features than this code computes; rebuild it"
            )
        if encoder is None:
            encoder = SentenceTransformerEncoder.load(path / ENCODER_DIR)
        index = BlocklistIndex.load(path)
        if index.dim != encoder.dim:
            raise BundleIntegrityError(
                f"index dimension {index.dim} does not match the encoder's {encoder.dim}"
            )
        classifier = MatchClassifier.load(path / CLASSIFIER_FILE, config.classifier_params)
        return cls(config=config, encoder=encoder, index=index, classifier=classifier)
