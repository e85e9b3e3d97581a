"""Scale-out benchmark: catalogue screening on Ray Data, and a sharded sweep on Ray actors.

    .venv/bin/python benchmarks/scale.py [--bundle PATH_OR_TAG] [--actors 1,2] [--n 1000000]
                                         [--skip-screen] [--skip-sweep] [--out FILE]

1. Screening. The 10,000 real Amazon UK listings (data/amazon-uk-toys-promptcloud) are written
   as a JSONL file and screened with the same bundle by the real command, each a fresh
   process: `recallguard screen --engine local` and `recallguard screen --engine ray` with 1
   and 2 actors of one CPU each (a local Ray with all the machine's CPUs). Reported: wall
   seconds of the whole command (both include loading the bundle; Ray's also starting Ray and
   its actors), listings/s, efficiency = Ray listings/s / local listings/s, and whether every
   Ray verdict is byte-identical to the local line.
2. Sweep. A synthetic catalogue of `--n` unit vectors scattered around the real listings'
   embeddings (`benchmarks/sweep.py`'s generator: a million real toy listings are not
   available offline) is written to disk, built into 2 IVF shards in parallel with Ray Data
   (`model.runtime.shards.build_shards`) and served by 2 shard actors (`ShardedIndex`).
   Queries are the bundle's own embedded entry texts, exactly what a sweep searches with.
   Reported: build seconds, per-new-recall search ms (all of an entry's texts fanned out to
   both shards and merged, p50/p95), and recall@10 against exact search (`faiss.knn`).
   Scoring the candidates (the classifier part of a sweep, ~100 ms per entry) is measured end
   to end by `benchmarks/sweep.py` and does not change with sharding.

Prints a table and writes JSON (default benchmarks/results/scale.json). Numbers from a shared
2-core machine are noisy; compare the rows of one run with each other.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
)

from model.matching.bundle import Bundle  # noqa: E402
from model.runtime.registry import resolve  # noqa: E402
from training.loaders import load_amazon_listings  # noqa: E402


def write_listings(path: Path) -> int:
    listings = load_amazon_listings()
    with open(path, "w", encoding="utf-8") as fh:
        for x in listings:
            record = {k: v for k, v in x.to_dict().items() if v not in ("", None, [], ())}
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    return len(listings)


def run_cli(args: list[str]) -> float:
    """Wall seconds of one `recallguard` command (a fresh process, as a user runs it)."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "training.cli", *args], check=True, cwd=ROOT)
    return time.perf_counter() - started


def bench_screen(bundle: str, actors: list[int], work: Path) -> dict[str, Any]:
    import pyarrow.parquet as pq

    source = work / "amazon-uk.jsonl"
    n = write_listings(source)
    local_s = run_cli(
        [
            "screen",
            "--engine",
            "local",
            "--input",
            str(source),
            "--output",
            str(work / "local.jsonl"),
            "--model",
            bundle,
            "--batch-size",
            "256",
            "--quiet",
        ]
    )
    local_lines = (work / "local.jsonl").read_text(encoding="utf-8").splitlines()
    out: dict[str, Any] = {
        "listings": n,
        "local": {
            "seconds": round(local_s, 1),
            "rows": len(local_lines),
            "listings_per_s": round(len(local_lines) / local_s, 1),
        },
        "ray": [],
    }
    print(f"  local CLI: {local_s:.1f} s", flush=True)
    for n_actors in actors:
        target = work / f"ray-{n_actors}"
        seconds = run_cli(
            [
                "screen",
                "--engine",
                "ray",
                "--input",
                str(source),
                "--output",
                str(target),
                "--model",
                bundle,
                "--concurrency",
                str(n_actors),
                "--num-cpus",
                "1",
                "--batch-size",
                "256",
                "--quiet",
            ]
        )
        rows = pq.read_table(target / f"{source.name}.parquet").to_pylist()
        identical = [r["verdict"] for r in rows] == local_lines
        rate = len(rows) / seconds
        out["ray"].append(
            {
                "actors": n_actors,
                "num_cpus_per_actor": 1,
                "seconds": round(seconds, 1),
                "rows": len(rows),
                "error_rows": sum(r["error"] is not None for r in rows),
                "listings_per_s": round(rate, 1),
                "efficiency_vs_local": round(rate / out["local"]["listings_per_s"], 3),
                "verdicts_identical_to_local": identical,
            }
        )
        print(
            f"  ray, {n_actors} actor(s): {seconds:.1f} s, {rate:.1f} listings/s, "
            f"identical to local: {identical}",
            flush=True,
        )
    return out


