"""Reviewer decisions come back as labelled training pairs (the retraining JSONL format)."""

from __future__ import annotations

import json
from pathlib import Path

from service.review import ReviewQueue, export_labels
from tests.fakes import Clock, make_listing, make_verdict


def test_export_labels(tmp_path: Path, clock: Clock, review_queue: ReviewQueue) -> None:
    queue = review_queue
    old, _ = queue.enqueue(make_listing("Old listing"), make_verdict())
    queue.decide(old, "alice", "confirm")
    clock.advance(86400)
    since = clock.now
    confirmed, _ = queue.enqueue(make_listing(), make_verdict())
    rejected, _ = queue.enqueue(make_listing("Rainbow rings"), make_verdict())
    unsure, _ = queue.enqueue(make_listing("Mystery beads"), make_verdict())
    queue.decide(confirmed, "alice", "confirm")
    queue.decide(rejected, "bob", "reject", entry_id="cpsc-10433")
    queue.decide(unsure, "bob", "unsure")
    out = tmp_path / "labels" / "review.jsonl"
    assert export_labels(queue, since, out) == 3
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows[0] == {
        "listing": make_listing().to_dict(),
        "entry": {"entry_id": "cpsc-10917"},
        "label": 1,
        "source": "review",
        "decided_at": since.isoformat(),
        "reviewer": "alice",
    }
    assert [(r["listing"]["title"], r["entry"]["entry_id"], r["label"]) for r in rows[1:]] == [
        ("Rainbow rings", "cpsc-10917", 0),
        ("Rainbow rings", "cpsc-10433", 0),
    ]
    assert all(r["reviewer"] == "bob" for r in rows[1:])
    queue.close()
