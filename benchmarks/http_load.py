"""HTTP side of benchmarks/throughput.py: start a real `bentoml serve`, load it, watch its RSS.

Everything stays on loopback; request counts are bounded so a run takes minutes, not hours.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import numpy as np
import psutil

ROOT = Path(__file__).resolve().parents[1]
SERVE = (sys.executable, "-m", "bentoml", "serve", "service.service:RecallGuard")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RssMonitor:
    """Peak resident memory of a process and all its children, sampled every 0.2 s."""

    def __init__(self, pid: int) -> None:
        self.root = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def sample(self) -> int:
        total = 0
        try:
            procs = [self.root, *self.root.children(recursive=True)]
        except psutil.Error:
            return 0
        for p in procs:
            with suppress(psutil.Error):
                total += p.memory_info().rss
        self.peak = max(self.peak, total)
        return total

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self.sample()

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


@dataclass
class Service:
    base: str
    proc: subprocess.Popen[bytes]
    rss: RssMonitor
    log: Path


@contextmanager
def serve(
    bundle: Path, extra_env: dict[str, str], timeout: float = 300, root: Path = ROOT
) -> Iterator[Service]:
    """`bentoml serve service.service:RecallGuard` on a free loopback port, torn down after."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="recallguard-bench-") as tmp:
        env = dict(
            os.environ,
            RECALLGUARD_BUNDLE=str(bundle),
            RECALLGUARD_DATA_HOME=tmp,
            BENTOML_HOME=str(Path(tmp) / "bentoml"),
            BENTOML_DO_NOT_TRACK="true",
            HF_HUB_OFFLINE="1",
            **extra_env,
        )
        log = Path(tmp) / "serve.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [*SERVE, "--port", str(port), "--host", "127.0.0.1"],
                cwd=root,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        service = Service(f"http://127.0.0.1:{port}", proc, RssMonitor(proc.pid), log)
        try:
            _wait_ready(service, timeout)
            yield service
        finally:
            service.rss.stop()
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_ready(service: Service, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if service.proc.poll() is not None:
            raise RuntimeError(f"service exited early:\n{service.log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{service.base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise RuntimeError(
        f"service not ready within {timeout:.0f} s:\n{service.log.read_text()[-3000:]}"
    )


@dataclass(frozen=True)
class LoadResult:
    """One closed-loop load run: every client sends its next request as soon as one returns."""

    clients: int
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    failures: dict[str, int]

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def run_load(
    base: str, path: str, bodies: Sequence[dict[str, Any]], clients: int, timeout: float = 60
) -> LoadResult:
    """Post every body once, from `clients` threads; latency per request, errors counted.

    Each client is one thread with one keep-alive connection (`http.client`): the load
    generator shares the machine with the service, and httpx cost about 2 ms of CPU per
    /screen call against 0.3 ms for `http.client` (measured on the 2-core development machine),
    CPU the service then lacks. A request's latency runs from sending it to having read the
    whole answer.
    """
    url = urlsplit(base)
    lock = threading.Lock()
    todo = iter(bodies)
    latencies: list[float] = []
    failures: dict[str, int] = {}
    headers = {"Content-Type": "application/json"}

    def worker() -> None:
        conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=timeout)
        try:
            while True:
                with lock:
                    body = next(todo, None)
                if body is None:
                    return
                payload = json.dumps(body).encode()
                start = time.perf_counter()
                try:
                    conn.request("POST", path, body=payload, headers=headers)
                    answer = conn.getresponse()
                    answer.read()
                    status = str(answer.status)
                except (OSError, http.client.HTTPException) as exc:
                    status = type(exc).__name__
                    conn.close()  # reconnects on the next request
                elapsed = time.perf_counter() - start
                with lock:
                    latencies.append(elapsed)
                    if status != "200":
                        failures[status] = failures.get(status, 0) + 1
        finally:
            conn.close()

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - started
    ms = np.asarray(latencies) * 1000 if latencies else np.zeros(1)
    p50, p95, p99 = (float(np.percentile(ms, q)) for q in (50, 95, 99))
    errors = sum(failures.values())
    return LoadResult(
        clients, len(latencies), errors, seconds, p50, p95, p99, float(ms.max()), failures
    )
