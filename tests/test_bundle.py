"""Bundles: save → load round trip, and any tampering is refused with a clear error."""

import json
import os
import shutil
from pathlib import Path

import pytest
import skops.io as sio
from sklearn.preprocessing import FunctionTransformer

from model.matching.bundle import (
    MANIFEST_FILE,
    Bundle,
    BundleIntegrityError,
    BundleSignatureError,
    _sha256,
)
from model.matching.classifier import UntrustedArtifactError
from model.matching.encoder import SentenceTransformerEncoder
from model.matching.screener import Screener
from model.matching.signing import KEY_ENV, SIGNATURE_FILE
from model.schema import Listing

PROBES = [
    Listing(title="TooyBing Wooden Bead Stacking Toys"),
    Listing(title="Hornby 2014 Catalogue"),
    Listing(title="Baby Biceps Gift Set dumbbell toy"),
]


@pytest.fixture()
def copy(tiny_bundle_path: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "bundle"
    shutil.copytree(tiny_bundle_path, dst)
    return dst


def test_round_trip_gives_identical_verdicts(
    tiny_bundle: Bundle, tmp_path: Path, encoder: SentenceTransformerEncoder
) -> None:
    saved = tiny_bundle.save(tmp_path / "again")
    reloaded = Bundle.load(saved)  # loads the encoder from the bundle's own files
    assert reloaded.config == tiny_bundle.config
    a = Screener(tiny_bundle).screen(PROBES)
    b = Screener(reloaded).screen(PROBES)
    assert [v.to_dict() for v in a] == [v.to_dict() for v in b]


def test_bundle_has_only_safe_formats(tiny_bundle_path: Path) -> None:
    names = {p.name for p in tiny_bundle_path.rglob("*") if p.is_file()}
    assert {"index.faiss", "classifier.skops", "config.json", "manifest.json"} <= names
    assert not [n for n in names if n.endswith((".pkl", ".pickle", ".joblib", ".bin", ".pt"))]


def test_tampered_file_is_refused(copy: Path, encoder: SentenceTransformerEncoder) -> None:
    with open(copy / "config.json", "r+") as fh:
        config = json.load(fh)
        config["thresholds"]["block"] = 0.0
        fh.seek(0)
        json.dump(config, fh)
        fh.truncate()
    with pytest.raises(BundleIntegrityError, match=r"hash mismatch.*config\.json"):
        Bundle.load(copy, encoder=encoder)


def test_extra_or_missing_files_are_refused(
    copy: Path, encoder: SentenceTransformerEncoder
) -> None:
    (copy / "extra.py").write_text("print('hi')")
    with pytest.raises(BundleIntegrityError, match="unexpected files"):
        Bundle.load(copy, encoder=encoder)
    os.remove(copy / "extra.py")
    os.remove(copy / MANIFEST_FILE)
    with pytest.raises(BundleIntegrityError, match=r"manifest\.json is missing"):
        Bundle.load(copy, encoder=encoder)


def test_untrusted_classifier_is_refused_even_with_a_matching_manifest(
    copy: Path, encoder: SentenceTransformerEncoder
) -> None:
    sio.dump(FunctionTransformer(func=os.system), copy / "classifier.skops")
    manifest = json.loads((copy / MANIFEST_FILE).read_text())
    manifest["files"]["classifier.skops"] = _sha256(copy / "classifier.skops")
    (copy / MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(UntrustedArtifactError):
        Bundle.load(copy, encoder=encoder)


def test_bundles_are_immutable(tiny_bundle: Bundle, tiny_bundle_path: Path) -> None:
    with pytest.raises(FileExistsError):
        tiny_bundle.save(tiny_bundle_path)


def _rewrite_manifest(bundle: Path) -> None:
    """What an attacker with write access does after editing a file: fix up the digests."""
    manifest = json.loads((bundle / MANIFEST_FILE).read_text())
    manifest["files"] = {name: _sha256(bundle / name) for name in manifest["files"]}
    (bundle / MANIFEST_FILE).write_text(json.dumps(manifest))


def test_a_truncated_classifier_is_refused_naming_the_file(
    copy: Path, encoder: SentenceTransformerEncoder
) -> None:
    data = (copy / "classifier.skops").read_bytes()
    (copy / "classifier.skops").write_bytes(data[: len(data) // 2])
    with pytest.raises(BundleIntegrityError, match=r"hash mismatch.*classifier\.skops"):
        Bundle.load(copy, encoder=encoder)
    _rewrite_manifest(copy)  # the digests agree now; the file itself is still broken
    with pytest.raises(BundleIntegrityError, match=r"classifier\.skops: cannot be loaded") as e:
        Bundle.load(copy, encoder=encoder)
    assert "BadZipFile" in str(e.value)


def test_a_truncated_index_is_refused_naming_the_file(
    copy: Path, encoder: SentenceTransformerEncoder
) -> None:
    (copy / "index.faiss").write_bytes((copy / "index.faiss").read_bytes()[:100])
    _rewrite_manifest(copy)
    with pytest.raises(BundleIntegrityError, match=r"index\.faiss: cannot be loaded"):
        Bundle.load(copy, encoder=encoder)


KEY = "k" * 40


def test_signed_bundle_loads_and_edited_thresholds_with_a_new_manifest_are_refused(
    tiny_bundle: Bundle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    signed = tiny_bundle.save(tmp_path / "signed")
    assert (signed / SIGNATURE_FILE).is_file()
    assert KEY not in (signed / SIGNATURE_FILE).read_text()
    Bundle.load(signed, encoder=tiny_bundle.encoder)  # signed with the configured key: loads
    config = json.loads((signed / "config.json").read_text())
    config["thresholds"]["block"] = config["thresholds"]["review"]  # block every review hit
    (signed / "config.json").write_text(json.dumps(config))
    _rewrite_manifest(signed)
    monkeypatch.delenv(KEY_ENV)
    Bundle.load(signed, encoder=tiny_bundle.encoder)  # without a key the digests are all we have
    monkeypatch.setenv(KEY_ENV, KEY)
    with pytest.raises(BundleSignatureError, match=r"manifest\.sig does not match"):
        Bundle.load(signed, encoder=tiny_bundle.encoder)
    monkeypatch.setenv(KEY_ENV, "another key of at least 32 characters!")
    (signed / SIGNATURE_FILE).unlink()
    with pytest.raises(BundleSignatureError, match=r"manifest\.sig is missing"):
        Bundle.load(signed, encoder=tiny_bundle.encoder)


def test_a_signature_from_another_key_is_refused(
    tiny_bundle: Bundle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    signed = tiny_bundle.save(tmp_path / "signed")
    monkeypatch.setenv(KEY_ENV, "z" * 32)
    with pytest.raises(BundleSignatureError, match="signed with another key"):
        Bundle.load(signed, encoder=tiny_bundle.encoder)
    monkeypatch.setenv(KEY_ENV, "short")
    with pytest.raises(ValueError, match="at least 32 characters"):
        Bundle.load(signed, encoder=tiny_bundle.encoder)
