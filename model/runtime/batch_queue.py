"""A FIFO of whole batches with admission control, for an endpoint that screens many listings.

Under load a batch endpoint should queue work, not fail it; but a queue that grows past what the
machine can clear before the caller's timeout only turns a fast "try later" into a slow timeout.
`BatchQueue` therefore admits a batch while the estimated wait for it (listings already queued
plus its own, divided by the measured listings/s) stays within `max_wait_s`, and otherwise refuses
it at once with `Overloaded`, which says how long to wait (HTTP: 503 with `Retry-After`). A batch
that arrives at an empty queue is always admitted, however large: refusing it would help no one.

The rate is an exponentially weighted mean of completed batches' listings/s (`initial_rate`
until the first batch completes), so the estimate follows the machine's real, shared capacity.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

_SMOOTHING = 0.3  # weight of the newest batch in the rate estimate


class Overloaded(RuntimeError):
    """The queue cannot take this batch in time; `retry_after` is in whole seconds (>= 1)."""

    def __init__(self, queued: int, retry_after: int) -> None:
        super().__init__(
            f"the service is at capacity ({queued} listings queued); retry in {retry_after} s"
        )
        self.queued = queued
        self.retry_after = retry_after


class BatchQueue(Generic[T, R]):
    """Run `fn(batch) -> results` for submitted batches on `workers` threads, first in first out.

    `max_wait_s`: the longest estimated queueing + screening time a batch is admitted with
    (seconds; keep it below the HTTP timeout). `max_queued`: a hard cap on queued items.
    """

    def __init__(
        self,
        fn: Callable[[list[T]], Sequence[R]],
        workers: int = 1,
        max_wait_s: float = 20.0,
        max_queued: int = 16_384,
        initial_rate: float = 200.0,
    ) -> None:
        if workers < 1 or max_wait_s <= 0 or max_queued < 1 or initial_rate <= 0:
            raise ValueError("workers, max_wait_s, max_queued and initial_rate must be positive")
        self.fn = fn
        self.max_wait_s = max_wait_s
        self.max_queued = max_queued
        self._rate = float(initial_rate)
        self._queued = 0
        self._running = 0
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="batch-queue")
        self.refused = 0

    @property
    def queued(self) -> int:
        """Items admitted and not yet finished."""
        return self._queued

    @property
    def rate(self) -> float:
        """Current estimate of items finished per second."""
        return self._rate

    def submit(self, items: Sequence[T]) -> Future[list[R]]:
        """Queue one batch; raises `Overloaded` (and queues nothing) when it would wait too long."""
        batch = list(items)
        with self._lock:
            wait = (self._queued + len(batch)) / self._rate
            over = wait > self.max_wait_s or self._queued + len(batch) > self.max_queued
            if self._queued and over:
                self.refused += 1
                retry = max(1, math.ceil(self._queued / self._rate))
                raise Overloaded(self._queued, retry)
            self._queued += len(batch)
        try:
            return self._pool.submit(self._run, batch)
        except BaseException:
            with self._lock:
                self._queued -= len(batch)
            raise

    def _run(self, batch: list[T]) -> list[R]:
        start = time.perf_counter()
        with self._lock:
            self._running += 1
        try:
            results = list(self.fn(batch))
            if len(results) != len(batch):
                raise RuntimeError(f"{len(batch)} items but {len(results)} results")
            return results
        finally:
            seconds = time.perf_counter() - start
            with self._lock:
                # Batches running side by side share the machine: the service's rate is one
                # batch's rate times how many ran with it.
                observed = len(batch) / seconds * self._running if seconds > 0 else 0.0
                self._running -= 1
                self._queued -= len(batch)
                if observed > 0:
                    self._rate = (1 - _SMOOTHING) * self._rate + _SMOOTHING * observed

    def close(self) -> None:
        """Finish the batches already queued, then stop the workers."""
        self._pool.shutdown(wait=True)
