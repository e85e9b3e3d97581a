"""The BentoML service: load the bundle once per worker, screen listings over HTTP.

The bundle is declared on the class as a `BentoModel` (the promoted bundle, else the latest, or
the store tag `RECALLGUARD_BUNDLE` names), so `bentoml build` (bentofile.yaml) packs it into the
Bento. `RECALLGUARD_BUNDLE` naming a folder serves that folder instead and declares nothing.
Listings in the `review` band go to the reviewer queue, served by the same process at
`/review`; confirmed decisions flow out as takedowns through the notifier.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated, Any

import bentoml
from pydantic import Field
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse

from model.matching.screener import Screener
from model.matching.verdict import Verdict
from model.runtime.batch_queue import BatchQueue, Overloaded
from model.runtime.heap import freeze_loaded
from model.runtime.microbatch import MicroBatcher
from model.runtime.registry import declared_tag
from model.schema import Listing
from model.settings import Settings, SettingsError
from service import log_filters, metrics
from service.admin_api import create_admin_app
from service.edge import Edge
from service.live_screening import LiveScreening
from service.openapi_errors import DocumentedErrors
from service.review import ReviewQueue, create_review_app
from service.schemas import MAX_BATCH, ListingIn, VerdictOut, verdict_out
from service.worker import bundle_path, open_keys, open_live_screening, open_review

log = logging.getLogger("recallguard")
log_filters.install()  # a client's bad request is a WARNING line, not an ERROR with its input
# Generous for batch work: 12 concurrent 256-listing /screen_batch calls are ~3,000 listings,
# seconds on a quiet 2-core machine, tens of seconds on a busy one.
REQUEST_TIMEOUT_S = 60
# Longest estimated wait a /screen_batch call is admitted with: below the request timeout, so a
# queued call finishes rather than timing out (504) after doing the work.
BATCH_WAIT_S = 0.75 * REQUEST_TIMEOUT_S
# How long a /screen micro-batch waits for as many callers as the previous batch had (a lone
# caller never waits; model.runtime.microbatch). Measured with 8 clients on the 2-core machine:
# callers come back over ~10 ms after a batch; 12 ms took the mean batch from 4.2 to 7.9.
SCREEN_LINGER_S = 0.012
# Micro-batches of /screen calls screened at once (see `RecallGuard._start`).
SCREEN_WORKERS = 2


def _tracing() -> dict[str, Any]:
    """BentoML's tracing config: spans off the screening routes unless asked for.

    Measured (benchmarks/throughput.py --http-only, 8 clients): OpenTelemetry took 30% of the
    event loop's CPU per /screen call under cProfile, about 1 ms a call without it; with no
    exporter configured nothing is collected. A bad environment is reported at /readyz by the
    worker's start-up, so here it only means the default.
    """
    try:
        keep = Settings.from_env().trace_screening
    except SettingsError:
        keep = False
    return {} if keep else {"excluded_urls": ["/screen", "/screen_batch"]}


def _started(name: str) -> Any:
    found = getattr(bentoml.get_current_service(), name, None)
    if found is None:  # start-up failed; /readyz says why
        raise HTTPException(503, "the service could not start; see /readyz", {"Retry-After": "30"})
    return found


review_app = create_review_app(lambda: _started("review_queue"), lambda: _started("keys"))
admin_app = create_admin_app(
    lambda: bentoml.get_current_service().live,
    lambda: _started("keys"),
)
_TAG = declared_tag()


@bentoml.asgi_app(admin_app, path="/admin")
@bentoml.asgi_app(review_app, path="/review")
@bentoml.service(
    name="recallguard",
    # One OpenMP thread per call, set in the worker's environment before torch or scikit-learn
    # load (a value already in the environment wins). On a shared 2-core machine an OpenMP team
    # that loses a core stalls at every barrier (measured: torch on 2 threads took /screen p99 at
    # 8 clients from ~0.1 s to 1.8 s; scikit-learn's trees open one parallel region per tree).
    # Throughput comes from batching instead, and the other core serves HTTP.
    envs=[
        {"name": "OMP_NUM_THREADS", "value": "1"},
        {"name": "RECALLGUARD_TORCH_THREADS", "value": "1"},
    ],
    workers=1,
    threads=4,
    traffic={"timeout": REQUEST_TIMEOUT_S, "max_concurrency": 128},
    tracing=_tracing(),
)
class RecallGuard:
    """Screens marketplace listings against the recall blocklist."""

    bundle = bentoml.models.BentoModel(_TAG) if _TAG else None

    def __init__(self) -> None:
        self.live: LiveScreening | None = None
        self.review_queue: ReviewQueue | None = None
        # A start-up failure (a bad bundle, an outdated database) keeps the worker up and not
        # ready, with the reason at /readyz: raising here makes the server respawn the worker
        # in a loop while the port accepts connections and never answers.
        self.startup_error: str | None = None
        try:
            self._start()
        except Exception as exc:
            self.startup_error = f"{type(exc).__name__}: {exc}"
            log.exception("RecallGuard cannot serve: %s", self.startup_error)

    def _start(self) -> None:
        # Concurrent /screen calls are screened together, two batches at a time, each with
        # torch on one thread. Measured with the scripted encoder pass (packed_forward), /screen
        # at 8 clients, quick runs: p50/p99 58.9/95.1 and 58.0/98.0 ms against 60.4/102.0 and
        # 65.1/108.9 with one worker; 32 clients p50 159-166 against 185-226 ms. (With the pass
        # written in Python, a second worker had widened the tail.)
        self.batcher: MicroBatcher[Listing, Verdict] = MicroBatcher(
            lambda items: self._screen_timed(items),
            max_batch=32,
            workers=SCREEN_WORKERS,
            linger_s=SCREEN_LINGER_S,
        )
        # /screen_batch calls queue here (first in, first out) instead of failing under load;
        # one that could not finish within the request timeout gets a 503 with Retry-After.
        self.batch_queue: BatchQueue[Listing, Verdict] = BatchQueue(
            self._screen_timed, workers=2, max_wait_s=BATCH_WAIT_S
        )
        settings = Settings.from_env()
        self.keys = open_keys(settings)
        self.review_queue, self.notifier = open_review(settings)
        path = bundle_path(settings, type(self).bundle)  # the declaration, resolved if used
        # LiveScreening keeps the screener in step with run-time blocklist changes.
        self.live = open_live_screening(settings, path, self.review_queue)
        # The bundle is millions of long-lived objects: frozen, collections skip them (a full
        # collection would otherwise pause whichever request triggers it).
        freeze_loaded()

    @bentoml.on_shutdown
    def shutdown(self) -> None:
        """Stop the background threads (batcher, blocklist poller, sweeper, notifier)."""
        for part in ("batcher", "live", "notifier", "review_queue"):  # some, if start-up failed
            if getattr(self, part, None) is not None:
                getattr(self, part).close()

    @property
    def screener(self) -> Screener | None:
        """The current screener; a blocklist change swaps it, so read it once per request."""
        return None if self.live is None else self.live.screener

    def __is_ready__(self) -> bool:
        if self.startup_error is not None:  # BentoML answers /readyz 503 with this detail
            raise HTTPException(503, f"not ready: {self.startup_error}")
        return self.screener is not None

    def _screener(self) -> Screener:
        if self.screener is None:
            reason = "the model bundle is still loading"
            if self.startup_error is not None:
                reason = "the service could not start; see /readyz"
            raise bentoml.exceptions.ServiceUnavailable(reason)
        return self.screener

    @staticmethod
    def _overloaded(exc: Overloaded) -> Any:
        # A clear 503 the platform can act on (BentoML's own 5xx body says "unexpected error").
        headers = {"Retry-After": str(exc.retry_after)}
        return JSONResponse({"error": str(exc)}, status_code=503, headers=headers)

    def _screen_timed(self, listings: list[Listing]) -> list[Verdict]:
        with metrics.timed("model"):
            return self._screener().screen(listings)

    def __metrics__(self, content: str) -> str:
        """BentoML's /metrics hook: append the review queue's depth, read at scrape time."""
        if self.review_queue is None:
            return content
        try:
            return content + metrics.queue_depth_text(self.review_queue.counts())
        except SQLAlchemyError:
            log.warning("queue depth unavailable for /metrics", exc_info=True)
            return content

    def _out(self, listing: Listing, verdict: Verdict) -> VerdictOut:
        metrics.record_decision(verdict.decision)
        return verdict_out(verdict, self._enqueue(listing, verdict))

    def _enqueue(self, listing: Listing, verdict: Verdict) -> int | None:
        # A failed enqueue fails the request (503) so the platform retries: never lose an item.
        if verdict.decision != "review":
            return None
        assert self.review_queue is not None  # set whenever a screener is
        with metrics.timed("review_enqueue"):
            item_id, _ = self.review_queue.enqueue(listing, verdict)
        return int(item_id)

    @bentoml.api(route="/screen")
    async def screen(self, listing: ListingIn) -> VerdictOut:
        """Screen one listing: block, review or allow, with the matching recall and why.

        A body over the body limit (`RECALLGUARD_MAX_BODY_BYTES`, default 4 MiB) gets 413.
        """
        item = listing.to_listing()
        self._screener()  # 503 while loading, before queueing
        with metrics.timed("screen"):
            verdict = await asyncio.wrap_future(self.batcher.submit(item))
            if verdict.decision == "review":  # the queue writes to SQLite: keep it off the loop
                return await asyncio.to_thread(self._out, item, verdict)
            return self._out(item, verdict)

    @bentoml.api(route="/screen_batch")
    async def screen_batch(
        self, listings: Annotated[list[ListingIn], Field(min_length=1, max_length=MAX_BATCH)]
    ) -> list[VerdictOut]:
        """Screen up to MAX_BATCH listings in one call; verdicts come back in input order.

        Concurrent calls queue; when the queue could not clear a call within the request
        timeout the answer is 503 with a `Retry-After` header (seconds), at once. A body over
        the body limit (`RECALLGUARD_MAX_BODY_BYTES`, default 4 MiB: 256 listings of 500-character
        titles and 2,000-character descriptions take 0.7 MiB) gets 413.
        """
        with metrics.timed("screen_batch"):
            items = [item.to_listing() for item in listings]
            self._screener()  # 503 while loading, before queueing
            try:
                future = self.batch_queue.submit(items)
            except Overloaded as exc:
                return self._overloaded(exc)
            verdicts = await asyncio.wrap_future(future)
            return await asyncio.to_thread(
                lambda: [self._out(x, v) for x, v in zip(items, verdicts, strict=True)]
            )

    @bentoml.api(route="/model_info")
    def model_info(self) -> dict[str, Any]:
        """Which bundle is serving, its thresholds and validation metrics."""
        screener = self._screener()
        config = screener.config
        return {
            "version": config.version,
            "encoder": config.encoder_name,
            "thresholds": {"block": config.thresholds.block, "review": config.thresholds.review},
            "metrics": config.metrics,
            "entries": len(screener.bundle.index),
        }


# The HTTP edge of the screening routes (415, error shape, opt-in screen keys, relative redirects).
RecallGuard.add_asgi_middleware(  # type: ignore[attr-defined]
    Edge, get_keys=lambda: bentoml.get_current_service().keys
)
# /docs.json lists the error answers above (413, 415, 503; 401, 403, 429 with screen keys).
RecallGuard.add_asgi_middleware(DocumentedErrors)  # type: ignore[attr-defined]
