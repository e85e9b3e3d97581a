"""Natural micro-batching of single-item calls, for an endpoint that screens one listing.

Screening one listing alone wastes most of the machine: a transformer pass over one short title
costs several times its share of a batch, and the classifier's per-call overhead is paid per
listing. Concurrent callers therefore hand their item to a queue; a worker thread takes
whatever has queued up (at most `max_batch`) and runs one batched call. Nothing waits for a
batch to fill: an idle service answers a lone request at once, and batches grow by themselves
only when requests arrive faster than they are served, which is exactly when batching pays.

Closed-loop callers (each sends its next request when its answer comes) come back one by one
after a batch is answered, so a batcher that starts on the first to return splits them into a
small batch and a large one, and most wait for both. `linger_s` lets a batch wait, at most that
long, for as many items as the previous batch had: a lone caller (previous batch of one) never
waits. Measured on the 2-core development machine with 8 clients on /screen: mean batch 4.2 ->
7.9 and p50 47 -> 40 ms with a 12 ms linger (benchmarks/throughput.py --http-only).

A merged batch belongs to many callers, so one caller's item must not fail the others: when
`fn` raises on a batch of several items, the batch is split in halves and each half re-run,
down to single items, and only the items that still fail get the exception. One failing item
among n costs about 2*log2(n) extra calls (32 items: 10); a fault that fails every item costs
2n - 1 calls in all, each of which fails. `fn` must therefore be safe to re-run (screening is:
it reads the bundle and changes nothing).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class BatcherClosed(RuntimeError):
    """The batcher was closed; no further items are accepted."""


class MicroBatcher(Generic[T, R]):
    """Run `fn(list_of_items) -> list_of_results` over items submitted one at a time.

    `workers` batches may run at once (one per core when each uses a single torch thread).
    An `Exception` from `fn` reaches only the callers whose own item fails when re-run (see
    the module docstring); `splits` counts the failed multi-item calls that were split. Any
    other `BaseException` (KeyboardInterrupt, SystemExit) reaches every caller of the batch.
    `batches` and `items` count the calls of `fn` that succeeded and the items they answered.
    `linger_s` (default 0: never wait) is the longest a batch waits for as many items as the
    previous batch had (see the module docstring).
    """

    def __init__(
        self,
        fn: Callable[[list[T]], Sequence[R]],
        max_batch: int = 32,
        workers: int = 1,
        linger_s: float = 0.0,
    ) -> None:
        if max_batch < 1 or workers < 1:
            raise ValueError("max_batch and workers must be at least 1")
        if linger_s < 0:
            raise ValueError("linger_s must not be negative")
        self.fn = fn
        self.max_batch = max_batch
        self.linger_s = linger_s
        self._last_size = 1  # the last batch's size, any worker's, read by `_take` (a hint only)
        self._queue: queue.SimpleQueue[tuple[T, Future[R]] | None] = queue.SimpleQueue()
        self._closed = threading.Event()
        self.batches = 0
        self.items = 0
        self.splits = 0
        self._stats_lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._run, name=f"microbatch-{i}", daemon=True)
            for i in range(workers)
        ]
        for t in self._threads:
            t.start()

    def submit(self, item: T) -> Future[R]:
        """Queue `item` for the next batch; the future gets its result or the batch's error.

        :raises BatcherClosed: after `close`.
        """
        if self._closed.is_set():
            raise BatcherClosed("the batcher is closed")
        future: Future[R] = Future()
        self._queue.put((item, future))
        return future

    def __call__(self, item: T, timeout: float | None = None) -> R:
        """`submit` and wait up to `timeout` seconds (None: forever) for the result."""
        return self.submit(item).result(timeout)

    @property
    def mean_batch(self) -> float:
        """Items per batch so far (0.0 before the first batch)."""
        return self.items / self.batches if self.batches else 0.0

    def close(self) -> None:
        """Stop the workers after the items already queued; later submits raise."""
        self._closed.set()
        for _ in self._threads:
            self._queue.put(None)
        for t in self._threads:
            t.join()

    def _take(self) -> tuple[list[tuple[T, Future[R]]], bool]:
        first = self._queue.get()
        if first is None:
            return [], True
        batch = [first]
        wanted = min(self._last_size, self.max_batch)
        deadline = time.monotonic() + self.linger_s
        while len(batch) < self.max_batch:
            left = deadline - time.monotonic()
            try:
                if len(batch) < wanted and left > 0:
                    nxt = self._queue.get(timeout=left)
                else:
                    nxt = self._queue.get_nowait()
            except queue.Empty:
                break
            if nxt is None:
                self._queue.put(None)  # leave the stop signal for this worker's next turn
                break
            batch.append(nxt)
        self._last_size = len(batch)
        return batch, False

    def _run(self) -> None:
        while True:
            batch, stop = self._take()
            if stop:
                return
            live = [(item, f) for item, f in batch if f.set_running_or_notify_cancel()]
            if live:
                self._settle(live)

    def _settle(self, live: list[tuple[T, Future[R]]]) -> None:
        """Answer every future in `live`: run `fn` once, and on an error split and re-run."""
        try:
            results = list(self.fn([item for item, _ in live]))
            if len(results) != len(live):
                raise RuntimeError(f"{len(live)} items but {len(results)} results")
        except Exception as exc:
            if len(live) == 1:
                live[0][1].set_exception(exc)
                return
            with self._stats_lock:
                self.splits += 1
            half = len(live) // 2
            self._settle(live[:half])
            self._settle(live[half:])
            return
        except BaseException as exc:  # not the items' fault: no re-run
            for _, f in live:
                f.set_exception(exc)
            return
        for (_, f), result in zip(live, results, strict=True):
            f.set_result(result)
        with self._stats_lock:
            self.batches += 1
            self.items += len(live)
