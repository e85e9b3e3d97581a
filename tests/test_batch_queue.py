"""`BatchQueue`: batches queue first in, first out; one that would wait past the budget is refused
at once with a retry time, and refusing never loses or reorders admitted work."""

from __future__ import annotations

import threading

import pytest

from model.runtime.batch_queue import BatchQueue, Overloaded


def _gated() -> tuple[BatchQueue[int, int], threading.Event, list[list[int]]]:
    release = threading.Event()
    ran: list[list[int]] = []

    def work(items: list[int]) -> list[int]:
        release.wait(10)
        ran.append(items)
        return [i * 2 for i in items]

    # 100 items/s assumed: 10 s of budget is 1,000 queued items.
    return BatchQueue(work, workers=1, max_wait_s=10, initial_rate=100), release, ran


def test_batches_queue_in_order_and_all_finish() -> None:
    queue, release, ran = _gated()
    futures = [queue.submit(list(range(i * 100, i * 100 + 100))) for i in range(9)]
    assert queue.queued == 900
    release.set()
    results = [f.result(10) for f in futures]
    assert results == [[j * 2 for j in range(i * 100, i * 100 + 100)] for i in range(9)]
    assert [r[0] for r in ran] == [i * 100 for i in range(9)]
    assert queue.queued == 0 and queue.refused == 0
    queue.close()


def test_overload_is_refused_at_once_with_a_retry_time_and_loses_nothing() -> None:
    queue, release, _ = _gated()
    admitted = [queue.submit([0] * 256) for _ in range(3)]  # 768 items: 7.7 s at 100/s
    with pytest.raises(Overloaded) as refused:
        queue.submit([0] * 256)  # 1,024 items: 10.2 s > 10 s
    assert refused.value.queued == 768
    assert refused.value.retry_after == 8  # ceil(768 / 100)
    assert "retry in 8 s" in str(refused.value)
    assert queue.queued == 768 and queue.refused == 1
    release.set()
    assert all(len(f.result(10)) == 256 for f in admitted)
    assert len(queue.submit([1] * 256).result(10)) == 256  # room again once drained
    queue.close()


def test_an_empty_queue_admits_any_batch_and_errors_reach_the_caller() -> None:
    big = BatchQueue(lambda items: [x + 1 for x in items], max_wait_s=0.001, initial_rate=1)
    assert big.submit(list(range(5000))).result(10)[-1] == 5000

    def boom(items: list[int]) -> list[int]:
        raise ValueError("bad batch")

    failing = BatchQueue(boom)
    with pytest.raises(ValueError, match="bad batch"):
        failing.submit([1]).result(10)
    assert failing.queued == 0
    big.close()
    failing.close()


def test_rate_follows_completed_batches() -> None:
    queue = BatchQueue(lambda items: items, initial_rate=1.0)
    for _ in range(5):
        queue.submit(list(range(1000))).result(10)
    assert queue.rate > 100  # a no-op batch of 1,000 runs far faster than 1 item/s
    with pytest.raises(ValueError):
        BatchQueue(lambda items: items, workers=0)
    queue.close()
