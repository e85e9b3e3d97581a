"""Sweep benchmark: one new blocklist entry against a catalogue of 1,000,000 listing vectors.

    .venv/bin/python benchmarks/sweep.py [--bundle PATH_OR_TAG] [--n 1000000] [--out FILE]

What it measures, on this machine's CPUs:

1. ANN quality and speed. The 10,000 real Amazon UK listings are embedded with the bundle's
   encoder; the rest of the million are synthetic vectors drawn around them (a real listing
   embedding, plus up to half of another one, plus Gaussian noise, normalised), because a
   million real toy listings are not available offline. Queries are the bundle's own embedded
   entry texts, exactly what a sweep searches with. For each `nprobe`, recall@10 and recall@k
   of the IVF index against exact search (`faiss.knn`), and per-entry search latency (all of
   an entry's texts in one call, one entry at a time, as the sweeper does).
2. The whole sweep, end to end, through the production code: the million rows written to a
   real `Catalog` (SQLite + checkpointed IVF index), then `sweep_entry` for sampled entries:
   vector search + identifier lookup + fetching candidates + scoring them with the bundle's
   classifier. Correctness on real listings is covered by tests/test_catalog.py.

Prints a table and writes JSON (default benchmarks/results/sweep.json).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import faiss
import numpy as np
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from model.matching.bundle import Bundle  # noqa: E402
from model.matching.cascade import make_screener  # noqa: E402
from model.matching.normalise import normalise  # noqa: E402
from model.matching.vector_index import IndexSpec, VectorIndex  # noqa: E402
from model.runtime.catalog import Catalog  # noqa: E402
from model.runtime.registry import resolve  # noqa: E402
from model.runtime.sweep import sweep_entry  # noqa: E402
from model.schema import Listing  # noqa: E402
from training.loaders import load_amazon_listings  # noqa: E402

CLOSE = 0.5


def synthesize(real: np.ndarray, n: int, seed: int = 0, sigma: float = 0.03) -> np.ndarray:
    """`n` unit vectors scattered around real embeddings (cosine ~0.8 to their base)."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, real.shape[1]), np.float32)
    for start in range(0, n, 100_000):
        m = min(100_000, n - start)
        a = real[rng.integers(0, len(real), m)]
        b = real[rng.integers(0, len(real), m)]
        w = rng.uniform(0.0, 0.5, (m, 1)).astype(np.float32)
        v = a + w * b + sigma * rng.standard_normal((m, real.shape[1]), dtype=np.float32)
        out[start : start + m] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


def recall(found: np.ndarray, truth: np.ndarray, k: int) -> float:
    hits = sum(len(set(f[:k]) & set(t[:k])) for f, t in zip(found, truth, strict=True))
    return hits / (len(truth) * k)


def close_recall(found: np.ndarray, truth: np.ndarray, sims: np.ndarray, floor: float) -> float:
    """Recall of the exact neighbours at cosine >= `floor`: the ones close enough to be a
    match at all (a listing at cosine 0.3 to a recall is never a hit, found or not)."""
    want = [set(t[s >= floor]) for t, s in zip(truth, sims, strict=True)]
    total = sum(len(w) for w in want)
    got = sum(len(w & set(f)) for w, f in zip(want, found, strict=True))
    return got / total if total else 1.0


def entry_queries(bundle: Bundle, n_entries: int, seed: int) -> list[np.ndarray]:
    """The embedded texts of `n_entries` sampled entries (one array per entry)."""
    index = bundle.index
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(index), size=min(n_entries, len(index)), replace=False)
    return [index.vectors_of(int(p)) for p in picks]


def timed_searches(index: faiss.Index, queries: list[np.ndarray], k: int) -> np.ndarray:
    """Per-entry latency as the sweeper sees it: one entry at a time, one OpenMP thread."""
    times = []
    with threadpool_limits(limits=1, user_api="openmp"):
        for q in queries:
            t = time.perf_counter()
            index.search(q, k)
            times.append((time.perf_counter() - t) * 1000)
    return np.asarray(times)


