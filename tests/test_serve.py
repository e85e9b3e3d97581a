"""One real `bentoml serve` in a subprocess: the way `make run` serves, end to end."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_bentoml_serve_screens_a_listing(tiny_bundle_path: Path) -> None:
    port = free_port()
    env = dict(os.environ, RECALLGUARD_BUNDLE=str(tiny_bundle_path))
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
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(1)
        else:
            pytest.fail("service did not become ready within 180 s")
        r = httpx.post(
            f"{base}/screen",
            json={"listing": {"title": "TooyBing Wooden Bead Stacking Toys"}},
            timeout=30,
        )
        assert r.status_code == 200
        assert r.json()["match"]["entry_id"] == "cpsc-10917"
        assert (
            httpx.post(f"{base}/screen", json={"listing": {"title": ""}}, timeout=30).status_code
            == 400
        )
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
