"""Soak: mixed traffic, bad bodies included, against a real `bentoml serve` on 127.0.0.1.

Run:  python benchmarks/soak.py [--duration 600] [--clients 4] [--bundle PATH_OR_TAG] [--check]

The service is started on a free loopback port with a throw-away data home (review DB, keys),
loaded for `--duration` seconds (and at most `--max-requests` requests) by closed-loop
clients, then stopped. Traffic, per request, drawn with a fixed seed:

- 55 % /screen with a real Amazon toy listing (mostly allowed),
- 15 % /screen with a real recall's title (block / review: exercises the review queue),
- 10 % /screen_batch with 8-32 real listings,
- 20 % bad bodies: not JSON, wrong types, empty or control-character titles, non-finite
  prices, deep nesting, unknown fields, oversize text, a multipart content type.

Reported (stdout and `--out` JSON, default `benchmarks/results/soak.json`): requests and status
counts per kind, 5xx total and per kind, latency p50/p99 of good requests, RSS of the server's
process tree after warm-up, at the end, its growth and its peak (sampled every 0.2 s), and the
load average before and after, so a run on a busy machine reads as one. `--check` exits 1
unless there were 0 5xx, no transport errors, RSS grew under 10 % and the service was alive.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.http_load import ROOT, serve

Request = tuple[str, str, dict[str, str], bytes]  # kind, path, headers, body
JSON = {"content-type": "application/json"}


def _post(kind: str, path: str, body: Any) -> Request:
    return kind, path, JSON, json.dumps(body).encode()


def bad_bodies(title: str) -> list[Request]:
    """Inputs a client must get a 4xx for (never a 5xx)."""
    deep = b'{"listing": ' + b'{"x": ' * 1000 + b'{"title": "toy"}' + b"}" * 1001
    return [
        ("bad_not_json", "/screen", JSON, b'{"listing": {"title": '),
        _post("bad_missing_title", "/screen", {"listing": {}}),
        _post("bad_empty_title", "/screen", {"listing": {"title": ""}}),
        _post("bad_control_title", "/screen", {"listing": {"title": "\u001f"}}),
        _post("bad_wrong_type", "/screen", {"listing": {"title": 42}}),
        ("bad_price_inf", "/screen", JSON, b'{"listing": {"title": "Wooden toy", "price": 1e999}}'),
        _post("bad_unknown_field", "/screen", {"listing": {"title": title, "x": 1}}),
        _post("bad_huge_title", "/screen", {"listing": {"title": "toy " * 50_000}}),
        ("bad_deep", "/screen", JSON, deep),
        _post("bad_empty_batch", "/screen_batch", {"listings": []}),
        ("bad_multipart", "/screen", {"content-type": "multipart/form-data"}, b"x"),
    ]


@dataclass
class Traffic:
    listings: list[dict[str, Any]]
    recalls: list[str]
    rng: random.Random
    bad: list[Request] = field(default_factory=list)

    def next(self) -> Request:
        roll = self.rng.random()
        if roll < 0.55:
            return _post("good_listing", "/screen", {"listing": self.rng.choice(self.listings)})
        if roll < 0.70:
            return _post(
                "good_recall", "/screen", {"listing": {"title": self.rng.choice(self.recalls)}}
            )
        if roll < 0.80:
            batch = self.rng.sample(self.listings, self.rng.randint(8, 32))
            return _post("good_batch", "/screen_batch", {"listings": batch})
        return self.rng.choice(self.bad)


def load_traffic(seed: int) -> Traffic:
    from training.loaders import load_amazon_listings, load_default_blocklist

    listings = [
        {k: v for k, v in x.to_dict().items() if v not in (None, "", [], ())}
        for x in load_amazon_listings()[:5000]
    ]
    recalls = [e.product_name for e in load_default_blocklist()[:2000] if e.product_name]
    return Traffic(listings, recalls, random.Random(seed), bad_bodies(recalls[0]))


@dataclass
class Tally:
    statuses: Counter[tuple[str, str]] = field(default_factory=Counter)
    good_ms: list[float] = field(default_factory=list)
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, status: str, ms: float) -> None:
        with self.lock:
            self.requests += 1
            self.statuses[(kind, status)] += 1
            if kind.startswith("good") and status == "200":
                self.good_ms.append(ms)


def run_clients(
    base: str, make: Callable[[], Request], clients: int, seconds: float, max_requests: int
) -> Tally:
    tally = Tally()
    deadline = time.monotonic() + seconds
    lock = threading.Lock()

    def worker() -> None:
        with httpx.Client(base_url=base, timeout=60) as client:
            while time.monotonic() < deadline:
                with lock:
                    if tally.requests >= max_requests:
                        return
                    kind, path, headers, body = make()
                start = time.perf_counter()
                try:
                    status = str(client.post(path, content=body, headers=headers).status_code)
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                tally.add(kind, status, (time.perf_counter() - start) * 1000)

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return tally


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=600.0, help="seconds (default 600)")
    parser.add_argument("--warmup", type=float, default=20.0, help="seconds before RSS 'start'")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--max-requests", type=int, default=200_000)
    parser.add_argument("--bundle", default=None, help="bundle folder or store tag")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "results" / "soak.json",
        help="JSON report path (default benchmarks/results/soak.json)",
    )  # fmt: skip
    parser.add_argument("--check", action="store_true", help="exit 1 on any 5xx or RSS >= +10%%")
    args = parser.parse_args(argv)
    if not 1 <= args.clients <= 64 or args.duration <= 0 or args.max_requests <= 0:
        parser.error("--clients must be 1-64; --duration and --max-requests positive")

    from model.runtime.registry import resolve

    bundle = resolve(args.bundle)
    traffic = load_traffic(args.seed)
    load_before = os.getloadavg()
    with serve(bundle, {}) as service:
        run_clients(service.base, traffic.next, args.clients, args.warmup, args.max_requests)
        rss_start = service.rss.sample()
        started = time.monotonic()
        tally = run_clients(
            service.base, traffic.next, args.clients, args.duration, args.max_requests
        )
        elapsed = time.monotonic() - started
        rss_end = service.rss.sample()
        alive = service.proc.poll() is None
    load_after = os.getloadavg()

    by_kind: dict[str, dict[str, int]] = {}
    for (kind, status), n in sorted(tally.statuses.items()):
        by_kind.setdefault(kind, {})[status] = n
    server_errors_by_kind = Counter[str]()
    for (kind, status), n in tally.statuses.items():
        if status.startswith("5"):
            server_errors_by_kind[kind] += n
    server_errors = sum(server_errors_by_kind.values())
    transport_errors = sum(n for (_, s), n in tally.statuses.items() if not s.isdigit())
    ms = np.asarray(tally.good_ms) if tally.good_ms else np.zeros(1)
    growth = (rss_end - rss_start) / rss_start * 100 if rss_start else float("nan")
    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "duration_s": round(elapsed, 1),
        "clients": args.clients,
        "requests": tally.requests,
        "requests_per_s": round(tally.requests / elapsed, 1) if elapsed else 0.0,
        "server_errors_5xx": server_errors,
        "server_errors_by_kind": dict(sorted(server_errors_by_kind.items())),
        "transport_errors": transport_errors,
        "good_latency_ms": {
            "p50": round(float(np.percentile(ms, 50)), 1),
            "p99": round(float(np.percentile(ms, 99)), 1),
            "max": round(float(ms.max()), 1),
        },
        "rss_mb": {
            "start_after_warmup": round(rss_start / 2**20, 1),
            "end": round(rss_end / 2**20, 1),
            "growth_pct": round(growth, 2),
            "peak": round(service.rss.peak / 2**20, 1),
        },
        "service_alive_at_end": alive,
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in load_after],
        "cpus": os.cpu_count(),
        "status_by_kind": by_kind,
        "bundle": str(bundle),
        "settings": {"warmup_s": args.warmup, "seed": args.seed,
                     "max_requests": args.max_requests},
    }  # fmt: skip
    text = json.dumps(report, indent=2)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n")
    print(f"wrote {args.out}", file=sys.stderr)
    ok = server_errors == 0 and transport_errors == 0 and growth < 10 and alive
    return 0 if ok or not args.check else 1


if __name__ == "__main__":
    sys.exit(main())
