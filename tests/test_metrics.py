"""Prometheus metrics move when things happen (the real /metrics scrape is in test_serve.py)."""

from __future__ import annotations

from pathlib import Path

import httpx
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from service import metrics
from service.review import TakedownNotifier
from service.review.queue import ReviewQueue
from tests.test_review_queue import Clock, make_listing, make_verdict


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_refusals_are_counted_by_reason_and_seller_text_never_becomes_a_label() -> None:
    before = value("recallguard_refused_inputs_total", reason="non_finite")
    other = value("recallguard_refused_inputs_total", reason="other")
    metrics.record_refusal("non_finite")
    metrics.record_refusal("non_finite")
    metrics.record_refusal('Plush bear "}\n<script>')  # never a label
    assert value("recallguard_refused_inputs_total", reason="non_finite") == before + 2
    assert value("recallguard_refused_inputs_total", reason="other") == other + 1


def test_refusal_reasons_are_bounded() -> None:
    for n in range(metrics.MAX_REASONS + 5):
        metrics.record_refusal(f"reason_{n}")
    labels = {
        s.labels["reason"]
        for family in REGISTRY.collect()
        if family.name == "recallguard_refused_inputs"
        for s in family.samples
    }
    assert len(labels) <= metrics.MAX_REASONS + 1  # + "other"


def test_stage_timer_observes_even_when_the_block_raises() -> None:
    before = value("recallguard_screen_stage_seconds_count", stage="unit_test")
    try:
        with metrics.timed("unit_test"):
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert value("recallguard_screen_stage_seconds_count", stage="unit_test") == before + 1


def test_takedown_delivery_failures_are_counted(tmp_path: Path) -> None:
    clock = Clock()
    queue = ReviewQueue(f"sqlite:///{tmp_path / 'review.sqlite3'}", clock=clock)
    item_id, _ = queue.enqueue(make_listing(), make_verdict())
    queue.decide(item_id, "alice", "confirm")

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    client = httpx.Client(transport=httpx.MockTransport(refuse))
    notifier = TakedownNotifier(
        queue, "https://platform.example/t", client=client, max_attempts=2, base_delay=1, jitter=0
    )
    retrying = value("recallguard_takedown_delivery_failures_total", final="false")
    final = value("recallguard_takedown_delivery_failures_total", final="true")
    notifier.deliver_due()
    clock.advance(5)
    notifier.deliver_due()
    assert value("recallguard_takedown_delivery_failures_total", final="false") == retrying + 1
    assert value("recallguard_takedown_delivery_failures_total", final="true") == final + 1
    queue.close()


def test_queue_depth_is_read_from_the_queue(tmp_path: Path) -> None:
    queue = ReviewQueue(f"sqlite:///{tmp_path / 'review.sqlite3'}")
    for n in range(3):
        queue.enqueue(make_listing(f"Stacking toy {n}"), make_verdict())
    queue.claim_next("alice")
    text = metrics.queue_depth_text(queue.counts())
    [family] = list(text_string_to_metric_families(text))
    depth = {s.labels["state"]: s.value for s in family.samples}
    assert family.name == "recallguard_review_queue_depth" and family.type == "gauge"
    assert depth == {"pending": 2.0, "claimed": 1.0}
    queue.close()
