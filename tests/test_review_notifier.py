"""Takedown outbox: confirms are delivered with retries and backoff; failures stay visible."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from service.review import TakedownNotifier, list_takedowns, retry_takedown
from service.review.queue import ReviewQueue
from tests.fakes import Clock, make_listing, make_verdict


@pytest.fixture
def queue(review_queue: ReviewQueue) -> ReviewQueue:
    return review_queue


def confirm_one(queue: ReviewQueue) -> int:
    item_id, _ = queue.enqueue(make_listing(), make_verdict())
    queue.decide(item_id, "alice", "confirm")
    return item_id


def test_only_confirms_reach_the_outbox(queue: ReviewQueue) -> None:
    a, _ = queue.enqueue(make_listing("a"), make_verdict())
    b, _ = queue.enqueue(make_listing("b"), make_verdict())
    queue.decide(a, "alice", "reject")
    queue.decide(b, "alice", "unsure")
    assert list_takedowns(queue) == []
    item_id = confirm_one(queue)
    [row] = list_takedowns(queue)
    assert (row.item_id, row.status, row.attempts) == (item_id, "pending", 0)
    assert row.payload["entry_id"] == "cpsc-10917"
    assert row.payload["listing"]["listing_id"] == "amz-B0CX1"
    assert row.payload["reviewer"] == "alice"


def test_retries_with_exponential_backoff_then_delivers(queue: ReviewQueue, clock: Clock) -> None:
    item_id = confirm_one(queue)
    seen: list[httpx.Request] = []
    answers = iter([503, 500, 200])

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(next(answers), text="busy")

    client = httpx.Client(transport=httpx.MockTransport(handler))
    notifier = TakedownNotifier(
        queue, "https://platform.example/takedowns", token="s3cret", client=client,
        base_delay=10, jitter=0,
    )  # fmt: skip
    assert notifier.deliver_due() == 0
    [row] = list_takedowns(queue)
    assert (row.status, row.attempts, row.last_error) == ("pending", 1, "HTTP 503: busy")
    assert row.next_attempt_at == clock.now + timedelta(seconds=10)
    assert notifier.deliver_due() == 0  # not due yet: nothing is sent
    assert len(seen) == 1
    clock.advance(10)
    assert notifier.deliver_due() == 0
    [row] = list_takedowns(queue)
    assert row.attempts == 2 and row.next_attempt_at == clock.now + timedelta(seconds=20)
    clock.advance(20)
    assert notifier.deliver_due() == 1
    [row] = list_takedowns(queue, "delivered")
    assert row.attempts == 3 and row.delivered_at == clock.now
    assert notifier.deliver_due() == 0 and len(seen) == 3
    body = json.loads(seen[-1].content)
    assert body["type"] == "takedown" and body["item_id"] == item_id
    assert seen[-1].headers["Idempotency-Key"] == "recallguard-takedown-1"
    assert seen[-1].headers["Authorization"] == "Bearer s3cret"


def test_failures_are_kept_and_can_be_retried(queue: ReviewQueue, clock: Clock) -> None:
    confirm_one(queue)

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    client = httpx.Client(transport=httpx.MockTransport(refuse))
    notifier = TakedownNotifier(
        queue, "https://platform.example/t", client=client, max_attempts=3, base_delay=1, jitter=0
    )
    for _ in range(3):
        notifier.deliver_due()
        clock.advance(3600)
    [row] = list_takedowns(queue, "failed")
    assert row.attempts == 3 and row.last_error == "ConnectError: connection refused"
    assert notifier.deliver_due() == 0  # failed rows wait for a person
    assert retry_takedown(queue, row.id).status == "pending"
    assert list_takedowns(queue, "pending")[0].attempts == 3


def test_no_webhook_configured_keeps_rows_pending(queue: ReviewQueue) -> None:
    confirm_one(queue)
    assert TakedownNotifier(queue, None).deliver_due() == 0
    assert list_takedowns(queue)[0].status == "pending"


def test_delivers_to_a_real_local_server(queue: ReviewQueue) -> None:
    received: list[dict[str, object]] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            received.append(json.loads(self.rfile.read(length)))
            self.send_response(202)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        item_id = confirm_one(queue)
        url = f"http://127.0.0.1:{server.server_address[1]}/takedowns"
        notifier = TakedownNotifier(queue, url, timeout=5)
        assert notifier.deliver_due() == 1
        notifier.close()
    finally:
        server.shutdown()
        server.server_close()
    assert received[0]["item_id"] == item_id
    assert list_takedowns(queue)[0].status == "delivered"
