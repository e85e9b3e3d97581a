"""The micro-batcher: every caller gets its own answer, batches form only under concurrency."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future

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


def _held(
    fn: Callable[[list[int]], list[int]], size: int
) -> tuple[MicroBatcher[int, int], Callable[[list[int]], list[Future[int]]], list[list[int]]]:
    """A batcher whose worker is held on a first item, so that `submit_all` queues one batch."""
    gate = threading.Event()
    calls: list[list[int]] = []

    def run(items: list[int]) -> list[int]:
        gate.wait(5)
        calls.append(list(items))
        return fn(items)

    batcher: MicroBatcher[int, int] = MicroBatcher(run, max_batch=size)
    held = batcher.submit(0)  # occupies the worker until the gate opens
    time.sleep(0.05)

    def submit_all(items: list[int]) -> list[Future[int]]:
        futures = [batcher.submit(i) for i in items]
        gate.set()
        assert held.result(5) == 0
        return futures

    return batcher, submit_all, calls


def test_one_failing_item_fails_only_its_caller_in_a_merged_batch() -> None:
    def fn(items: list[int]) -> list[int]:
        if -1 in items:
            raise ValueError("bad item")
        return [i * 10 for i in items]

    batcher, submit_all, calls = _held(fn, size=16)
    items = [1, 2, 3, 4, 5, -1, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]
    futures = submit_all(items)
    for item, f in zip(items, futures, strict=True):
        if item == -1:
            with pytest.raises(ValueError, match="bad item"):
                f.result(5)
        else:
            assert f.result(5) == item * 10
    assert calls[1] == items  # they were merged into one batch, which failed
    # Bisection: 16 -> 8 -> 4 -> 2 -> 1, each level one failing and one good half: 1 + 2 * 4.
    assert len(calls) - 1 == 9 and batcher.splits == 4
    assert batcher(5, timeout=5) == 50  # the batcher survives
    batcher.close()
    with pytest.raises(BatcherClosed):
        batcher.submit(1)


def test_a_fault_that_fails_every_item_reaches_every_caller_in_bounded_calls() -> None:
    def broken(items: list[int]) -> list[int]:
        if items != [0]:  # the item that holds the worker
            raise RuntimeError("index unavailable")
        return items

    batcher, submit_all, calls = _held(broken, size=8)
    futures = submit_all(list(range(1, 9)))
    for f in futures:
        with pytest.raises(RuntimeError, match="index unavailable"):
            f.result(5)
    assert len(calls) - 1 == 2 * 8 - 1  # every split of 8 down to single items, no more
    batcher.close()


class _Stop(BaseException):
    pass


def test_a_base_exception_reaches_every_caller_without_a_rerun() -> None:
    def fn(items: list[int]) -> list[int]:
        if 0 not in items:
            raise _Stop()
        return items

    batcher, submit_all, calls = _held(fn, size=4)
    futures = submit_all([1, 2, 3])
    for f in futures:
        with pytest.raises(_Stop):
            f.result(5)
    assert len(calls) == 2 and batcher.splits == 0
    batcher.close()


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


def test_a_lingering_batch_waits_for_as_many_callers_as_the_last_one_had() -> None:
    """Closed-loop callers return one by one; the batch waits for them (up to `linger_s`)."""
    gate = threading.Event()
    calls: list[list[int]] = []

    def run(items: list[int]) -> list[int]:
        gate.wait(5)
        calls.append(list(items))
        return items

    # A long linger, so that the test does not depend on how fast this thread submits.
    batcher: MicroBatcher[int, int] = MicroBatcher(run, max_batch=8, linger_s=30)
    first = batcher.submit(0)  # a lone caller: answered at once, no linger
    time.sleep(0.05)  # the worker now holds item 0 at the gate
    queued = [batcher.submit(i) for i in (1, 2, 3)]
    gate.set()
    assert first.result(5) == 0 and [f.result(5) for f in queued] == [1, 2, 3]
    # The last batch had three callers: the next batch waits for three, returning one by one.
    back = [batcher.submit(4)]
    time.sleep(0.05)
    back += [batcher.submit(5), batcher.submit(6)]
    assert [f.result(5) for f in back] == [4, 5, 6]
    assert calls == [[0], [1, 2, 3], [4, 5, 6]]
    batcher.close()


def test_a_negative_linger_is_refused() -> None:
    with pytest.raises(ValueError):
        MicroBatcher(lambda xs: xs, linger_s=-1)