def ann_part(
    base: np.ndarray, queries: list[np.ndarray], k: int, nprobes: list[int], nlist: int
) -> dict[str, Any]:
    flat_q = np.vstack(queries)
    t = time.perf_counter()
    sims, truth = faiss.knn(flat_q, base, k, metric=faiss.METRIC_INNER_PRODUCT)
    exact_ms = (time.perf_counter() - t) * 1000 / len(queries)
    spec = IndexSpec("ivf", nlist) if nlist else IndexSpec.for_size(len(base))
    t = time.perf_counter()
    index = VectorIndex.build(spec, base, np.arange(len(base), dtype=np.int64)).index
    build_s = time.perf_counter() - t
    assert isinstance(index, faiss.IndexIVF)
    rows = []
    for nprobe in nprobes:
        index.nprobe = nprobe
        _, found = index.search(flat_q, k)
        lat = timed_searches(index, queries, k)
        rows.append({
            "nprobe": nprobe,
            "recall_at_10": round(recall(found, truth, 10), 4),
            f"recall_at_{k}": round(recall(found, truth, k), 4),
            f"recall_cos_ge_{CLOSE}": round(close_recall(found, truth, sims, CLOSE), 4),
            "entry_ms_p50": round(float(np.percentile(lat, 50)), 2),
            "entry_ms_p95": round(float(np.percentile(lat, 95)), 2),
        })  # fmt: skip
    return {
        "nlist": int(index.nlist),
        "build_seconds": round(build_s, 1),
        "exact_search_ms_per_entry": round(exact_ms, 2),
        "texts_per_entry": round(len(flat_q) / len(queries), 2),
        "nprobe": rows,
    }


