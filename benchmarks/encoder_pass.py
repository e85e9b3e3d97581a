"""The serving encoder's pass alone, and beside a thread running the pipeline's Python.

    .venv/bin/python benchmarks/encoder_pass.py [--bundle PATH_OR_TAG] [--rounds 5]

Torch on one thread, the bundle's encoder in its serving precision, bundled Amazon UK titles in
calls of 1, 8 and 256 titles (256 titles a round, 1,024 for the largest calls). "beside Python"
runs the same calls on a worker thread while the main thread prepares listings
(`ListingView.of`) without pause: what a `/screen` micro-batch meets while another batch is
featurised. Prints ms per call (median of the rounds) and the slowdown beside Python.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

from model.matching.encoder import SentenceTransformerEncoder  # noqa: E402
from model.matching.views import ListingView  # noqa: E402
from model.runtime.registry import resolve  # noqa: E402
from model.settings import Settings  # noqa: E402
from training.loaders import load_amazon_listings  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bundle", default=str(ROOT / "artifacts" / "default-bundle"))
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    settings = replace(Settings.from_env(), torch_threads=1)
    encoder = SentenceTransformerEncoder.load(resolve(args.bundle) / "encoder", settings)
    encoder.cache = type(encoder.cache)(0)
    listings = load_amazon_listings()[:1024]
    texts = [ListingView.of(x, {}).text for x in listings]
    worker = ThreadPoolExecutor(1)
    busy = threading.Event()

    def python_load() -> None:
        while busy.is_set():
            for x in listings[:64]:
                ListingView.of(x, {})

    print(f"encoder {encoder.precision}, torch on 1 thread, {len(texts)} Amazon UK titles")
    print(f"{'titles/call':>11} {'alone ms':>9} {'beside Python ms':>17} {'slowdown':>9}")
    for size in (1, 8, 256):
        calls = [texts[i : i + size] for i in range(0, len(texts), size)][: max(4, 256 // size)]

        def run(calls: list[list[str]] = calls) -> None:
            for call in calls:
                encoder.encode(call)

        timings: dict[str, list[float]] = {"alone": [], "beside": []}
        worker.submit(run).result()  # warm-up: oneDNN kernels for these shapes
        for _ in range(args.rounds):
            for mode in timings:
                load = threading.Thread(target=python_load)
                if mode == "beside":
                    busy.set()
                    load.start()
                start = time.perf_counter()
                worker.submit(run).result()
                timings[mode].append((time.perf_counter() - start) * 1000 / len(calls))
                busy.clear()
                if load.is_alive():
                    load.join()
        alone, beside = (float(np.median(v)) for v in timings.values())
        print(f"{size:>11} {alone:>9.2f} {beside:>17.2f} {beside / alone:>8.2f}x")
    worker.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
