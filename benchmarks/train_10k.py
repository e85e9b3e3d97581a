"""How long `recallguard train` takes on 10,000 labelled pairs with its CPU-sized defaults.

Makes ~10,000 realistic training pairs (+ validation pairs) from the real blocklist and Amazon
listings with `training.make_pairs`, writes them as JSONL, then times what the command does:
loading and validating the files, then `train_bundle` (fine-tuning, re-indexing, classifier
rows, synthetic examples, calibration, thresholds). Prints wall and process CPU seconds per
phase; registration is left out (it is a file copy).

    .venv/bin/python benchmarks/train_10k.py --base artifacts/default-bundle
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")


def main() -> int:
    from model.matching.bundle import Bundle
    from model.matching.candidates import CandidateSearch
    from training.loaders import load_amazon_listings
    from training.make_pairs import build_split, make_pairs, sample_entries, split_pairs
    from training.pairs import load_pairs, write_pairs
    from training.train import TrainConfig, load_base, train_bundle

    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--base", type=Path, required=True, help="base bundle folder")
    p.add_argument("--pairs", type=int, default=10_000, help="training pairs wanted")
    p.add_argument("--out", type=Path, default=None, help="also write the timings as JSON here")
    args = p.parse_args()

    bundle = Bundle.load(args.base)
    search = CandidateSearch(bundle.encoder, bundle.index, bundle.config.search_k)
    entries = sample_entries(bundle.index.entries, len(bundle.index.entries))
    amazon = load_amazon_listings()
    benign = build_split(amazon, "test") + build_split(amazon, "valid")
    # ~6 pairs per entry (4 evasive listings, half with a near-miss) plus benign ones.
    n_entries = min(len(entries), int(args.pairs * 1.2 / 6))
    pairs = make_pairs(search, benign[: args.pairs // 4], 4, seed=7, entries=entries[:n_entries])
    share = min(args.pairs / len(pairs), 0.95)
    train_pairs, valid_pairs = split_pairs(pairs, (share, 1 - share))
    work = Path(tempfile.mkdtemp(prefix="train-10k-"))
    train_file = write_pairs(work / "train.jsonl", train_pairs)
    valid_file = write_pairs(work / "valid.jsonl", valid_pairs)
    print(f"pairs: {len(train_pairs)} train, {len(valid_pairs)} valid in {work}", flush=True)

    timings: dict[str, float] = {}
    wall, cpu = time.perf_counter(), time.process_time()
    base = load_base(args.base)
    train = load_pairs(train_file, base.entries)
    valid = load_pairs(valid_file, base.entries)
    timings["load_wall_s"] = time.perf_counter() - wall
    timings["load_cpu_s"] = time.process_time() - cpu
    benign_train = build_split(amazon, "train")
    w2, c2 = time.perf_counter(), time.process_time()
    result = train_bundle(base, train, valid, TrainConfig(), benign=benign_train)
    timings["train_wall_s"] = time.perf_counter() - w2
    timings["train_cpu_s"] = time.process_time() - c2
    timings["total_wall_s"] = time.perf_counter() - wall
    timings["total_cpu_s"] = time.process_time() - cpu
    report = {
        "train_pairs": len(train.pairs),
        "valid_pairs": len(valid.pairs),
        "cpus": len(os.sched_getaffinity(0)),
        "load_average_1m": os.getloadavg()[0],
        "finetune": result.finetune.__dict__ if result.finetune else None,
        "rows": result.rows,
        "timings": {k: round(v, 1) for k, v in timings.items()},
        "validation": {
            k: result.validation[k] for k in ("pr_auc", "recall_at_precision_target", "ece")
        },
    }
    print(json.dumps(report, indent=2, default=str))
    if args.out:
        args.out.write_text(json.dumps(report, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
