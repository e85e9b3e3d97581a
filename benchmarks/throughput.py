"""`make bench`: one run, one table, one JSON file: how fast RecallGuard screens, as ratios to
plain `SentenceTransformer.encode` measured in the same run.

    .venv/bin/python benchmarks/throughput.py [--bundle PATH_OR_TAG] [--n 4000] [--quick]
        [--no-http] [--no-cli] [--http-only] [--service-env KEY=VALUE ...] [--out FILE]

The listings are the first `--n` real Amazon UK toy listings (4,000; `--quick`: 1,000):

1. baseline: plain `SentenceTransformer.encode` (fp32, default settings) of the exact texts the
   pipeline embeds;
2. in process, batches of 256, the serving encoder with its embedding cache off: the full
   pipeline without the gate (`Screener`), and with it (`make_screener`, what every entry point
   runs); then a re-submission with the cache on. Jobs run interleaved in rounds so load spikes
   hit all alike; ratios are paired per round (median);
3. the cost per listing of a pathological listing (5,000 characters of code-like tokens, 20,000
   of description) over an ordinary one, ungated, as a ratio;
4. `recallguard screen` end to end (a subprocess: read JSONL, validate, screen, write), start-up
   subtracted by also timing a one-listing file; all rows must be screened; its ratio is to
   plain encode timed right before and right after it (the machine drifts within minutes);
5. over HTTP against a `bentoml serve` it starts on a free loopback port: `/screen` p50/p99 at
   1, 8 and 32 concurrent clients, `/screen_batch` listings/s, 12 concurrent 256-listing
   `/screen_batch` calls (all must answer 200), and the service's peak RSS.

`--http-only` runs part 5 alone (for iterating on the service; `make bench` runs everything).
The machine's load average before and after is recorded: on a shared machine, quote it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# `recallguard screen` runs in the environment the user gave this script, not in the one below.
USER_ENV = dict(os.environ)
# scikit-learn's OpenMP and NumPy's OpenBLAS on one thread (as the service runs them), set
# before NumPy loads (OpenBLAS reads it then): the boosted trees open one parallel region per
# tree, which costs more than it saves on a shared 2-core machine, and idle OpenBLAS threads spin
# beside torch's. torch's threads are set explicitly by the encoder (to the usable cores) and the
# baseline shares them.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from model.matching.bundle import Bundle  # noqa: E402
from model.matching.cascade import CascadeScreener, make_screener  # noqa: E402
from model.matching.encoder import SentenceTransformerEncoder  # noqa: E402
from model.matching.screener import Screener  # noqa: E402
from model.matching.views import ListingView  # noqa: E402
from model.runtime.heap import freeze_loaded  # noqa: E402
from model.runtime.registry import resolve  # noqa: E402
from model.schema import MAX_TEXT_CHARS, MAX_TITLE_CHARS, Listing  # noqa: E402
from training.loaders import load_amazon_listings  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from http_load import run_load, serve  # noqa: E402

DEFAULT_BUNDLE = ROOT / "artifacts" / "default-bundle"
BATCH = 256
BASELINE = "plain SentenceTransformer.encode fp32"
NO_GATE = "screen in process, no gate"
GATED = "screen in process, gated (make_screener)"
CACHED = "re-submitted listings (embedding cache)"


def machine() -> dict[str, Any]:
    import torch

    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        lscpu = ""
    names = [ln.split(":", 1)[1].strip() for ln in lscpu.splitlines() if "Model name" in ln]
    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    return {
        "cpu": names[0] if names else platform.processor(),
        "cores_usable": len(os.sched_getaffinity(0)),
        "cpu_flags": sorted({f for f in ("avx512_bf16", "amx_bf16", "avx512_vnni") if f in flags}),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "load_average_start": os.getloadavg(),
    }


def seconds(job: Callable[[], object]) -> float:
    """Wall-clock seconds of one run of `job`."""
    start = time.perf_counter()
    job()
    return time.perf_counter() - start


def timed_rounds(jobs: dict[str, Callable[[], object]], rounds: int) -> dict[str, list[float]]:
    """Seconds per job per round, jobs interleaved so load spikes hit all of them alike."""
    for job in jobs.values():  # warm-up: kernels, caches of shapes, lazy copies
        job()
    timings: dict[str, list[float]] = {name: [] for name in jobs}
    for _ in range(rounds):
        for name, job in jobs.items():
            timings[name].append(seconds(job))
    return timings


def in_batches(screener: Screener, listings: Sequence[Listing]) -> None:
    for start in range(0, len(listings), BATCH):
        screener.screen(listings[start : start + BATCH])


def pathological(n: int) -> list[Listing]:
    """Listings at the hard limits, of long code-like tokens (no word-piece vocabulary)."""
    tokens = " ".join(f"QX{i:04d}ZR{i * 7919 % 10000:04d}KV" for i in range(2000))
    return [
        Listing(title=tokens[i : i + MAX_TITLE_CHARS], description=(tokens * 2)[:MAX_TEXT_CHARS])
        for i in range(n)
    ]


def plain_encode(bundle_path: Path, listings: list[Listing]) -> Callable[[], object]:
    """The baseline job: plain `SentenceTransformer.encode` (fp32, default settings) of the
    texts the pipeline embeds for `listings`."""
    encoder = SentenceTransformerEncoder.load(bundle_path / "encoder")
    by_identifier = Bundle.load(bundle_path, encoder=encoder).index.by_identifier
    texts = [ListingView.of(x, by_identifier).text for x in listings]
    st = encoder.model
    return lambda: st.encode(texts)


def in_process(
    bundle_path: Path, listings: list[Listing], rounds: int, baseline: Callable[[], object]
) -> dict[str, Any]:
    import torch

    uncached = SentenceTransformerEncoder.load(bundle_path / "encoder")
    uncached.cache = type(uncached.cache)(0)
    bundle = Bundle.load(bundle_path, encoder=uncached)
    plain = Screener(bundle)
    gated = make_screener(bundle)
    jobs: dict[str, Callable[[], object]] = {
        BASELINE: baseline,
        NO_GATE: lambda: in_batches(plain, listings),
    }
    if isinstance(gated, CascadeScreener) and gated.gate is not None:
        jobs[GATED] = lambda: in_batches(gated, listings)
    freeze_loaded()  # as every entry point does after loading (`model.runtime.heap`)
    timings = timed_rounds(jobs, rounds)
    cached = Screener(Bundle.load(bundle_path, encoder=SentenceTransformerEncoder.load(
        bundle_path / "encoder")))  # fmt: skip
    in_batches(cached, listings)  # the first submission fills the cache
    timings[CACHED] = timed_rounds({"r": lambda: in_batches(cached, listings)}, rounds)["r"]
    ordinary, odd = listings[:BATCH], pathological(BATCH)
    cost = timed_rounds({"o": lambda: plain.screen(ordinary), "p": lambda: plain.screen(odd)}, 3)
    n = len(listings)
    base = np.asarray(timings[BASELINE])
    rows = {
        name: {
            "listings_per_s": n / float(np.median(secs)),
            "ratio": float(np.median(base / np.asarray(secs))),  # paired: same round
            "rounds_s": [round(s, 3) for s in secs],
        }
        for name, secs in timings.items()
    }
    total = gated.cleared + gated.escalated
    return {
        "listings": n,
        "rows": rows,
        "precision": uncached.precision,
        "torch_threads": torch.get_num_threads(),
        "gate_cleared_fraction": gated.cleared / total if total else None,
        "pathological_cost_ratio": float(np.median(np.asarray(cost["p"]) / np.asarray(cost["o"]))),
    }


def cli(
    bundle_path: Path,
    listings: list[Listing],
    baseline_per_s: float,
    baseline: Callable[[], object],
) -> dict[str, Any]:
    """`recallguard screen` end to end; start-up (a one-listing run) subtracted.

    The `baseline` job is timed right before and right after the command and the ratio is to
    their mean: this machine's speed drifts within minutes, and the in-process rounds' baseline
    (`baseline_per_s`, also recorded) was measured earlier.
    """
    command = [sys.executable, "-m", "training.cli", "screen", "--model", str(bundle_path),
               "--quiet"]  # fmt: skip
    env = dict(USER_ENV, PYTHONPATH=str(ROOT))

    def run(rows: list[Listing], tmp: Path) -> tuple[float, int, float]:
        source, out = tmp / f"in-{len(rows)}.jsonl", tmp / f"out-{len(rows)}.jsonl"
        source.write_text("".join(json.dumps(x.to_dict()) + "\n" for x in rows))
        start = time.perf_counter()
        args = [*command, "--input", str(source), "--output", str(out)]
        done = subprocess.run(args, cwd=ROOT, env=env, check=True, capture_output=True, text=True)
        wall = time.perf_counter() - start
        # The command's own summary: "screened N listings in X s": reading, validating,
        # screening and writing, without interpreter start-up and bundle loading.
        found = re.search(r"screened \d+ listings in ([\d.]+) s", done.stdout)
        return wall, len(out.read_text().splitlines()), float(found.group(1)) if found else wall

    with tempfile.TemporaryDirectory(prefix="recallguard-bench-cli-") as tmp:
        startup, _, _ = run(listings[:1], Path(tmp))
        before = seconds(baseline)
        total, screened, in_loop = run(listings, Path(tmp))
        after = seconds(baseline)
    # Start-up subtracted two ways: the one-listing run's wall time (noisy on a loaded machine)
    # and the command's own timing; the ratio uses the latter, both are recorded.
    subtracted = total - startup
    per_s = len(listings) / max(in_loop, 1e-9)
    plain_per_s = 2 * len(listings) / (before + after)
    return {
        "listings": len(listings),
        "screened": screened,
        "startup_s": round(startup, 2),
        "total_s": round(total, 2),
        "in_loop_s": round(in_loop, 2),
        "listings_per_s": per_s,
        "ratio": per_s / plain_per_s,
        "plain_encode_around_s": [round(before, 3), round(after, 3)],
        "plain_per_s_around": plain_per_s,
        "ratio_to_in_process_baseline": per_s / baseline_per_s,
        "listings_per_s_wall_minus_startup": (
            (len(listings) - 1) / subtracted if subtracted > 0 else None
        ),
    }


def over_http(
    bundle_path: Path, pool: list[Listing], quick: bool, env: dict[str, str]
) -> dict[str, Any]:
    def body(i: int) -> dict[str, Any]:
        x = pool[i % len(pool)]
        d = {k: v for k, v in x.to_dict().items() if v not in (None, "", [], ())}
        return {**d, "listing_id": f"h{i}"}

    n_batch = 512 if quick else 2048
    counts = {1: 50, 8: 240, 32: 320} if quick else {1: 300, 8: 960, 32: 1280}
    cursor = 0

    def take(n: int) -> list[dict[str, Any]]:
        nonlocal cursor
        cursor += n
        return [body(i) for i in range(cursor - n, cursor)]

    with serve(bundle_path, env) as service:
        run_load(service.base, "/screen", [{"listing": b} for b in take(20)], 2)  # warm-up
        batches = [{"listings": take(256)} for _ in range(n_batch // 256)]
        batch = run_load(service.base, "/screen_batch", batches, 2)
        latency = {}
        for clients, count in counts.items():
            bodies = [{"listing": b} for b in take(count)]
            latency[clients] = asdict(run_load(service.base, "/screen", bodies, clients))
        burst = run_load(service.base, "/screen_batch", [{"listings": take(256)}
                                                         for _ in range(12)], 12)  # fmt: skip
        peak = max(service.rss.sample(), service.rss.peak)
    return {
        "service_env": env,
        "screen_batch": {**asdict(batch), "listings_per_s": n_batch / batch.seconds},
        "screen": latency,
        "burst_12x256": asdict(burst),
        "peak_rss_mb": round(peak / 2**20, 1),
    }


def table(result: dict[str, Any]) -> str:
    m = result["machine"]
    lines = [f"{m['cpu']}, {m['cores_usable']} cores; load average {m['load_average_start'][0]:.1f}"
             f" at start, {m.get('load_average_end', [0])[0]:.1f} at end"]  # fmt: skip
    proc = result.get("in_process")
    if proc:
        lines.append(f"{proc['listings']} Amazon UK listings{'':21s} listings/s  x plain encode")
        for name, row in proc["rows"].items():
            lines.append(f"{name:54s} {row['listings_per_s']:8.0f} {row['ratio']:8.2f}")
    c = result.get("cli")
    if c:
        name = "recallguard screen end to end (start-up subtracted)"
        done = (f"{c['screened']}/{c['listings']} screened, start-up {c['startup_s']} s; "
                f"plain encode around it {c['plain_per_s_around']:.0f}/s")  # fmt: skip
        lines.append(f"{name:54s} {c['listings_per_s']:8.0f} {c['ratio']:8.2f}  ({done})")
    if proc:
        lines.append(f"pathological listing / ordinary listing, cost: "
                     f"{proc['pathological_cost_ratio']:.1f}x; gate cleared "
                     f"{(proc['gate_cleared_fraction'] or 0):.0%}")  # fmt: skip
    http = result.get("http")
    if http:
        for clients, r in http["screen"].items():
            lines.append(f"/screen x{clients:>2}: p50 {r['p50_ms']:6.1f} ms  p99 {r['p99_ms']:6.1f}"
                         f" ms  ({r['requests']} requests, {r['errors']} errors)")  # fmt: skip
        b, burst = http["screen_batch"], http["burst_12x256"]
        lines.append(f"/screen_batch: {b['listings_per_s']:.0f} listings/s ({b['errors']} errors)")
        ok = burst["requests"] - burst["errors"]
        lines.append(f"12 concurrent 256-listing /screen_batch calls: {ok}/12 answered 200 "
                     f"(p99 {burst['p99_ms'] / 1000:.1f} s) {burst['failures'] or ''}")  # fmt: skip
        lines.append(f"service peak RSS {http['peak_rss_mb']} MB")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--bundle", help="bundle folder or store tag (default: the default bundle)")
    ap.add_argument("--n", type=int, default=4000, help="Amazon listings screened")
    ap.add_argument("--quick", action="store_true", help="1,000 listings, fewer rounds/requests")
    ap.add_argument("--rounds", type=int, default=None, help="in-process rounds (default 3)")
    ap.add_argument("--no-http", action="store_true", help="skip the service part")
    ap.add_argument("--no-cli", action="store_true", help="skip the command-line part")
    ap.add_argument("--http-only", action="store_true", help="only the service part (part 5)")
    ap.add_argument("--service-env", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/throughput.json")
    args = ap.parse_args(argv)
    if args.bundle:
        bundle_path = resolve(args.bundle)
    elif (DEFAULT_BUNDLE / "manifest.json").exists():
        bundle_path = DEFAULT_BUNDLE
    else:
        bundle_path = resolve()
    n = min(args.n, 1000) if args.quick else args.n
    rounds = args.rounds or (1 if args.quick else 3)
    options = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    result: dict[str, Any] = {"machine": machine(), "bundle": str(bundle_path), "args": options}
    every = load_amazon_listings()
    listings = every[:n]
    if not args.http_only:
        print(f"in process: {n} listings, {rounds} rounds ...", flush=True)
        baseline = plain_encode(bundle_path, listings)
        result["in_process"] = proc = in_process(bundle_path, listings, rounds, baseline)
        base = proc["rows"][BASELINE]["listings_per_s"]
    if not (args.no_cli or args.http_only):
        print("command line ...", flush=True)
        result["cli"] = cli(bundle_path, listings, base, baseline)
    if not args.no_http:
        env = dict(kv.split("=", 1) for kv in args.service_env)
        env.setdefault("RECALLGUARD_EMBEDDING_CACHE", "0")  # distinct listings: no free hits
        print("over HTTP ...", flush=True)
        result["http"] = over_http(bundle_path, every[n:], args.quick, env)
    result["machine"]["load_average_end"] = os.getloadavg()
    print(table(result))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=str))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
