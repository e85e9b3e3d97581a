"""Bundles: save → load round trip, and any tampering is refused with a clear error."""

import json
import os
import shutil
from pathlib import Path

import pytest
import skops.io as sio
from sklearn.preprocessing import FunctionTransformer

from model.matching.bundle import MANIFEST_FILE, Bundle, BundleIntegrityError, _sha256
from model.matching.classifier import UntrustedArtifactError
from model.matching.encoder import SentenceTransformerEncoder
from model.matching.screener import Screener
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
