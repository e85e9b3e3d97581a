"""Reviewer queue semantics on SQLite files and a real PostgreSQL server (`db_url` runs every
test on both): idempotency, leases, races (FOR UPDATE SKIP LOCKED on PostgreSQL), crashes, audit."""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from service.review import (
    AlreadyDecidedError,
    ClaimedByOtherError,
    InvalidDecisionError,
    ReviewQueue,
)
from tests.fakes import Clock, make_listing, make_verdict, tooybing

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def queue(review_queue: ReviewQueue) -> ReviewQueue:
    return review_queue


def test_db_file_is_created_in_wal_mode(tmp_path: Path) -> None:
    queue = ReviewQueue(f"sqlite:///{tmp_path / 'data' / 'review.sqlite3'}")
    assert (tmp_path / "data" / "review.sqlite3").exists()
    with queue.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    queue.close()


def test_enqueue_is_idempotent_per_listing_and_model(queue: ReviewQueue) -> None:
    first = queue.enqueue(make_listing(), make_verdict())
    assert first[1] is True
    assert queue.enqueue(make_listing(), make_verdict()) == (first[0], False)
    assert queue.enqueue(make_listing(), make_verdict("bundle-2025.07.01"))[1] is True
    assert queue.enqueue(make_listing(price=9.99), make_verdict())[1] is True
    assert queue.counts()["pending"] == 3
    item = queue.get(first[0])
    assert item.listing == make_listing()
    assert [c.entry_id for c in item.candidates] == ["cpsc-10917", "cpsc-10433"]
    assert item.candidates[0] == tooybing()
    assert item.probability == pytest.approx(0.64)
    assert item.model_version == "bundle-2025.06.01"
    assert [(a.from_state, a.to_state) for a in queue.audit_log(first[0])] == [(None, "pending")]


def test_manual_enqueue_always_adds_and_may_have_no_candidates(queue: ReviewQueue) -> None:
    a, created_a = queue.enqueue_manual(make_listing(), "staff-ann")
    b, created_b = queue.enqueue_manual(make_listing(), "staff-ann", [tooybing()], "from a tip")
    assert created_a and created_b and a != b
    assert queue.get(a).candidates == () and queue.get(a).source == "manual"
    assert queue.audit_log(b)[0].detail == "added by hand: from a tip"
    with pytest.raises(InvalidDecisionError):
        queue.decide(a, "alice", "confirm")  # nothing to confirm against
    assert queue.decide(a, "alice", "reject").entry_id is None


def test_lease_expiry_returns_the_item_to_the_pool(queue: ReviewQueue, clock: Clock) -> None:
    item_id, _ = queue.enqueue(make_listing(), make_verdict())
    claimed = queue.claim_next("alice", lease_seconds=300)
    assert claimed is not None and claimed.id == item_id and claimed.claimed_by == "alice"
    assert queue.claim_next("bob") is None
    assert queue.counts() == {"pending": 0, "claimed": 1, "decided_today": 0}
    clock.advance(120)
    again = queue.claim_next("alice")  # a page reload gives alice the same item back
    assert again is not None and again.id == item_id
    clock.advance(301)
    assert queue.counts()["pending"] == 1
    taken = queue.claim_next("bob")
    assert taken is not None and taken.id == item_id and taken.claimed_by == "bob"
    with pytest.raises(ClaimedByOtherError) as refused:
        queue.decide(item_id, "alice", "confirm")
    assert refused.value.status_code == 409
    clock.advance(45)
    record = queue.decide(item_id, "bob", "reject", entry_id="cpsc-10433", note="different toy")
    assert record.seconds_taken == pytest.approx(45)
    transitions = [(a.from_state, a.to_state, a.actor) for a in queue.audit_log(item_id)]
    assert transitions == [
        (None, "pending", "screener"),
        ("pending", "claimed", "alice"),
        ("claimed", "pending", "system"),
        ("pending", "claimed", "bob"),
        ("claimed", "decided", "bob"),
    ]


def test_decided_items_are_final(queue: ReviewQueue) -> None:
    item_id, _ = queue.enqueue(make_listing(), make_verdict())
    assert queue.claim_next("alice") is not None
    record = queue.decide(item_id, "alice", "confirm")
    assert record.entry_id == "cpsc-10917"  # the top candidate by default
    for who in ("alice", "bob"):
        with pytest.raises(AlreadyDecidedError) as refused:
            queue.decide(item_id, who, "reject")
        assert refused.value.status_code == 409
    with pytest.raises(InvalidDecisionError):
        queue.decide(item_id, "alice", "maybe")
    item = queue.get(item_id)
    assert item.state == "decided" and item.decision is not None
    assert item.decision.decision == "confirm" and item.decision.reviewer == "alice"
    assert queue.claim_next("bob") is None
    assert queue.counts() == {"pending": 0, "claimed": 0, "decided_today": 1}


