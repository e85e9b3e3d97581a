"""`recallguard evaluate`: the bundle on real listings first, then against three baselines on its
held-out synthetic attack suite.

Real listings (`training.realworld_eval`, screened with the service's own `make_screener`): the
development set `data/realworld-dev/` per kind for its tune half, test half and whole, and the
block / review rates on the held-out real Amazon UK listings. `--realworld-only` computes just
these (seconds for the dev set, about a minute more for the Amazon split on 2 cores), for
iterating on a bundle.

Held-out synthetic data is the bundle's own `test` split (entries attacked with every tactic
under a seed the build did not use, plus test-split real Amazon listings as benign negatives).
The model and the baselines are scored on the very same listings in the same run; baselines are
tuned on the validation split only. Targets are fixed here and the report says plainly which
are met.

`--pairs FILE` instead evaluates the bundle on a labelled pairs file through
`training.pairs_eval` (owned by the retraining work and imported only when asked for).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from training.metrics import ECE_BINS

if TYPE_CHECKING:  # the heavy modules load only when an evaluation runs, not for every command
    from model.matching.encoder import Encoder
    from model.schema import Listing
    from training.heldout import HeldOut
    from training.scoring import Scored

WORST = 25
# Baselines only tune two cut-offs; a few thousand validation listings pin them down, and
# encoding all of them would double the run time on 2 cores.
TUNING_CAP = 2000


@dataclass(frozen=True)
class Target:
    """A goal fixed before looking at results: `metric` of the model vs `bound`."""

    key: str
    label: str
    op: str  # ">=" or "<="
    bound: float

    def value(self, summary: dict[str, Any]) -> float:
        paths = {
            "recall_review": ("attacked", "recall_review", "rate"),
            "recall_block": ("attacked", "recall_block", "rate"),
            "fpr_block": ("benign", "fpr_block", "rate"),
            "benign_review": ("benign", "flagged_review_or_block", "rate"),
        }
        node: Any = summary
        for part in paths.get(self.key, (self.key,)):
            node = node[part]
        return float(node)

    def met(self, value: float) -> bool:
        return value >= self.bound if self.op == ">=" else value <= self.bound


TARGETS = (
    Target("recall_review", "recall of attacked variants at review (correct recall)", ">=", 0.95),
    Target("recall_block", "recall of attacked variants at block (correct recall)", ">=", 0.85),
    Target("fpr_block", "benign listings blocked (FPR at block)", "<=", 0.005),
    Target("benign_review", "benign listings reaching review (review or block)", "<=", 0.05),
    Target("ece", f"expected calibration error ({ECE_BINS} equal-width bins)", "<=", 0.03),
)


def target_table(summary: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for t in TARGETS:
        value = t.value(summary)
        rows.append(
            {"key": t.key, "label": t.label, "op": t.op, "bound": t.bound, "value": value,
             "met": t.met(value)}
        )  # fmt: skip
    return rows


def worst_misses(
    model: Scored, held: HeldOut, names: dict[str, str], n: int = WORST
) -> list[dict[str, Any]]:
    """Attacked listings the model did not send to review with the right recall, worst first:
    least probability on the true recall, then most confident in something else."""
    review = model.thresholds.review
    tops, scores = model.top, model.top_scores
    rows: list[dict[str, Any]] = []
    for i, truth in enumerate(held.truth):
        if truth is None:
            continue
        top = tops[i]
        top_score = float(scores[i])
        if top == truth and top_score >= review:
            continue
        rows.append(
            {
                "tactic": held.tactics[i],
                "title": held.listings[i].text(),
                "true_entry": truth,
                "true_name": names.get(truth, ""),
                "p_true": model.score_of(i, truth),
                "true_in_candidates": truth in model.candidates[i],
                "top_entry": top,
                "top_name": names.get(top or "", ""),
                "p_top": top_score,
            }
        )
    rows.sort(key=lambda r: (r["p_true"], -r["p_top"]))
    return rows[:n]


def false_alarms(
    model: Scored, held: HeldOut, names: dict[str, str], n: int = 15
) -> list[dict[str, Any]]:
    """Benign listings with the highest scores: what an honest seller would suffer from."""
    scores, tops = model.top_scores, model.top
    benign = [i for i, t in enumerate(held.truth) if t is None]
    benign.sort(key=lambda i: -scores[i])
    return [
        {
            "title": held.listings[i].text(),
            "top_entry": tops[i],
            "top_name": names.get(tops[i] or "", ""),
            "p_top": float(scores[i]),
            "decision": model.thresholds.decide(float(scores[i])),
        }
        for i in benign[:n]
    ]


def run_evaluation(
    bundle_path: Path,
    out: Path | None = None,
    sample: int | None = None,
    seed: int | None = None,
    encoder: Encoder | None = None,
    benign: list[Listing] | None = None,
    realworld: bool = True,
) -> dict[str, Any]:
    """Score the bundle on real listings (`realworld=False` skips them), then the bundle and the
    baselines on its held-out split; write the report folder (default
    `reports/eval-<bundle version>`) and return the report as a dict. `sample` also caps the
    held-out Amazon listings screened for the real-listing rates."""
    from model.matching.bundle import CONFIG_FILE, Bundle
    from model.matching.cascade import make_screener
    from model.matching.normalise import normalise
    from training.baselines import (
        ExactMatch,
        FuzzyMatch,
        PlainEmbedding,
        placeholder_thresholds,
        tune,
    )
    from training.heldout import build_config, evaluation_set, tuning_set
    from training.loaders import load_amazon_listings
    from training.report import write_report
    from training.scoring import score_model, summarise

    clock = time.perf_counter()
    stored = json.loads((Path(bundle_path) / CONFIG_FILE).read_text())
    config = build_config(stored.get("training", {}))
    seed = config.seed + 1 if seed is None else seed
    if seed == config.seed:
        raise ValueError(
            f"--seed {seed} is the seed the bundle was built with; evaluation attacks must use "
            "another one"
        )
    bundle = Bundle.load(bundle_path, encoder=encoder)
    out = Path("reports") / f"eval-{bundle.config.version}" if out is None else out
    benign = load_amazon_listings() if benign is None else benign
    entries = bundle.index.entries
    n_build = bundle.config.metrics.get("counts", {}).get("benign_listings") or len(benign)
    test = evaluation_set(entries, benign, config, seed, sample)
    tuning_cap = TUNING_CAP if sample is None else min(sample, TUNING_CAP)
    tuning = tuning_set(entries, benign[:n_build], config, seed, tuning_cap)
    if not test.n_positive or not test.n_benign:
        raise ValueError("the held-out split has no attacked or no benign listings to score")
    timings: dict[str, float] = {"load": round(time.perf_counter() - clock, 2)}
    real = None
    if realworld:
        from training.realworld_eval import run_realworld
        from training.report_realworld import real_targets

        now = time.perf_counter()
        amazon = benign if sample is None else _spread(benign, sample * 5)
        real = run_realworld(bundle, amazon)
        real["targets"] = real_targets(real)
        timings["realworld"] = round(time.perf_counter() - now, 2)

    def timed(name: str, start: float) -> float:
        now = time.perf_counter()
        timings[name] = round(now - start, 2)
        return now

    now = time.perf_counter()
    model = score_model(make_screener(bundle), test)
    now = timed("model", now)
    exact = ExactMatch(entries).score(test.listings)
    now = timed("exact_match", now)
    fuzzy = FuzzyMatch(entries)
    fuzzy_t = tune(
        tuning, fuzzy.score(tuning.listings, placeholder_thresholds()).top_scores, config
    )
    fuzzy_scored = fuzzy.score(test.listings, fuzzy_t)
    now = timed("rapidfuzz", now)
    plain = PlainEmbedding(entries, bundle.encoder)
    tuning_vectors = plain.vectors(tuning.listings)
    plain_t = tune(tuning, plain.score(tuning_vectors, placeholder_thresholds()).top_scores, config)
    plain_scored = plain.score(plain.vectors(test.listings), plain_t)
    timed("minilm_faiss", now)

    products = {e.entry_id: f"{normalise(e.brand)}|{normalise(e.product_name)}" for e in entries}
    systems = {
        s.name: summarise(s, test, products) for s in (model, exact, fuzzy_scored, plain_scored)
    }
    names = {e.entry_id: e.product_name for e in entries}
    report = {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "bundle": {"path": str(bundle_path), "version": bundle.config.version},
        "build_seed": config.seed,
        "attack_seed": seed,
        "sample": sample,
        "counts": {
            "test_entries": len({t for t in test.truth if t is not None}),
            "blocklist_entries": len(entries),
            "entries_with_repeat_notices": sum(
                n for n in Counter(products.values()).values() if n > 1
            ),
            "attacked_listings": test.n_positive,
            "benign_listings": test.n_benign,
            "tuning_listings": len(tuning),
            "tuning_positives": tuning.n_positive,
        },
        "realworld": real,
        "targets": {name: target_table(summary) for name, summary in systems.items()},
        "systems": systems,
        "worst_misses": worst_misses(model, test, names),
        "false_alarms": false_alarms(model, test, names),
        "timings_s": timings,
        "model_listings_per_s": round(len(test) / max(timings["model"], 1e-9), 1),
        "machine": f"{platform.machine()}, {platform.python_version()}",
        "out": str(out),
    }
    write_report(report, out)
    return report


def _spread(items: list[Listing], n: int) -> list[Listing]:
    """Every k-th item, about n of them (deterministic, spread over the whole file)."""
    step = max(1, len(items) // max(n, 1))
    return items[::step]


def run_realworld_only(
    bundle_path: Path,
    out: Path | None = None,
    amazon: bool = True,
    encoder: Encoder | None = None,
    benign: list[Listing] | None = None,
) -> dict[str, Any]:
    """Only the real-listing numbers for a bundle: the dev set (both halves, whole set) and,
    unless `amazon=False`, the held-out Amazon rates. With `out`, writes `realworld.json` and
    `realworld.md` there."""
    from model.matching.bundle import Bundle
    from training.realworld_eval import run_realworld
    from training.report_realworld import markdown, real_targets

    bundle = Bundle.load(bundle_path, encoder=encoder)
    result = run_realworld(bundle, benign, amazon=amazon)
    result["bundle"] = {"path": str(bundle_path), "version": bundle.config.version}
    result["targets"] = real_targets(result)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "realworld.json").write_text(json.dumps(result, indent=2))
        title = f"# Real-listing evaluation: bundle {bundle.config.version}"
        (out / "realworld.md").write_text("\n".join([title, "", *markdown(result)]))
    return result


def _realworld_only(args: argparse.Namespace, bundle_path: Path) -> int:
    from training.report_realworld import markdown

    result = run_realworld_only(bundle_path, args.out, amazon=not args.no_amazon)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print("\n".join(markdown(result)))
    sys.stdout.flush()
    return 0


def _pairs(args: argparse.Namespace, bundle_path: Path) -> int:
    import importlib

    try:
        pairs_eval = importlib.import_module("training.pairs_eval")
    except ModuleNotFoundError as exc:
        if exc.name != "training.pairs_eval":
            raise
        raise LookupError("pairs evaluation is not installed (training/pairs_eval.py)") from None
    if not args.pairs.is_file():
        raise FileNotFoundError(f"pairs file {args.pairs} does not exist")
    result = pairs_eval.evaluate_pairs(bundle_path, args.pairs)
    print(
        json.dumps(result, indent=2, default=str)
        if args.json
        else pairs_eval.pairs_markdown(result)
    )
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from model.runtime import registry

    if args.sample is not None and args.sample < 1:
        raise ValueError(f"--sample must be a positive number of listings, got {args.sample}")
    if args.out is not None and args.out.exists() and not args.out.is_dir():
        raise ValueError(f"--out {args.out} is a file; give a folder for the report")
    bundle_path = registry.resolve(args.model)
    if args.pairs is not None:
        return _pairs(args, bundle_path)
    if args.realworld_only:
        return _realworld_only(args, bundle_path)
    report = run_evaluation(bundle_path, args.out, args.sample, args.seed)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"report written to {report['out']}/report.md")
    for row in report["realworld"]["targets"] if report.get("realworld") else []:
        verdict = {True: "met", False: "NOT met", None: "not measured"}[row["met"]]
        value = "-" if row["value"] is None else f"{row['value']:.4f}"
        print(f"  {row['label']}: {value} (target {row['op']} {row['bound']}) {verdict}")
    for row in report["targets"]["model"]:
        verdict = "met" if row["met"] else "NOT met"
        print(f"  {row['label']}: {row['value']:.4f} (target {row['op']} {row['bound']}) {verdict}")
    sys.stdout.flush()
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "evaluate",
        help="evaluate a bundle on real listings, then against baselines on its held-out attacks",
    )
    p.add_argument("--model", default=None, help="bundle folder or store tag (default: latest)")
    p.add_argument("--out", type=Path, default=None, help="report folder (default: reports/eval-…)")
    p.add_argument(
        "--sample",
        type=int,
        default=None,
        help="about N attacked listings (equal share per tactic) and at most N benign ones",
    )
    p.add_argument(
        "--seed", type=int, default=None, help="attack seed (default: the build's seed + 1)"
    )
    p.add_argument(
        "--realworld-only",
        action="store_true",
        help="only the real-listing numbers: the dev set (tune/test/whole) and held-out Amazon",
    )
    p.add_argument(
        "--no-amazon",
        action="store_true",
        help="with --realworld-only: skip the held-out Amazon listings (dev set only, seconds)",
    )
    p.add_argument("--pairs", type=Path, default=None, help="evaluate on a labelled pairs file")
    p.add_argument("--json", action="store_true", help="print JSON instead of a summary")
    p.set_defaults(func=cmd_evaluate)
