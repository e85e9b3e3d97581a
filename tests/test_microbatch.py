"""The micro-batcher: every caller gets its own answer, batches form only under concurrency."""

from __future__ import annotations

import threading
import time

import pytest

from model.runtime.microbatch import BatcherClosed, MicroBatcher


def test_each_caller_gets_its_own_result_and_batches_form_under_load() -> None:
    seen: list[int] = []

    def slow_square(items: list[int]) -> list[int]:
        seen.append(len(items))
        time.sleep(0.01)
        return [i * i for i in items]

    batcher: MicroBatcher[int, int] = MicroBatcher(slow_square, max_batch=8)
    futures = [batcher.submit(i) for i in range(40)]
    assert [f.result(5) for f in futures] == [i * i for i in range(40)]
    assert max(seen) == 8 and sum(seen) == 40
    assert batcher.mean_batch > 1
    batcher.close()


def test_a_lone_request_is_answered_without_waiting_for_a_batch() -> None:
    batcher: MicroBatcher[str, str] = MicroBatcher(lambda xs: [x.upper() for x in xs])
    start = time.perf_counter()
    assert batcher("abc", timeout=5) == "ABC"
    assert time.perf_counter() - start < 0.5
    batcher.close()


def test_an_error_reaches_every_caller_of_that_batch_and_the_batcher_survives() -> None:
    gate = threading.Event()

    def fn(items: list[int]) -> list[int]:
        gate.wait(5)
        if -1 in items:
            raise ValueError("bad item")
        return items

    batcher: MicroBatcher[int, int] = MicroBatcher(fn, max_batch=4)
    first = batcher.submit(0)  # occupies the worker until the gate opens
    time.sleep(0.05)
    bad = [batcher.submit(-1), batcher.submit(7)]  # queued together: one batch
    gate.set()
    assert first.result(5) == 0
    for f in bad:
        with pytest.raises(ValueError, match="bad item"):
            f.result(5)
    assert batcher(5, timeout=5) == 5
    batcher.close()
    with pytest.raises(BatcherClosed):
        batcher.submit(1)


def test_two_workers_run_batches_in_parallel() -> None:
    running, peak = [0], [0]
    lock = threading.Lock()

    def fn(items: list[int]) -> list[int]:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.05)
        with lock:
            running[0] -= 1
        return items

    batcher: MicroBatcher[int, int] = MicroBatcher(fn, max_batch=1, workers=2)
    assert [f.result(5) for f in [batcher.submit(i) for i in range(6)]] == list(range(6))
    assert peak[0] == 2
    batcher.close()
