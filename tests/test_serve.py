"""One real `bentoml serve` in a subprocess: the way `make run` serves, end to end."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.fakes import stop, wait_ready

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_bentoml_serve_screens_a_listing(tiny_bundle_path: Path, tmp_path: Path) -> None:
    port = free_port()
    # Its own data home: the queue-depth gauge below counts this server's items only, not
    # those other tests left in the session-wide one.
    env = dict(
        os.environ, RECALLGUARD_BUNDLE=str(tiny_bundle_path), RECALLGUARD_DATA_HOME=str(tmp_path)
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bentoml",
            "serve",
            "service.service:RecallGuard",
            "--port",
            str(port),
            "--host",
            "127.0.0.1",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_ready(proc, base, 180)
        r = httpx.post(
            f"{base}/screen",
            json={"listing": {"title": "TooyBing Wooden Bead Stacking Toys"}},
            timeout=30,
        )
        assert r.status_code == 200
        assert r.json()["match"]["entry_id"] == "cpsc-10917"
        decision = r.json()["decision"]
        # BentoML's /metrics (multiprocess mode in a real worker) carries ours.
        scraped = {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(httpx.get(f"{base}/metrics").text)
            for sample in family.samples
        }
        assert scraped[("recallguard_decisions_total", (("decision", decision),))] >= 1
        assert scraped[("recallguard_screen_stage_seconds_count", (("stage", "model"),))] >= 1
        assert scraped[("recallguard_screen_stage_seconds_count", (("stage", "screen"),))] >= 1
        pending = scraped[("recallguard_review_queue_depth", (("state", "pending"),))]
        assert pending == (1 if decision == "review" else 0)
        # Over a real socket, a body over the limit (4 MiB by default) is refused at the edge,
        # whether declared or chunked, and the client reads the 413 before the server hangs up.
        big = b'{"listings": [' + b" " * (4 * 1024 * 1024) + b"]}"
        chunked = (big[i : i + 65536] for i in range(0, len(big), 65536))
        for content in (big, chunked):
            refused = httpx.post(f"{base}/screen_batch", content=content, timeout=30,
                                 headers={"Content-Type": "application/json"})  # fmt: skip
            assert refused.status_code == 413, refused.text
            assert "bytes" in refused.json()["error"]
        assert (
            httpx.post(f"{base}/screen", json={"listing": {"title": ""}}, timeout=30).status_code
            == 400
        )
        # A body the pydantic model rejects: a 400 for the caller, one WARNING line in the log,
        # and none of the seller's text (service/log_filters.py).
        hostile = {"listing": {"title": "\u200b", "description": "<b>SELLER-MARKER</b>"}}
        assert httpx.post(f"{base}/screen", json=hostile, timeout=30).status_code == 400
    finally:
        stop(proc)
    logged = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
    assert "POST /screen: request refused with 400" in logged, logged
    assert "SELLER-MARKER" not in logged and "Traceback" not in logged, logged


def _serve(port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "bentoml", "serve", "service.service:RecallGuard",
         "--port", str(port), "--host", "127.0.0.1"],
        cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip


@pytest.mark.slow
def test_a_bundle_that_cannot_load_answers_readyz_503_with_the_reason(tmp_path: Path) -> None:
    """Before: the worker died at start-up, was respawned in a loop, and the port accepted
    connections that never answered. Now it stays up, not ready, and says why."""
    bad = tmp_path / "bundle"
    bad.mkdir()
    (bad / "config.json").write_text('{"thresholds": {"block": 0.0, "review": 0.0}}')
    files = {"config.json": "0" * 64}  # the digest the builder wrote for the original file
    (bad / "manifest.json").write_text(json.dumps({"format_version": 1, "files": files}))
    port, log = free_port(), tmp_path / "serve.log"
    env = dict(os.environ, RECALLGUARD_BUNDLE=str(bad), RECALLGUARD_DATA_HOME=str(tmp_path))
    proc = _serve(port, env, log)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline, ready = time.monotonic() + 180, None
        while time.monotonic() < deadline and ready is None:
            assert proc.poll() is None, log.read_text()
            try:
                ready = httpx.get(f"{base}/readyz", timeout=5)
            except httpx.HTTPError:
                time.sleep(1)
        assert ready is not None, "no answer on /readyz within 180 s:\n" + log.read_text()
        assert ready.status_code == 503
        assert "hash mismatch" in ready.text and "config.json" in ready.text
        listing = {"listing": {"title": "Wooden toy"}}
        screened = httpx.post(f"{base}/screen", json=listing, timeout=30)
        assert screened.status_code == 503
        assert httpx.get(f"{base}/livez", timeout=5).status_code == 200
        time.sleep(3)
        again = httpx.get(f"{base}/readyz", timeout=5)
        assert again.status_code == 503 and proc.poll() is None
        assert log.read_text().count("Initializing service error") == 0  # no respawn loop
    finally:
        stop(proc)


def test_recallguard_serve_refuses_a_tampered_bundle_before_starting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from training.cli import main

    (tmp_path / "config.json").write_text("{}")
    files = {"config.json": "0" * 64}
    (tmp_path / "manifest.json").write_text(json.dumps({"format_version": 1, "files": files}))
    assert main(["serve", "--bundle", str(tmp_path), "--port", str(free_port())]) == 2
    assert "hash mismatch in ['config.json']" in capsys.readouterr().err
