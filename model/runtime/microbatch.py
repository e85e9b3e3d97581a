"""Natural micro-batching of single-item calls, for an endpoint that screens one listing.

Screening one listing alone wastes most of the machine: a transformer pass over one short title
costs several times its share of a batch, and the classifier's per-call overhead is paid per
listing. Concurrent callers therefore hand their item to a queue; a worker thread takes
whatever has queued up (at most `max_batch`) and runs one batched call. Nothing waits for a
batch to fill: an idle service answers a lone request at once, and batches grow by themselves
only when requests arrive faster than they are served, which is exactly when batching pays.
"""

from __future__ import annotations

import queue
import threading
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
    An exception from `fn` is delivered to every caller of that batch.
    """

    def __init__(
        self, fn: Callable[[list[T]], Sequence[R]], max_batch: int = 32, workers: int = 1
    ) -> None:
        if max_batch < 1 or workers < 1:
            raise ValueError("max_batch and workers must be at least 1")
        self.fn = fn
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[tuple[T, Future[R]] | None] = queue.SimpleQueue()
        self._closed = threading.Event()
        self.batches = 0
        self.items = 0
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
        while len(batch) < self.max_batch:
            try:
                nxt = self._queue.get_nowait()
            except queue.Empty:
                break
            if nxt is None:
                self._queue.put(None)  # leave the stop signal for this worker's next turn
                break
            batch.append(nxt)
        return batch, False

    def _run(self) -> None:
        while True:
            batch, stop = self._take()
            if stop:
                return
            live = [(item, f) for item, f in batch if f.set_running_or_notify_cancel()]
            if not live:
                continue
            try:
                results = list(self.fn([item for item, _ in live]))
                if len(results) != len(live):
                    raise RuntimeError(f"{len(live)} items but {len(results)} results")
            except BaseException as exc:
                for _, f in live:
                    f.set_exception(exc)
                continue
            for (_, f), result in zip(live, results, strict=True):
                f.set_result(result)
            with self._stats_lock:
                self.batches += 1
                self.items += len(live)
