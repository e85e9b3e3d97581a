"""Prometheus metrics of the service, served on BentoML's own ``/metrics``.

BentoML 1.4 serves prometheus_client's default registry (in multiprocess mode: each worker
starts with ``PROMETHEUS_MULTIPROC_DIR`` already set, so importing prometheus_client here is
safe; ``bentoml.metrics`` is a deprecated alias of it). Series, all prefixed ``recallguard_``:

- ``decisions_total{decision}``: screening verdicts by outcome (block, review, allow).
- ``screen_stage_seconds{stage}``: latency by stage: ``model`` (one screener call on a
  micro-batch), ``review_enqueue`` (writing a review item), ``screen`` (one /screen request,
  end to end in the handler), ``screen_batch`` (one /screen_batch call).
- ``review_queue_depth{state}``: pending and claimed items, read from the queue database at
  scrape time (`queue_depth_text`, appended by the service's ``__metrics__`` hook), so every
  worker and the review API agree without a shared gauge.
- ``takedown_delivery_failures_total{final}``: failed webhook attempts; ``final="true"`` when
  the row was given up on (status ``failed``).
- ``refused_inputs_total{reason}``: inputs refused at an edge; callers use `record_refusal`.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

DECISIONS = Counter(
    "recallguard_decisions", "Screening verdicts by outcome.", ["decision"]
)  # fmt: skip
STAGE_SECONDS = Histogram(
    "recallguard_screen_stage_seconds",
    "Screening latency by stage, in seconds.",
    ["stage"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
TAKEDOWN_FAILURES = Counter(
    "recallguard_takedown_delivery_failures",
    "Failed takedown webhook deliveries; final=true when the row was given up on.",
    ["final"],
)
REFUSED = Counter(
    "recallguard_refused_inputs", "Inputs refused at an edge (4xx or CLI error), by reason.",
    ["reason"],
)  # fmt: skip

MAX_REASONS = 64  # distinct reason labels before the rest are counted as "other"
_REASON = re.compile(r"^[a-z][a-z0-9_]{0,47}$")
_reasons: set[str] = set()
_reasons_lock = threading.Lock()


def record_decision(decision: str) -> None:
    DECISIONS.labels(decision=decision).inc()


def record_refusal(reason: str) -> None:
    """Count one refused input. `reason` is a short snake_case word such as ``non_finite``,
    ``too_deep``, ``unknown_field``, ``bad_text``, ``out_of_range``, ``media_type``; anything
    else (or more than MAX_REASONS distinct words) is counted as ``other``, so seller text
    can never become a label."""
    label = reason if isinstance(reason, str) and _REASON.match(reason) else "other"
    with _reasons_lock:
        if label not in _reasons:
            if len(_reasons) >= MAX_REASONS:
                label = "other"
            else:
                _reasons.add(label)
    REFUSED.labels(reason=label).inc()


def record_takedown_failure(final: bool) -> None:
    TAKEDOWN_FAILURES.labels(final="true" if final else "false").inc()


def observe_stage(stage: str, seconds: float) -> None:
    STAGE_SECONDS.labels(stage=stage).observe(seconds)


@contextmanager
def timed(stage: str) -> Iterator[None]:
    """Observe the wall time of the block under `stage` (also when it raises)."""
    start = time.perf_counter()
    try:
        yield
    finally:
        observe_stage(stage, time.perf_counter() - start)


class _QueueDepth(Collector):
    def __init__(self, counts: Mapping[str, int]) -> None:
        self.counts = counts

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "recallguard_review_queue_depth", "Review items waiting, by state.", labels=["state"]
        )
        for state in ("pending", "claimed"):
            family.add_metric([state], float(self.counts.get(state, 0)))
        yield family


def queue_depth_text(counts: Mapping[str, int]) -> str:
    """The queue-depth gauge in the Prometheus text format, from `ReviewQueue.counts()`.

    A collector-side family in a private registry: it holds no multiprocess value files, so
    it never shows up twice on /metrics."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_QueueDepth(counts))
    return generate_latest(registry).decode("utf-8")
