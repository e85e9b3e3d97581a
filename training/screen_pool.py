"""Screening a file on every core: one screener process per core, verdicts in input order.

One process screens at most about one core's worth of listings: the transformer runs on all
cores, but everything around it (preparing listings, pair features, the classifier, writing
JSON) is Python and holds the GIL, so the second core idles through about half of every batch.
A worker thread does not help (measured three times, with another job on the machine: encoding
the next chunk on a thread while this one is featurised ran 1.2-1.5x *slower* than not, as the
two threads fight over the GIL between torch ops). Separate
processes do: `ScreenPool` starts one `make_screener` per worker, each with one torch thread,
and hands them whole batches, so every core runs the full pipeline on its own batch.

The standard library's `ProcessPoolExecutor` does the work (spawned, not forked: torch's thread
pools do not survive a fork); `--engine ray` is the way to go past one machine. Listings go to
the workers and JSON lines come back; nothing a worker sends is kept on disk but those lines.
"""

from __future__ import annotations

import json
import multiprocessing
import os
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from model.schema import Listing

if TYPE_CHECKING:
    from model.matching.screener import Screener
    from model.matching.verdict import Verdict

# One verdict as written: its decision (for the summary) and its JSON line.
Line = tuple[str, str]

_SCREENER: Screener | None = None  # the worker process's own screener (`_start`)


class BatchRunner(Protocol):
    """Screens batches of listings; answers one list of `Line` per batch, in input order."""

    def map(self, batches: Iterable[list[Listing]]) -> Iterator[list[Line]]:
        """The lines of each batch, in the order the batches came."""
        ...


def lines_of(verdicts: Iterable[Verdict]) -> list[Line]:
    """(decision, JSON line) per verdict: what `recallguard screen` writes."""
    return [(v.decision, json.dumps(v.to_dict(), ensure_ascii=False) + "\n") for v in verdicts]


class InProcess:
    """The batches screened one after another by a screener in this process."""

    def __init__(self, screener: Screener) -> None:
        self.screener = screener

    def map(self, batches: Iterable[list[Listing]]) -> Iterator[list[Line]]:
        """Screen each batch as it comes."""
        for batch in batches:
            yield lines_of(self.screener.screen(batch))


def usable_cores() -> int:
    """CPUs this process may run on (its affinity, not the machine's count)."""
    return len(os.sched_getaffinity(0))


def _start(bundle_path: str, threads: int) -> None:
    # The worker's share of the machine is `threads` cores: torch's threads and OpenMP's (the
    # classifier's trees), set before torch and scikit-learn load.
    os.environ["OMP_NUM_THREADS"] = str(threads)
    from model.matching.bundle import Bundle
    from model.matching.cascade import make_screener
    from model.matching.encoder import SentenceTransformerEncoder
    from model.runtime.heap import freeze_loaded
    from model.settings import Settings

    settings = replace(Settings.from_env(), torch_threads=threads)
    path = Path(bundle_path)
    encoder = SentenceTransformerEncoder.load(path / "encoder", settings)
    global _SCREENER
    _SCREENER = make_screener(Bundle.load(path, encoder=encoder))
    freeze_loaded()


def _ready(_: int) -> int:
    assert _SCREENER is not None
    return os.getpid()


def _screen(batch: list[Listing]) -> list[Line]:
    assert _SCREENER is not None
    return lines_of(_SCREENER.screen(batch))


class ScreenPool:
    """`workers` screener processes on one bundle; a context manager.

    Construction returns once every worker has loaded the bundle, so start-up is paid before
    the first batch. At most `2 x workers` batches are in flight, so a file of any size is read
    as it is screened.

    :raises ValueError: `workers` < 1 or `threads` < 1; a worker could not load the bundle.
    """

    def __init__(self, bundle_path: str, workers: int, threads: int = 1) -> None:
        if workers < 1 or threads < 1:
            raise ValueError(f"workers and threads must be at least 1, got {workers}, {threads}")
        self.workers = workers
        self._pool = ProcessPoolExecutor(
            workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start,
            initargs=(bundle_path, threads),
        )
        try:
            self.pids = set(self._pool.map(_ready, range(workers)))
        except BrokenProcessPool as exc:
            self._pool.shutdown(cancel_futures=True)
            raise ValueError(
                f"a screener worker could not load the bundle {bundle_path} "
                "(run with --workers 1 to see why)"
            ) from exc
        except BaseException:
            self._pool.shutdown(cancel_futures=True)
            raise

    def map(self, batches: Iterable[list[Listing]]) -> Iterator[list[Line]]:
        """The lines of each batch in input order, batches screened `workers` at a time."""
        window: deque[Future[list[Line]]] = deque()
        for batch in batches:
            window.append(self._pool.submit(_screen, batch))
            if len(window) >= 2 * self.workers:
                yield window.popleft().result()
        while window:
            yield window.popleft().result()

    def close(self) -> None:
        """Stop the workers (pending batches are dropped)."""
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> ScreenPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
