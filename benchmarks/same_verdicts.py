"""Write every verdict a bundle gives on the evaluation split, to compare two code versions.

A restructure must not change what is decided. Run this once with the old code on the path and
once with the new, on the same bundle, then compare:

    PYTHONPATH=/tmp/old python benchmarks/same_verdicts.py --bundle B --out old.jsonl
    PYTHONPATH=$PWD     python benchmarks/same_verdicts.py --bundle B --out new.jsonl
    python benchmarks/same_verdicts.py --compare old.jsonl new.jsonl

The listings are the bundle's held-out evaluation split (`training.heldout.evaluation_set`
with the evaluation seed, as `recallguard evaluate` uses) plus the real-listing development
set; each is screened by the plain `Screener` and by the served screener (`make_screener`:
the lexical-gate cascade when the bundle carries a gate threshold). A verdict is its decision,
its matched entry, its candidate ids and its probability (rounded to 1e-6).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any


def verdict_row(kind: str, listing_id: str, verdict: Any) -> dict[str, Any]:
    return {
        "path": kind,
        "listing": listing_id,
        "decision": verdict.decision,
        "match": verdict.match.entry_id if verdict.match else None,
        "candidates": [c.entry_id for c in verdict.candidates],
        "probability": round(float(verdict.probability), 6),
    }


def write(bundle_path: Path, out: Path, sample: int | None) -> None:
    from model.matching.bundle import CONFIG_FILE, Bundle
    from model.matching.cascade import make_screener
    from model.matching.screener import Screener
    from training.heldout import build_config, evaluation_set
    from training.loaders import load_amazon_listings
    from training.realworld import load_cases

    stored = json.loads((bundle_path / CONFIG_FILE).read_text())
    config = build_config(stored.get("training", {}))
    bundle = Bundle.load(bundle_path)
    benign = load_amazon_listings()
    held = evaluation_set(bundle.index.entries, benign, config, config.seed + 1, sample)
    listings = [*held.listings, *(c.listing for c in load_cases())]
    rows = []
    for kind, screener in (("plain", Screener(bundle)), ("served", make_screener(bundle))):
        verdicts = screener.screen(listings)
        rows += [verdict_row(kind, f"{i}:{x.listing_id}", v)
                 for i, (x, v) in enumerate(zip(listings, verdicts, strict=True))]  # fmt: skip
    out.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))
    counts = Counter((r["path"], r["decision"]) for r in rows)
    print(f"{len(listings)} listings x 2 paths -> {out}: {dict(sorted(counts.items()))}")


def compare(a: Path, b: Path) -> int:
    left = [json.loads(line) for line in a.read_text().splitlines()]
    right = [json.loads(line) for line in b.read_text().splitlines()]
    if len(left) != len(right):
        print(f"different lengths: {len(left)} vs {len(right)}")
        return 1
    differ = [(x, y) for x, y in zip(left, right, strict=True) if x != y]
    decisions = sum(x["decision"] != y["decision"] for x, y in differ)
    print(f"{len(left)} verdicts compared: {len(differ)} differ ({decisions} in decision)")
    for x, y in differ[:5]:
        print(f"  {x}\n  {y}")
    return 1 if differ else 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bundle", type=Path)
    p.add_argument("--out", type=Path)
    p.add_argument("--sample", type=int, default=None, help="attacked/benign listings to keep")
    p.add_argument("--compare", nargs=2, type=Path, metavar=("OLD", "NEW"))
    args = p.parse_args(argv)
    if args.compare:
        return compare(*args.compare)
    if not args.bundle or not args.out:
        p.error("--bundle and --out are required (or --compare OLD NEW)")
    write(args.bundle, args.out, args.sample)
    return 0


if __name__ == "__main__":
    sys.exit(main())
