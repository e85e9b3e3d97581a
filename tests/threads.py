"""Races on shared stores: one job started on several threads at the same instant."""

from __future__ import annotations

import threading
from collections.abc import Callable


def errors_when_run_together(
    n: int, job: Callable[[], object], timeout_s: float = 60.0
) -> list[BaseException]:
    """Run `job` on `n` threads released by one barrier; what each raised (empty: none did).

    Each thread is waited for up to `timeout_s` seconds.
    """
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def start() -> None:
        barrier.wait()
        try:
            job()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout_s)
    return errors
