"""Hot blocklist updates: live at once without a restart, no failed screen while they happen,
and a writer killed between commit steps leaves a consistent store."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from starlette.testclient import TestClient

from model.matching.bundle import Bundle
from model.matching.index import entry_texts
from model.runtime.blocklist_store import STATE_FILE, BlocklistStore
from model.runtime.live_blocklist import LiveBlocklist
from model.schema import BlocklistEntry, Listing
from service.admin_api import create_admin_app
from service.auth import KeyStore
from service.live_screening import LiveScreening
from service.review import ReviewQueue

ROOT = Path(__file__).resolve().parents[1]
NEW_ID = "cpsc-10782"  # a real recall that is not in the tiny bundle
NEW_TITLE = "Orb Funkee Squeeze Toys 17451"
WRITER = """
import os, signal, sys
from pathlib import Path
from model.runtime import blocklist_store
from model.schema import BlocklistEntry

step = sys.argv[2]
def crash(at: str) -> None:
    if at == step:
        os.kill(os.getpid(), signal.SIGKILL)
blocklist_store.crash_point = crash
entry = BlocklistEntry(entry_id="reg-b", source="manual", product_name="Second Toy")
blocklist_store.BlocklistStore(Path(sys.argv[1])).upsert([entry], "writer", "crash test")
"""


def entry_of(all_entries: list[BlocklistEntry], entry_id: str) -> BlocklistEntry:
    return next(e for e in all_entries if e.entry_id == entry_id)


def matched(live: LiveBlocklist, title: str) -> tuple[str, set[str]]:
    verdict = live.screener.screen_one(Listing(title=title))
    return verdict.decision, {c.entry_id for c in verdict.candidates if c.probability >= 0.5}


@pytest.mark.parametrize(
    ("step", "committed"),
    [
        ("log-partial", False),
        ("log-committed", True),
        ("checkpoint-written", True),
        ("checkpoint-renamed", True),
    ],
)
def test_writer_killed_between_steps_leaves_a_consistent_store(
    tmp_path: Path, step: str, committed: bool
) -> None:
    store = BlocklistStore(tmp_path)
    first = BlocklistEntry(entry_id="reg-a", source="manual", product_name="First Toy")
    store.upsert([first], "setup", "before the crash")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", WRITER, str(tmp_path), step], env=env,
                          cwd=ROOT, timeout=120)  # fmt: skip
    assert done.returncode == -signal.SIGKILL
    state = store.state()  # a reader right after the crash
    assert set(state.records) == ({"reg-a", "reg-b"} if committed else {"reg-a"})
    assert state.seq == (2 if committed else 1)
    # The next writer cuts a torn tail, commits after the survivors, and history reads clean.
    third = BlocklistEntry(entry_id="reg-c", source="manual", product_name="Third Toy")
    assert store.upsert([third], "next", "after the crash").seq == state.seq + 1
    seqs = [cs.seq for cs in store.history()]
    assert seqs == list(range(1, state.seq + 2))
    assert store.state().records.keys() == set(state.records) | {"reg-c"}
    assert json.loads((tmp_path / STATE_FILE).read_text())["seq"] == state.seq + 1


def test_unreadable_checkpoint_is_rebuilt_from_the_log(tmp_path: Path) -> None:
    store = BlocklistStore(tmp_path)
    for i in range(3):
        store.upsert([BlocklistEntry(f"reg-{i}", "manual", f"Toy {i}")], "a", "")
    store.remove(["reg-1"], "a", "withdrawn")
    (tmp_path / STATE_FILE).write_text("{not json")
    state = store.state()
    assert state.seq == 4
    assert {k: r.status for k, r in state.records.items()} == {
        "reg-0": "active", "reg-1": "removed", "reg-2": "active"
    }  # fmt: skip


def test_hot_add_blocks_and_remove_allows(
    tiny_bundle: Bundle, all_entries: list[BlocklistEntry], tmp_path: Path
) -> None:
    store = BlocklistStore(tmp_path)
    live = LiveBlocklist(tiny_bundle, store)
    assert NEW_ID not in matched(live, NEW_TITLE)[1]
    store.upsert([entry_of(all_entries, NEW_ID)], "ops", "new CPSC recall")
    live.sync()
    decision, ids = matched(live, NEW_TITLE)
    assert decision == "block" and NEW_ID in ids
    store.remove([NEW_ID], "ops", "notice withdrawn")
    live.sync()
    decision, ids = matched(live, NEW_TITLE)
    assert NEW_ID not in ids and decision == "allow"
    # Removing an entry the bundle was built with stops its blocks too.
    assert "cpsc-10917" in matched(live, "TooyBing Wooden Bead Stacking Toys")[1]
    store.remove(["cpsc-10917"], "ops", "test", known={"cpsc-10917"})
    live.sync()
    assert "cpsc-10917" not in matched(live, "TooyBing Wooden Bead Stacking Toys")[1]
    assert len(live.screener.bundle.index) == len(tiny_bundle.index) - 1


def test_changes_from_another_process_go_live_and_survive_a_restart(
    tiny_bundle: Bundle, all_entries: list[BlocklistEntry], tmp_path: Path
) -> None:
    store = BlocklistStore(tmp_path)
    live = LiveBlocklist(tiny_bundle, store)
    live.start(interval=0.05)
    try:
        entry = entry_of(all_entries, NEW_ID)
        script = (
            "import json, sys; from pathlib import Path; "
            "from model.runtime.blocklist_store import BlocklistStore; "
            "from model.schema import BlocklistEntry; "
            "BlocklistStore(Path(sys.argv[1])).upsert("
            "[BlocklistEntry.from_dict(json.loads(sys.argv[2]))], 'cli', 'import')"
        )
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        subprocess.run([sys.executable, "-c", script, str(tmp_path), json.dumps(entry.to_dict())],
                       env=env, cwd=ROOT, check=True, timeout=120)  # fmt: skip
        deadline = time.monotonic() + 10
        while live.seq < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert NEW_ID in matched(live, NEW_TITLE)[1]
    finally:
        live.stop()
    # A restart, here with a "promoted" bundle whose encoder we watch: the run-time entry is
    # re-embedded with that bundle's encoder and served.
    seen: list[str] = []

    class Watched:
        dim = tiny_bundle.encoder.dim

        def encode(self, texts: list[str]) -> np.ndarray:
            seen.extend(texts)
            return tiny_bundle.encoder.encode(texts)

    restarted = LiveBlocklist(replace(tiny_bundle, encoder=Watched()), store)
    assert set(entry_texts(entry)) <= set(seen)
    assert NEW_ID in matched(restarted, NEW_TITLE)[1]


def test_concurrent_screening_during_updates_never_fails(
    tiny_bundle: Bundle, all_entries: list[BlocklistEntry], amazon: list[Listing], tmp_path: Path
) -> None:
    store = BlocklistStore(tmp_path)
    live = LiveBlocklist(tiny_bundle, store)
    listings = [*amazon[:6], Listing(title=NEW_TITLE), Listing(title="TooyBing Wooden Bead Toys")]
    errors: list[BaseException] = []
    screens = [0]
    stop = threading.Event()

    def screen() -> None:
        while not stop.is_set():
            try:
                screener = live.screener  # one version for the whole request
                verdicts = screener.screen(listings)
                assert [v.listing_id for v in verdicts] == [x.listing_id for x in listings]
                # Each verdict comes from one consistent version: the new entry is a candidate
                # for its own title exactly when that version holds it.
                served = {e.entry_id for e in screener.bundle.index.entries}
                candidates = {c.entry_id for c in verdicts[-2].candidates}
                assert (NEW_ID in candidates) == (NEW_ID in served)
                screens[0] += 1
            except BaseException as exc:
                errors.append(exc)

    threads = [threading.Thread(target=screen) for _ in range(3)]
    for t in threads:
        t.start()
    entry = entry_of(all_entries, NEW_ID)
    try:
        for i in range(6):
            store.upsert([entry], "ops", f"add {i}")
            live.sync()
            store.remove([NEW_ID], "ops", f"remove {i}")
            live.sync()
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
    assert not errors, errors[:3]
    assert screens[0] > 0
    assert NEW_ID not in {e.entry_id for e in live.screener.bundle.index.entries}


ADMIN = {"Authorization": "Bearer rg-test-admin"}


@pytest.fixture(scope="module")
def admin(
    tiny_bundle: Bundle, tiny_bundle_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> LiveScreening:
    """The service's admin object as `RecallGuard` builds it (one BentoML app per process is
    all Prometheus allows, and tests/test_service.py has it), with its own data home."""
    home = tmp_path_factory.mktemp("admin-home")
    queue = ReviewQueue(f"sqlite:///{home / 'review.sqlite3'}")
    return LiveScreening(tiny_bundle, tiny_bundle_path, home, queue, poll_seconds=0.05)


@pytest.fixture(scope="module")
def client(admin: LiveScreening) -> Iterator[TestClient]:
    keys = KeyStore(None, "admin:ops:rg-test-admin,screen:platform:rg-test-screen")
    with TestClient(create_admin_app(lambda: admin, lambda: keys)) as c:
        yield c


def test_admin_endpoints_change_the_running_service(
    admin: LiveScreening,
    client: TestClient,
    all_entries: list[BlocklistEntry],
    amazon: list[Listing],
) -> None:
    entry = entry_of(all_entries, NEW_ID).to_dict()

    def screen() -> dict:
        # What RecallGuard's /screen runs: the admin's current screener.
        verdict = admin.screener.screen_one(Listing(title=NEW_TITLE)).to_dict()
        return verdict

    assert client.post("/entries", json={"entries": [entry]}).status_code == 401
    screen_key = {"X-API-Key": "rg-test-screen"}
    assert client.post("/entries", json={"entries": [entry]}, headers=screen_key).status_code == 403
    assert screen()["decision"] == "allow"
    r = client.post("/entries", json={"entries": [entry], "reason": "CPSC 26-xxx"}, headers=ADMIN)
    assert r.status_code == 200 and r.json()["added"] == [NEW_ID]
    body = screen()
    assert body["decision"] == "block" and body["match"]["entry_id"] == NEW_ID
    shown = client.get(f"/entries/{NEW_ID}", headers=ADMIN).json()
    assert shown["served"] and shown["history"][0]["actor"] == "ops"
    assert shown["history"][0]["reason"] == "CPSC 26-xxx"

    bad = {**entry, "gtins": ["12345"]}
    r = client.post("/entries", json={"entries": [bad]}, headers=ADMIN)
    assert r.status_code == 400 and "entries[0]: GTIN '12345'" in r.json()["error"]
    r = client.post(
        "/entries", content=b"{oops", headers={**ADMIN, "content-type": "application/json"}
    )
    assert r.status_code == 400
    assert client.request("DELETE", f"/entries/{NEW_ID}", headers=ADMIN).status_code == 400
    assert client.request("DELETE", "/entries/no-such", headers=ADMIN,
                          json={"reason": "x"}).status_code == 404  # fmt: skip
    r = client.request("DELETE", f"/entries/{NEW_ID}", headers=ADMIN, json={"reason": "withdrawn"})
    assert r.status_code == 200 and r.json()["removed"] == [NEW_ID]
    assert screen()["decision"] == "allow"

    # Register a live catalogue (real listings + one a seller posted for the recall), then add
    # the recall again: the service sweeps the catalogue on its own.
    live = [x.to_dict() for x in amazon[:150] if x.listing_id]
    live.append({"title": f"{NEW_TITLE} fidget ball", "listing_id": "L-orb"})
    r = client.post("/catalog/listings", json={"listings": live}, headers=ADMIN)
    assert r.status_code == 200 and r.json()["added"] == len(live)
    assert client.post("/catalog/listings", json={"listings": [{"title": "x"}]},
                       headers=ADMIN).status_code == 400  # fmt: skip
    client.post("/entries", json={"entries": [entry], "reason": "re-issued"}, headers=ADMIN)
    deadline = time.monotonic() + 60
    sweep: dict = {}
    while time.monotonic() < deadline:
        r = client.get(f"/sweeps/{NEW_ID}", headers=ADMIN)
        sweep = r.json() if r.status_code == 200 else {}
        if sweep.get("status") in ("done", "failed"):
            break
        time.sleep(0.2)
    assert sweep["status"] == "done", sweep
    hit = next(h for h in sweep["hits"] if h["listing_id"] == "L-orb")
    assert hit["decision"] in ("block", "review")
    if hit["decision"] == "review":
        assert hit["review_item_id"] is not None
    feed = client.get(f"/sweeps?decision={hit['decision']}", headers=ADMIN).json()["hits"]
    assert "L-orb" in {h["listing_id"] for h in feed}