def bench_sweep(bundle_path: Path, n: int, work: Path, queries_n: int = 100) -> dict[str, Any]:
    import faiss
    import ray

    from model.matching.normalise import normalise
    from model.matching.vector_index import IndexSpec, lists_for
    from model.runtime.shards import ArraySource, ShardedIndex, build_shards

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from sweep import synthesize  # type: ignore[import-not-found]

    bundle = Bundle.load(bundle_path)
    t = time.perf_counter()
    real = bundle.encoder.encode([normalise(x.text()) for x in load_amazon_listings()])
    encode_s = time.perf_counter() - t
    base = np.vstack([real, synthesize(real, n - len(real))])
    np.save(work / "catalogue.npy", base)
    rng = np.random.default_rng(1)
    picks = rng.choice(len(bundle.index), size=min(queries_n, len(bundle.index)), replace=False)
    per_entry = [bundle.index.vectors_of(int(p)) for p in picks]
    flat_q = np.vstack(per_entry)
    with_exact = time.perf_counter()
    _, truth = faiss.knn(flat_q, base, 10, faiss.METRIC_INNER_PRODUCT)
    exact_ms = (time.perf_counter() - with_exact) * 1000 / len(per_entry)
    del base
    shards = 2
    spec = IndexSpec("ivf", lists_for(n // shards))
    ray.init(
        num_cpus=os.cpu_count(),
        include_dashboard=False,
        log_to_driver=False,
        configure_logging=False,
    )
    try:
        t = time.perf_counter()
        manifest = build_shards(
            ArraySource(str(work / "catalogue.npy")), work / "shards", shards, spec
        )
        build_s = time.perf_counter() - t
        index = ShardedIndex(work / "shards", num_cpus=1)
        index.search(per_entry[0], 100)  # warm up
        times = []
        for q in per_entry:
            t = time.perf_counter()
            index.search(q, 100)  # what a sweep asks: k=100 per entry text
            times.append((time.perf_counter() - t) * 1000)
        found = index.search(flat_q, 10)
        hits = sum(
            len({h.id for h in row} & set(tr.tolist()))
            for row, tr in zip(found, truth, strict=True)
        )
        index.close()
    finally:
        ray.shutdown()
    return {
        "catalogue_vectors": n,
        "real_listings": len(real),
        "encode_real_listings_s": round(encode_s, 1),
        "shards": shards,
        "actors": shards,
        "spec_per_shard": {"kind": spec.kind, "nlist": spec.nlist, "nprobe": spec.nprobe},
        "shard_vectors": [s.vectors for s in manifest.shards],
        "shard_build_s": [s.build_s for s in manifest.shards],
        "shard_mb": [round(s.bytes / 2**20, 1) for s in manifest.shards],
        "build_wall_s": round(build_s, 1),
        "entries": len(per_entry),
        "texts_per_entry": round(len(flat_q) / len(per_entry), 2),
        "search_ms_per_recall_p50": round(float(np.percentile(times, 50)), 2),
        "search_ms_per_recall_p95": round(float(np.percentile(times, 95)), 2),
        "exact_ms_per_recall": round(exact_ms, 2),
        "recall_at_10": round(hits / (len(flat_q) * 10), 4),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", default=None)
    parser.add_argument("--actors", default="1,2")
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--skip-screen", action="store_true")
    parser.add_argument("--skip-sweep", action="store_true")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/scale.json")
    args = parser.parse_args()
    bundle_path = resolve(args.bundle)
    result: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "bundle": json.loads((bundle_path / "config.json").read_text())["version"],
    }
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="recallguard-scale-") as tmp:
        work = Path(tmp)
        if not args.skip_screen:
            print("screening the Amazon UK listings ...", flush=True)
            result["screen"] = bench_screen(
                bundle_path, [int(a) for a in args.actors.split(",")], work
            )
        if not args.skip_sweep:
            print(f"sharded sweep over {args.n:,} vectors ...", flush=True)
            result["sweep"] = bench_sweep(bundle_path, args.n, work)
    result["total_seconds"] = round(time.perf_counter() - started, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print_table(result)
    print(f"wrote {args.out}")
    return 0


def print_table(result: dict[str, Any]) -> None:
    if "screen" in result:
        s = result["screen"]
        print(f"\nscreening {s['listings']:,} Amazon UK listings")
        print(f"{'engine':<22}{'seconds':>9}{'listings/s':>12}{'vs local':>10}{'identical':>11}")
        print(
            f"{'local CLI':<22}{s['local']['seconds']:>9}{s['local']['listings_per_s']:>12}"
            f"{1.0:>10}{'-':>11}"
        )
        for r in s["ray"]:
            print(
                f"{'ray, ' + str(r['actors']) + ' actor(s)':<22}{r['seconds']:>9}"
                f"{r['listings_per_s']:>12}{r['efficiency_vs_local']:>10}"
                f"{r['verdicts_identical_to_local']!s:>11}"
            )
    if "sweep" in result:
        w = result["sweep"]
        print(
            f"\nsharded sweep: {w['catalogue_vectors']:,} vectors in {w['shards']} shards "
            f"({w['spec_per_shard']}), built in {w['build_wall_s']} s"
        )
        print(
            f"  search per new recall: p50 {w['search_ms_per_recall_p50']} ms, p95 "
            f"{w['search_ms_per_recall_p95']} ms (exact: {w['exact_ms_per_recall']} ms); "
            f"recall@10 vs exact {w['recall_at_10']}"
        )


if __name__ == "__main__":
    sys.exit(main())
