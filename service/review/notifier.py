"""Takedown outbox delivery: confirmed decisions are POSTed to the platform's webhook.

A confirm writes an outbox row in the same transaction as the decision, so nothing is lost.
`TakedownNotifier.deliver_due` sends the rows that are due, one attempt each; a failure is
recorded (attempts, last_error) and retried later with exponential backoff; after
`max_attempts` the row is marked `failed` (visible at ``GET /review/api/takedowns`` and
``recallguard takedowns list``) until someone retries it. Each row is leased while it is being
sent, so several service workers never send the same row at once. The receiver gets an
``Idempotency-Key`` header and should treat repeats of it as one takedown (delivery is
at-least-once).
"""

from __future__ import annotations

import logging
import random
import threading
from datetime import timedelta

import httpx
from sqlalchemy import select, update

from model.validation import ValidationError, loads
from service.metrics import record_takedown_failure

from .errors import ConflictError, ItemNotFoundError
from .models import TAKEDOWN_STATES, takedown_outbox
from .queue import ReviewQueue
from .records import TakedownRecord

log = logging.getLogger(__name__)


def list_takedowns(
    queue: ReviewQueue, status: str | None = None, limit: int = 100
) -> list[TakedownRecord]:
    if status is not None and status not in TAKEDOWN_STATES:
        raise ValueError(f"status must be one of {', '.join(TAKEDOWN_STATES)}, got {status!r}")
    query = select(takedown_outbox).order_by(takedown_outbox.c.id.desc()).limit(limit)
    if status is not None:
        query = query.where(takedown_outbox.c.status == status)
    with queue.engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    return [TakedownRecord.from_row(r) for r in rows]


def retry_takedown(queue: ReviewQueue, takedown_id: int) -> TakedownRecord:
    """Put a `failed` row back to `pending`, due now (its attempt count is kept)."""
    now = queue.now()
    with queue.writer.begin() as conn:
        row = (
            conn.execute(select(takedown_outbox).where(takedown_outbox.c.id == takedown_id))
            .mappings()
            .first()
        )
        if row is None:
            raise ItemNotFoundError(f"no takedown {takedown_id}")
        if row["status"] != "failed":
            raise ConflictError(f"takedown {takedown_id} is {row['status']}, not failed")
        conn.execute(
            update(takedown_outbox)
            .where(takedown_outbox.c.id == takedown_id, takedown_outbox.c.status == "failed")
            .values(status="pending", next_attempt_at=now)
        )
        row = (
            conn.execute(select(takedown_outbox).where(takedown_outbox.c.id == takedown_id))
            .mappings()
            .one()
        )
    return TakedownRecord.from_row(row)


class TakedownNotifier:
    def __init__(
        self,
        queue: ReviewQueue,
        webhook_url: str | None,
        *,
        token: str | None = None,
        client: httpx.Client | None = None,
        max_attempts: int = 10,
        base_delay: float = 5.0,
        max_delay: float = 3600.0,
        jitter: float = 0.1,
        timeout: float = 10.0,
        send_lease: float = 120.0,
    ) -> None:
        self.queue = queue
        self.webhook_url = webhook_url
        self._token = token
        self._client = client or httpx.Client(timeout=timeout, follow_redirects=False)
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.jitter = jitter
        self.send_lease = send_lease
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def backoff(self, attempts: int) -> float:
        """Seconds to wait after the `attempts`-th failure: base * 2**(attempts-1), capped."""
        delay = min(self.max_delay, self.base_delay * (2 ** max(0, attempts - 1)))
        if self.jitter:
            delay *= random.uniform(1.0 - self.jitter, 1.0 + self.jitter)
        return delay

    def deliver_due(self, limit: int = 50) -> int:
        """One pass: one attempt for each due row. Returns how many were delivered."""
        if not self.webhook_url:
            return 0
        delivered = 0
        for takedown_id, payload, attempts in self._claim_due(limit):
            error = self._send(takedown_id, payload)
            self._record(takedown_id, attempts + 1, error)
            delivered += error is None
        return delivered

    def _claim_due(self, limit: int) -> list[tuple[int, str, int]]:
        now = self.queue.now()
        lease_until = now + timedelta(seconds=self.send_lease)
        t = takedown_outbox.c
        claimed: list[tuple[int, str, int]] = []
        with self.queue.writer.begin() as conn:
            rows = conn.execute(
                select(t.id, t.payload_json, t.attempts)
                .where(t.status == "pending", t.next_attempt_at <= now)
                .order_by(t.next_attempt_at, t.id)
                .limit(limit)
            ).all()
            for takedown_id, payload, attempts in rows:
                won = conn.execute(
                    update(takedown_outbox)
                    .where(t.id == takedown_id, t.status == "pending", t.next_attempt_at <= now)
                    .values(next_attempt_at=lease_until)
                ).rowcount
                if won == 1:
                    claimed.append((int(takedown_id), str(payload), int(attempts)))
        return claimed

    def _send(self, takedown_id: int, payload: str) -> str | None:
        assert self.webhook_url is not None
        try:  # rows written before NaN/Infinity were refused are not sent: they are not JSON
            loads(payload, "takedown payload")
        except ValidationError as exc:
            return str(exc)[:1000]
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": f"recallguard-takedown-{takedown_id}",
        }
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        try:
            response = self._client.post(self.webhook_url, content=payload, headers=headers)
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"[:1000]
        if 200 <= response.status_code < 300:
            return None
        return f"HTTP {response.status_code}: {response.text[:300]}"

    def _record(self, takedown_id: int, attempts: int, error: str | None) -> None:
        now = self.queue.now()
        values: dict[str, object] = {"attempts": attempts, "last_attempt_at": now}
        if error is None:
            values.update(status="delivered", delivered_at=now, next_attempt_at=now)
        elif attempts >= self.max_attempts:
            values.update(status="failed", last_error=error, next_attempt_at=now)
            record_takedown_failure(final=True)
            log.error(
                "takedown %s failed for good after %d attempts: %s", takedown_id, attempts, error
            )
        else:
            retry_at = now + timedelta(seconds=self.backoff(attempts))
            values.update(last_error=error, next_attempt_at=retry_at)
            record_takedown_failure(final=False)
            log.warning(
                "takedown %s attempt %d failed (%s); next try at %sZ",
                takedown_id,
                attempts,
                error,
                retry_at.isoformat(),
            )
        with self.queue.writer.begin() as conn:
            conn.execute(
                update(takedown_outbox).where(takedown_outbox.c.id == takedown_id).values(**values)
            )

    # -- background thread -------------------------------------------------------------------
    def start(self, interval: float = 5.0) -> None:
        """Deliver in a daemon thread every `interval` seconds until `stop()`."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, args=(interval,), name="takedown-notifier", daemon=True
        )
        self._thread.start()

    def _run(self, interval: float) -> None:
        while not self._stop.is_set():
            try:
                self.deliver_due()
            except Exception:  # keep the loop alive; the rows stay in the outbox
                log.exception("takedown delivery pass failed")
            self._stop.wait(interval)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def close(self) -> None:
        self.stop()
        self._client.close()


__all__ = ["TakedownNotifier", "list_takedowns", "retry_takedown"]
