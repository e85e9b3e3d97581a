"""The BentoML service: load the bundle once per worker, screen listings over HTTP.

Listings in the `review` band go to the reviewer queue, served by the same process at
`/review`; confirmed decisions flow out as takedowns through the notifier.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Annotated, Any

import bentoml
from pydantic import Field

from model.matching.bundle import Bundle
from model.matching.screener import Screener
from model.matching.verdict import Verdict
from model.runtime.microbatch import MicroBatcher
from model.runtime.registry import resolve
from model.schema import Listing
from model.settings import Settings
from service.admin import Admin
from service.admin_api import create_admin_app
from service.auth import KeyStore
from service.review import ReviewConfig, ReviewQueue, TakedownNotifier, create_review_app
from service.schemas import MAX_BATCH, ListingIn, VerdictOut

log = logging.getLogger("recallguard")

review_app = create_review_app(
    lambda: bentoml.get_current_service().review_queue,
    lambda: bentoml.get_current_service().keys,
)
admin_app = create_admin_app(
    lambda: bentoml.get_current_service().admin,
    lambda: bentoml.get_current_service().keys,
)


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
    traffic={"timeout": 30, "max_concurrency": 128},
)
class RecallGuard:
    """Screens marketplace listings against the recall blocklist."""

    def __init__(self) -> None:
        self.admin: Admin | None = None
        # Concurrent /screen calls are screened together, by one worker: with torch on one
        # thread it leaves the second core to HTTP parsing and serialisation (measured: a
        # second worker fights it for the GIL and widens the tail).
        self.batcher: MicroBatcher[Listing, Verdict] = MicroBatcher(
            lambda items: self._screener().screen(items),
            max_batch=32,
            workers=1,
        )
        settings = Settings.from_env()
        config = ReviewConfig.from_settings(settings)
        self.keys = KeyStore.from_settings(settings)
        self.review_queue = ReviewQueue.from_config(config)
        self.notifier = TakedownNotifier(
            self.review_queue, config.webhook_url, token=config.webhook_token
        )
        self.notifier.start()
        dev_key = self.keys.ensure_dev_key()
        if dev_key:
            # Shown once on the console (not the log) so a newcomer can open /review.
            print(
                f"RecallGuard: no API keys configured; created a dev admin key: {dev_key}",
                file=sys.stderr,
                flush=True,
            )
        path = resolve(settings.bundle)
        # Admin keeps the screener in step with run-time blocklist changes (service/admin.py).
        self.admin = Admin(Bundle.load(path), path, config.data_home, self.review_queue)
        log.info("loaded bundle %s from %s", self.admin.screener.version, path)

    @property
    def screener(self) -> Screener | None:
        """The current screener; a blocklist change swaps it, so read it once per request."""
        return None if self.admin is None else self.admin.screener

    def __is_ready__(self) -> bool:
        return self.screener is not None

    def _screener(self) -> Screener:
        if self.screener is None:
            raise bentoml.exceptions.ServiceUnavailable("the model bundle is still loading")
        return self.screener

    def _answer(self, listings: list[Listing]) -> list[VerdictOut]:
        verdicts = self._screener().screen(listings)
        return [self._out(x, v) for x, v in zip(listings, verdicts, strict=True)]

    def _out(self, listing: Listing, verdict: Verdict) -> VerdictOut:
        body = verdict.to_dict()
        body["review_item_id"] = self._enqueue(listing, verdict)
        return VerdictOut.model_validate(body)

    def _enqueue(self, listing: Listing, verdict: Verdict) -> int | None:
        # A failed enqueue fails the request (503) so the platform retries: never lose an item.
        if verdict.decision != "review":
            return None
        item_id, _ = self.review_queue.enqueue(listing, verdict)
        return int(item_id)

    @bentoml.api(route="/screen")
    async def screen(self, listing: ListingIn) -> VerdictOut:
        """Screen one listing: block, review or allow, with the matching recall and why."""
        item = listing.to_listing()
        self._screener()  # 503 while loading, before queueing
        verdict = await asyncio.wrap_future(self.batcher.submit(item))
        if verdict.decision == "review":  # the queue writes to SQLite: keep it off the loop
            return await asyncio.to_thread(self._out, item, verdict)
        return self._out(item, verdict)

    # Adaptive batching merges concurrent batch calls; the latency budget is generous so a busy
    # 2-core box queues work instead of answering 503 waves (measured with max_latency_ms=200).
    @bentoml.api(route="/screen_batch", batchable=True, max_batch_size=256, max_latency_ms=5000)
    def screen_batch(
        self, listings: Annotated[list[ListingIn], Field(min_length=1, max_length=MAX_BATCH)]
    ) -> list[VerdictOut]:
        """Screen up to MAX_BATCH listings in one call; verdicts come back in input order."""
        return self._answer([item.to_listing() for item in listings])

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
