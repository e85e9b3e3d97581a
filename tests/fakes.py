"""Shared test doubles: a tiny deterministic encoder, a settable clock, and review-queue samples.

`HashingEncoder` satisfies `model.matching.encoder.Encoder` without torch or model weights:
character trigrams are hashed into a small vector, so texts that share spelling are close and
matching logic (index, candidate generation, features) can be unit-tested in milliseconds. It
is deterministic across processes (crc32, not Python's salted `hash`).
"""

from __future__ import annotations

import subprocess
import time
import zlib
from datetime import UTC, datetime, timedelta

import httpx
import numpy as np
import pytest

from model.matching.verdict import Candidate, Evidence, Thresholds, Verdict
from model.schema import Listing


class HashingEncoder:
    """Bag of hashed character trigrams, L2-normalised float32 rows of width `dim`."""

    def __init__(self, dim: int = 64) -> None:
        self._dim = dim
        self.calls: list[list[str]] = []

    @property
    def dim(self) -> int:
        return self._dim

    def encode(self, texts: list[str]) -> np.ndarray:
        self.calls.append(list(texts))
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        for row, text in enumerate(texts):
            if not text.strip():
                continue  # nothing to hash: a zero row (as a real model would not give)
            padded = f"  {text.lower()} "
            for i in range(len(padded) - 2):
                out[row, zlib.crc32(padded[i : i + 3].encode()) % self._dim] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1.0, norms)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def tooybing() -> Candidate:
    return Candidate(
        entry_id="cpsc-10917",
        source="cpsc",
        product_name="TooyBing Wooden Bead Stacking Toys",
        brand="TooyBing",
        hazard="choking",
        url="https://www.cpsc.gov/Recalls/2025/TooyBing-Wooden-Bead-Stacking-Toys-Recalled",
        recall_date="2025-03-06",
        identifiers=("TB-MZWJ",),
        similarity=0.83,
        probability=0.64,
        evidence=Evidence(("TB-MZWJ",), True, ("wooden", "bead", "stacking"), 0.71),
    )


def other() -> Candidate:
    return Candidate(
        entry_id="cpsc-10433",
        source="cpsc",
        product_name="Rainbow Stacking Rings Teether",
        brand="Lovely Baby",
        hazard="choking",
        url="https://www.cpsc.gov/Recalls/2024/rings",
        recall_date="2024-11-14",
        identifiers=("LB-210",),
        similarity=0.61,
        probability=0.22,
        evidence=Evidence((), False, ("stacking",), 0.35),
    )


def make_listing(
    title: str = "Wooden Bead Stacking Toy for Toddlers TB-MZWJ", **kw: object
) -> Listing:
    fields: dict[str, object] = {
        "listing_id": "amz-B0CX1",
        "description": "Montessori stacking beads, natural wood, ages 1+",
        "brand": "TooyBing",
        "price": 14.99,
        "category": "Toys & Games",
        "identifiers": ("TB-MZWJ",),
    }
    fields.update(kw)
    return Listing(title=title, **fields)  # type: ignore[arg-type]


def make_verdict(model_version: str = "bundle-2025.06.01") -> Verdict:
    return Verdict(
        listing_id="amz-B0CX1",
        decision="review",
        probability=0.64,
        match=tooybing(),
        candidates=(tooybing(), other()),
        model_version=model_version,
        thresholds=Thresholds(block=0.9, review=0.5),
    )


def wait_ready(proc: subprocess.Popen[bytes], base: str, within_s: float) -> None:
    """Poll `base`/readyz until 200; fail with the server's output if it dies or times out."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    pytest.fail(f"{base} did not become ready within {within_s:.0f} s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Terminate a served process; kill it if it has not exited within 30 s."""
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