def end_to_end(
    bundle: Bundle,
    listings: list[Listing],
    real: np.ndarray,
    synth: np.ndarray,
    spec: IndexSpec,
    n_entries: int,
    k: int,
    workdir: Path,
) -> dict[str, Any]:
    catalog = Catalog(workdir / "catalog", real.shape[1], "benchmark")
    t = time.perf_counter()
    catalog.add(listings, real)
    for start in range(0, len(synth), 50_000):
        chunk = synth[start : start + 50_000]
        rows = [
            Listing(title=listings[i % len(listings)].title, listing_id=f"syn-{i}")
            for i in range(start, start + len(chunk))
        ]
        catalog.add(rows, chunk)
    ingest_s = time.perf_counter() - t
    t = time.perf_counter()
    catalog.checkpoint(spec)
    checkpoint_s = time.perf_counter() - t
    screener = make_screener(bundle)
    rng = np.random.default_rng(1)
    picks = rng.choice(len(bundle.index), min(n_entries, len(bundle.index)), replace=False)
    ids = [bundle.index.entries[int(i)].entry_id for i in picks]
    sweep_entry(screener, catalog, ids[0], k)  # warm up
    reports = [sweep_entry(screener, catalog, entry_id, k) for entry_id in ids]
    total = np.asarray([r.search_ms + r.score_ms for r in reports])
    return {
        "catalogue_size": int(catalog.index.ntotal),
        "ingest_listings_per_s": round((len(listings) + len(synth)) / ingest_s),
        "checkpoint_build_seconds": round(checkpoint_s, 1),
        "index": vars(catalog.spec),
        "entries_swept": len(reports),
        "candidates_mean": round(float(np.mean([r.candidates for r in reports])), 1),
        "search_ms_p50": round(float(np.median([r.search_ms for r in reports])), 2),
        "score_ms_p50": round(float(np.median([r.score_ms for r in reports])), 2),
        "sweep_ms_p50": round(float(np.percentile(total, 50)), 2),
        "sweep_ms_p95": round(float(np.percentile(total, 95)), 2),
        "hits_total": sum(len(r.hits) for r in reports),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--bundle", default=None, help="bundle path or tag (default: served one)")
    p.add_argument("--n", type=int, default=1_000_000, help="catalogue vectors")
    p.add_argument("--queries", type=int, default=300, help="entries used as queries")
    p.add_argument("--k", type=int, default=100, help="nearest listings per entry text")
    p.add_argument("--nprobes", default="16,32,64,96,128,192,256")
    p.add_argument("--nlist", type=int, default=0, help="IVF lists (default ~4 sqrt(n))")
    p.add_argument("--sweep-entries", type=int, default=50)
    p.add_argument("--skip-end-to-end", action="store_true")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/sweep.json")
    args = p.parse_args(argv)

    started = time.perf_counter()
    bundle = Bundle.load(resolve(args.bundle))
    listings = [x for x in load_amazon_listings() if x.listing_id]
    t = time.perf_counter()
    real = bundle.encoder.encode([normalise(x.text()) for x in listings])
    encode_s = time.perf_counter() - t
    synth = synthesize(real, args.n - len(real))
    base = np.vstack([real, synth])
    queries = entry_queries(bundle, args.queries, seed=0)
    nprobes = [int(x) for x in args.nprobes.split(",")]
    ann = ann_part(base, queries, args.k, nprobes, args.nlist)
    del base
    gc.collect()
    target = next((r for r in ann["nprobe"] if r[f"recall_at_{args.k}"] >= 0.95), None)
    chosen = target["nprobe"] if target else nprobes[-1]
    result: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "processor": platform.processor(),
            "faiss": faiss.__version__,
        },
        "bundle": bundle.config.version,
        "catalogue_vectors": args.n,
        "real_listings": len(real),
        "encode_real_listings_s": round(encode_s, 1),
        "k": args.k,
        "ann": ann,
        "chosen_nprobe": chosen,
    }
    if not args.skip_end_to_end:
        with tempfile.TemporaryDirectory(prefix="sweep-bench-") as tmp:
            spec = IndexSpec("ivf", ann["nlist"], chosen)
            result["end_to_end"] = end_to_end(bundle, listings, real, synth, spec,
                                              args.sweep_entries, args.k, Path(tmp))  # fmt: skip
    result["total_seconds"] = round(time.perf_counter() - started, 1)
    print_table(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwrote {args.out}")
    return 0


def print_table(r: dict[str, Any]) -> None:
    ann, k = r["ann"], r["k"]
    m = r["machine"]
    print(f"\nSweep benchmark: {r['catalogue_vectors']:,} catalogue vectors "
          f"({r['real_listings']:,} real listings), IVF nlist {ann['nlist']} "
          f"(built in {ann['build_seconds']} s), {m['cpus']} CPUs, faiss {m['faiss']}")  # fmt: skip
    print(f"exact search: {ann['exact_search_ms_per_entry']} ms per entry "
          f"({ann['texts_per_entry']} texts each)\n")  # fmt: skip
    print(f"| nprobe | recall@10 | recall@{k} | recall, cos>={CLOSE} | ms/entry p50 | p95 |")
    print("|---:|---:|---:|---:|---:|---:|")
    for row in ann["nprobe"]:
        print(f"| {row['nprobe']} | {row['recall_at_10']:.4f} | {row[f'recall_at_{k}']:.4f} | "
              f"{row[f'recall_cos_ge_{CLOSE}']:.4f} | {row['entry_ms_p50']} | "
              f"{row['entry_ms_p95']} |")  # fmt: skip
    print(f"\nchosen nprobe (smallest with recall@{k} >= 0.95): {r['chosen_nprobe']}")
    e2e = r.get("end_to_end")
    if e2e:
        print(f"\nend to end through Catalog + sweep_entry, {e2e['catalogue_size']:,} listings, "
              f"{e2e['entries_swept']} entries:")  # fmt: skip
        print(f"  ingest {e2e['ingest_listings_per_s']:,} listings/s (embeddings given), "
              f"index build {e2e['checkpoint_build_seconds']} s")  # fmt: skip
        print(f"  sweep p50 {e2e['sweep_ms_p50']} ms, p95 {e2e['sweep_ms_p95']} ms per entry "
              f"(search p50 {e2e['search_ms_p50']} ms, scoring p50 {e2e['score_ms_p50']} ms, "
              f"{e2e['candidates_mean']} candidates on average)")  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