def test_unknown_entry_is_refused(queue: ReviewQueue) -> None:
    item_id, _ = queue.enqueue(make_listing(), make_verdict())
    with pytest.raises(InvalidDecisionError, match="not one of"):
        queue.decide(item_id, "alice", "confirm", entry_id="cpsc-99999")
    assert queue.get(item_id).state == "pending"


def test_two_reviewers_never_share_an_item(db_url: str) -> None:
    setup = ReviewQueue(db_url)
    ids = {
        setup.enqueue(make_listing(f"Stacking toy no. {n}"), make_verdict())[0] for n in range(40)
    }
    barrier = threading.Barrier(6)
    taken: dict[str, list[int]] = {}
    errors: list[BaseException] = []

    def work(name: str) -> None:
        queue = ReviewQueue(db_url)  # its own pool, as a second worker process would have
        mine: list[int] = []
        try:
            barrier.wait()
            while (item := queue.claim_next(name)) is not None:
                mine.append(item.id)
                queue.decide(item.id, name, "reject")
        except BaseException as exc:
            errors.append(exc)
        taken[name] = mine
        queue.close()

    threads = [threading.Thread(target=work, args=(f"reviewer-{n}",)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    claimed = [i for mine in taken.values() for i in mine]
    assert len(claimed) == len(set(claimed)) == 40
    assert set(claimed) == ids
    assert setup.counts()["decided_today"] == 40
    setup.close()


def test_one_item_many_claimers(queue: ReviewQueue) -> None:
    queue.enqueue(make_listing(), make_verdict())
    barrier = threading.Barrier(8)
    results: list[int | None] = []

    def grab(n: int) -> None:
        barrier.wait()
        item = queue.claim_next(f"r{n}")
        results.append(None if item is None else item.id)

    threads = [threading.Thread(target=grab, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(r for r in results if r is not None) == [1]
    assert results.count(None) == 7


CRASH = """
import os, sys
from service.review import ReviewQueue
queue = ReviewQueue(sys.argv[1])
item = queue.claim_next("crashing-reviewer", lease_seconds=60)
print(item.id, flush=True)
os._exit(17)
"""


def test_killed_process_between_claim_and_decide_loses_nothing(db_url: str) -> None:
    setup = ReviewQueue(db_url)
    item_id, _ = setup.enqueue(make_listing(), make_verdict())
    setup.close()
    proc = subprocess.run(
        [sys.executable, "-c", CRASH, db_url], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 17, proc.stderr
    assert int(proc.stdout.strip()) == item_id
    now = ReviewQueue(db_url)
    assert now.get(item_id).claimed_by == "crashing-reviewer"
    assert now.claim_next("bob") is None  # the dead process's lease is still live
    later = ReviewQueue(db_url, clock=lambda: datetime.now(UTC) + timedelta(seconds=61))
    item = later.claim_next("bob")
    assert item is not None and item.id == item_id
    later.decide(item_id, "bob", "confirm")
    states = [(a.from_state, a.to_state, a.actor) for a in later.audit_log(item_id)]
    assert states[1:] == [
        ("pending", "claimed", "crashing-reviewer"),
        ("claimed", "pending", "system"),
        ("pending", "claimed", "bob"),
        ("claimed", "decided", "bob"),
    ]
    now.close()
    later.close()


def test_postgres_claim_skips_a_row_locked_by_another_claimer(pg_url: str, clock: Clock) -> None:
    """FOR UPDATE SKIP LOCKED: a claimer passes over the row another transaction holds instead
    of waiting for it, and the row is claimable again once that transaction ends."""
    queue = ReviewQueue(pg_url, clock=clock)
    first, _ = queue.enqueue(make_listing("Stacking toy one"), make_verdict())
    second, _ = queue.enqueue(make_listing("Stacking toy two"), make_verdict())
    holder = queue.engine.connect()
    holder.begin()
    locked = holder.exec_driver_sql(
        "SELECT id FROM review_items WHERE state = 'pending' ORDER BY created_at, id "
        "LIMIT 1 FOR UPDATE"
    ).scalar()
    assert locked == first
    got: list[int | None] = []
    claimer = threading.Thread(
        target=lambda: got.append(getattr(queue.claim_next("bob"), "id", None))
    )
    claimer.start()
    claimer.join(20)
    alive = claimer.is_alive()
    holder.rollback()
    holder.close()
    claimer.join(20)
    assert not alive, "the claim waited for the locked row instead of skipping it"
    assert got == [second]
    again = queue.claim_next("carol")
    assert again is not None and again.id == first
    queue.close()
