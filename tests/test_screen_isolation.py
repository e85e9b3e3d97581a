"""Issue 11: one client's input never fails another client's request, even when screening it
raises deep in matching (not a validation error: a fault of the server on that listing).

Concurrent `/screen` calls are merged into one screening batch by the micro-batcher; each of its
workers is held on a first listing so that the calls under test queue up and are screened
together.
Concurrent `/screen_batch` calls queue as one batch each (`BatchQueue`), never merged; the
second test keeps it that way. The fault is injected at `Screener.candidate_sets`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from starlette.testclient import TestClient

from model.matching.screener import Screener
from model.runtime.microbatch import MicroBatcher
from model.schema import Listing
from service.service import SCREEN_WORKERS

POISON = "Glitter slime kit poison-7731"
HOLDS = [f"Hold worker {i} wooden puzzle" for i in range(SCREEN_WORKERS)]
GOOD = [
    "TooyBing Wooden Bead Stacking Toys",
    "Schleich Tinker Mare",
    "Lego Duplo Zoo",
    "Wooden stacking toy for toddlers",
    "Hornby 2014 Catalogue",
    "Plush teddy bear 30 cm",
    "Rainbow stacking rings teether",
]


class MatchingFault(RuntimeError):
    """What a bug deep in matching raises for one listing."""


class Poisoned:
    """`Screener.candidate_sets` that raises for a batch holding the poison title and, while it
    screens a hold title, waits for that title's `release`; records the titles of every call."""

    def __init__(self, original: Callable[..., Any]) -> None:
        self.original = original
        self.holding = {title: threading.Event() for title in HOLDS}
        self.release = {title: threading.Event() for title in HOLDS}
        self.calls: list[list[str]] = []

    def __call__(self, screener: Screener, listings: Sequence[Listing]) -> Any:
        titles = [x.title for x in listings]
        self.calls.append(titles)
        held = [t for t in HOLDS if t in titles]
        for title in held:
            self.holding[title].set()
            assert self.release[title].wait(30)
        if POISON in titles:
            raise MatchingFault(f"feature extraction failed on a batch of {len(titles)}")
        return self.original(screener, listings)


@pytest.fixture
def client(service_client: TestClient) -> TestClient:
    return service_client


def _fault_logs(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        r for r in caplog.records
        if r.exc_info and isinstance(r.exc_info[1], MatchingFault)
    ]  # fmt: skip


def _same(verdict: dict[str, Any], alone: dict[str, Any]) -> None:
    assert verdict["decision"] == alone["decision"], (verdict, alone)
    assert verdict["probability"] == pytest.approx(alone["probability"], abs=1e-4)
    match, expected = verdict["match"], alone["match"]
    assert (match and match["entry_id"]) == (expected and expected["entry_id"])


def test_a_listing_that_breaks_matching_fails_only_its_own_screen_call(
    client: TestClient,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    alone: dict[str, Any] = {}
    for title in GOOD:  # each screened alone first: the verdicts the merged calls must match
        r = client.post("/screen", json={"listing": {"title": title}})
        assert r.status_code == 200, r.text
        alone[title] = r.json()

    spy = Poisoned(Screener.candidate_sets)
    monkeypatch.setattr(Screener, "candidate_sets", lambda self, xs: spy(self, xs))
    submitted = [0]
    submit = MicroBatcher.submit

    def counting_submit(self: Any, item: Any) -> Any:
        submitted[0] += 1
        return submit(self, item)

    monkeypatch.setattr(MicroBatcher, "submit", counting_submit)
    titles = [*GOOD[:3], POISON, *GOOD[3:]]

    def call(title: str) -> Any:
        return client.post("/screen", json={"listing": {"title": title}})

    pool_size = len(titles) + len(HOLDS)
    with caplog.at_level(logging.ERROR), ThreadPoolExecutor(max_workers=pool_size) as pool:
        held = []
        for hold in HOLDS:  # one at a time, so each occupies its own worker
            held.append(pool.submit(call, hold))
            assert spy.holding[hold].wait(30), "a hold listing never reached the screener"
        futures = [pool.submit(call, t) for t in titles]
        deadline = time.monotonic() + 30
        while submitted[0] < len(HOLDS) + len(titles) and time.monotonic() < deadline:
            time.sleep(0.01)
        # One worker is freed and takes every queued call as one batch; the others stay held
        # until that batch has started, so none of them can take a share of the queue.
        spy.release[HOLDS[0]].set()
        while len(spy.calls) <= len(HOLDS) and time.monotonic() < deadline:
            time.sleep(0.01)
        for hold in HOLDS[1:]:
            spy.release[hold].set()
        answers = dict(zip(titles, [f.result(60) for f in futures], strict=True))
        assert all(h.result(60).status_code == 200 for h in held)

    merged = spy.calls[len(HOLDS)]
    assert sorted(merged) == sorted(titles), spy.calls  # all merged into one batch
    for title in GOOD:
        r = answers[title]
        assert r.status_code == 200, (title, r.text)
        _same(r.json(), alone[title])
    bad = answers[POISON]
    assert bad.status_code == 500, bad.text  # a fault of the server, not of the request
    body = bad.json()
    assert set(body) == {"error", "detail"} and all(isinstance(v, str) for v in body.values())
    assert "Traceback" not in bad.text and "poison" not in bad.text.lower()
    assert len(_fault_logs(caplog)) == 1, [r.getMessage() for r in _fault_logs(caplog)]


def test_a_listing_that_breaks_matching_fails_only_its_own_screen_batch_call(
    client: TestClient,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    spy = Poisoned(Screener.candidate_sets)
    for release in spy.release.values():
        release.set()
    monkeypatch.setattr(Screener, "candidate_sets", lambda self, xs: spy(self, xs))
    good = {"listings": [{"title": t} for t in GOOD]}
    bad = {"listings": [{"title": GOOD[0]}, {"title": POISON}]}
    bodies = [bad if i == 3 else good for i in range(8)]
    with caplog.at_level(logging.ERROR), ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda b: client.post("/screen_batch", json=b), bodies))
    statuses = [r.status_code for r in answers]
    assert statuses == [500 if i == 3 else 200 for i in range(8)], statuses
    for r in answers[:3] + answers[4:]:
        assert [v["decision"] for v in r.json()] == [v["decision"] for v in answers[0].json()]
    assert len(_fault_logs(caplog)) == 1
