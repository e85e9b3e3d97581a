"""A model bundle: one versioned folder of safe formats that fully defines a screener.

encoder/           sentence-transformers' own save format (safetensors + JSON)
index.faiss        FAISS index of entry texts; entries.jsonl + rows.json map rows to entries
classifier.skops   the calibrated classifier (skops, loaded only with trusted types)
config.json        thresholds, search depth, feature names, metrics, provenance
manifest.json      SHA-256 of every file above; a mismatch refuses the whole bundle
manifest.sig       optional HMAC of manifest.json (`model.matching.signing`): written when a
                   signing key is configured, and then required at load

Every load failure is a `BundleIntegrityError` that names the file it came from.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from model.matching import signing
from model.matching.classifier import CLASSIFIER_FILE, MatchClassifier, UntrustedArtifactError
from model.matching.encoder import Encoder, SentenceTransformerEncoder, training_encoder
from model.matching.features import FEATURE_NAMES
from model.matching.index import BlocklistIndex
from model.matching.verdict import Thresholds

FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
MANIFEST_FILE = "manifest.json"
ENCODER_DIR = "encoder"


T = TypeVar("T")


class BundleIntegrityError(ValueError):
    """The bundle on disk is not the one that was written: missing, extra or altered files."""


class BundleSignatureError(BundleIntegrityError):
    """A signing key is configured and the manifest's signature is missing or does not match."""


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
        """The JSON object written to config.json (thresholds as a nested object)."""
        d = asdict(self)
        d["feature_names"] = list(self.feature_names)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BundleConfig:
        """Inverse of `to_dict`, for config.json as this code's FORMAT_VERSION writes it.

        :raises BundleIntegrityError: `format_version` is not FORMAT_VERSION.
        :raises KeyError: `thresholds` or `feature_names` is missing.
        :raises TypeError: unknown or missing fields (here or in `thresholds`).
        """
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
        if p.is_file()
        and p.name != MANIFEST_FILE
        and p.relative_to(root).as_posix() != signing.SIGNATURE_FILE
    )


def verify(path: Path, key: bytes | None = None) -> dict[str, str]:
    """Check every file against the manifest; raise BundleIntegrityError on any difference.

    With a signing key (argument, else ``RECALLGUARD_BUNDLE_SIGNING_KEY``) the manifest must
    also carry a valid signature (BundleSignatureError otherwise), checked first.
    """
    if not (path / MANIFEST_FILE).is_file():
        raise BundleIntegrityError(f"{path} is not a bundle: {MANIFEST_FILE} is missing")
    key = key if key is not None else signing.signing_key()
    if key is not None and (problem := signing.problem(path, key)) is not None:
        raise BundleSignatureError(problem)
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
        """Write atomically: build in a sibling temp folder, then rename into place.

        Signs the manifest when a signing key is configured. Returns `path`; on any failure the
        temp folder is removed and nothing appears at `path`.

        :raises FileExistsError: `path` exists and is not empty (bundles are immutable).
        :raises TypeError: the encoder has no `save(path)` method.
        """
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
            key = signing.signing_key()
            if key is not None:
                signing.sign(tmp, key)
            if path.exists():
                path.rmdir()
            os.replace(tmp, path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return path

    @classmethod
    def load(cls, path: Path, encoder: Encoder | None = None, for_training: bool = False) -> Bundle:
        """Verify hashes, then load. `encoder` lets a caller reuse one already in memory.

        `for_training`: load the bundle's encoder in the training arithmetic
        (`training_encoder`: fp32 on every CPU, as builds embed) instead of the serving settings
        (`RECALLGUARD_PRECISION`, cache, threads); for re-gating and retraining.

        :raises BundleIntegrityError: any check or part fails; the message names the file
            (BundleSignatureError when a configured key's signature is missing or wrong).
        :raises UntrustedArtifactError: the classifier holds types outside the trusted list.
        """
        path = Path(path)
        verify(path)
        config = _read(path / CONFIG_FILE, lambda: BundleConfig.from_dict(
            json.loads((path / CONFIG_FILE).read_text())
        ))  # fmt: skip
        if config.feature_names != FEATURE_NAMES:
            raise BundleIntegrityError(
                f"{path / CONFIG_FILE}: the bundle was trained on different features than this "
                "code computes; rebuild it"
            )
        if encoder is None:
            encoder = _read(path / ENCODER_DIR, lambda: (
                training_encoder(str(path / ENCODER_DIR)) if for_training
                else SentenceTransformerEncoder.load(path / ENCODER_DIR)
            ))  # fmt: skip
        index = _read(path / "index.faiss", lambda: BlocklistIndex.load(path))
        if index.dim != encoder.dim:
            raise BundleIntegrityError(
                f"{path}: index dimension {index.dim} does not match the encoder's {encoder.dim}"
            )
        classifier = _read(path / CLASSIFIER_FILE, lambda: MatchClassifier.load(
            path / CLASSIFIER_FILE, config.classifier_params
        ))  # fmt: skip
        return cls(config=config, encoder=encoder, index=index, classifier=classifier)


def _read(source: Path, load: Callable[[], T]) -> T:
    """Run one part's loader; any failure becomes a BundleIntegrityError naming the file.

    A truncated skops file otherwise surfaces as a bare ``BadZipFile``. Refusals that are
    already specific (integrity, untrusted types) pass through unchanged.
    """
    try:
        return load()
    except (BundleIntegrityError, UntrustedArtifactError):
        raise
    except Exception as exc:  # any reader's failure means this part of the bundle is bad
        detail = str(exc).splitlines()[0] if str(exc) else ""
        raise BundleIntegrityError(
            f"{source}: cannot be loaded ({type(exc).__name__}{': ' if detail else ''}{detail})"
        ) from exc
