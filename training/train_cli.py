"""`recallguard train` and `recallguard promote`: from a labelled pairs file to a served bundle.

    recallguard train --pairs train.jsonl --valid valid.jsonl     # new bundle, registered
    recallguard evaluate --model recallguard:<version> --pairs test.jsonl
    recallguard promote recallguard:<version> --valid test.jsonl  # served after a restart

Registering never changes what is served: if nothing was promoted yet, `train` first pins the
bundle served until now as promoted, and only `promote` moves the service to the new one.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def _summary(result: Any) -> str:
    v = result.validation
    t = result.bundle.config.thresholds
    lines = [
        f"bundle {result.bundle.config.version}",
        f"  thresholds: block >= {t.block:.4f}, review >= {t.review:.4f}",
        f"  validation ({v['n_pairs']} pairs): block precision {v['block']['precision']:.4f} "
        f"recall {v['block']['recall']:.4f}; review recall {v['review']['recall']:.4f}",
        f"  PR-AUC {v['pr_auc']:.4f}; recall at precision >= {v['precision_target']}: "
        f"{v['recall_at_precision_target']:.4f}; ECE {v['ece']:.4f}; reach {v['reach']}",
        f"  classifier rows: {result.rows['rows']} ({result.rows['positive_rows']} positive)",
        # README, Retraining: why a retrained bundle carries no gate.
        "  cascade gate: none (every listing gets the full pipeline, slower than a gated bundle)",
    ]
    if result.finetune:
        f = result.finetune
        lines.append(
            f"  fine-tuning: {f.triplets} triplets, {f.steps} steps, loss {f.train_loss:.4f}, "
            f"{f.seconds:.0f} s"
        )
    return "\n".join(lines)


def _report_skipped(pair_set: Any) -> None:
    if pair_set.skipped:
        print(
            f"warning: {pair_set.path}: skipped {len(pair_set.skipped)} bad row(s) (--skip-bad); "
            f"first: {pair_set.skipped[0]}",
            file=sys.stderr,
        )


def cmd_train(args: argparse.Namespace) -> int:
    from model.runtime import registry
    from training.finetune import FinetuneConfig
    from training.pairs import load_pairs
    from training.train import TrainConfig, load_base, train_bundle

    base_path = None if args.base == "none" else registry.resolve(args.base)
    print(f"base: {base_path or 'none (packaged encoder, blocklist from the pairs files)'}")
    base = load_base(base_path)
    train = load_pairs(args.pairs, base.entries, skip_bad=args.skip_bad)
    valid = load_pairs(args.valid, [*base.entries, *train.new_entries], skip_bad=args.skip_bad)
    for pair_set in (train, valid):
        _report_skipped(pair_set)
    shared = {p.listing_key() for p in train.pairs} & {p.listing_key() for p in valid.pairs}
    if shared:
        print(
            f"warning: {len(shared)} listing(s) appear in both the training and the validation "
            "pairs; validation numbers will be optimistic",
            file=sys.stderr,
        )
    print(
        f"training pairs: {len(train.pairs)} ({train.n_positive} match); "
        f"validation pairs: {len(valid.pairs)} ({valid.n_positive} match)"
    )
    tune = FinetuneConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        max_seq_length=args.max_seq_length,
        learning_rate=args.learning_rate,
        max_triplets=args.max_triplets,
        seed=args.seed,
        progress=not args.no_progress,
    )
    config = TrainConfig(
        finetune=tune,
        seed=args.seed,
        match_threshold=args.match_threshold,
        synthetic=args.synthetic if base.bundle else 0,
    )
    benign = []
    if config.synthetic:
        from training.loaders import load_amazon_listings
        from training.make_pairs import build_split

        benign = build_split(load_amazon_listings(), "train")
    result = train_bundle(base, train, valid, config, benign=benign)
    print(_summary(result))
    if args.out is not None:
        result.bundle.save(args.out)
        print(f"saved to {args.out}")
    if not args.no_register:
        version = result.bundle.config.version
        pinned = registry.pin_served(f"`recallguard train` registered {version}")
        if pinned:
            print(f"nothing was promoted yet: pinned {pinned} (served until now) as promoted")
        tag = registry.register(result.bundle, labels={"kind": "retrain"})
        print(f"registered as {tag}")
        print(f"next: recallguard evaluate --model {tag} --pairs TEST.jsonl")
        print(f"      recallguard promote {tag} --valid TEST.jsonl")
    return 0


def cmd_promote(args: argparse.Namespace) -> int:
    from training.promote import promote

    result = promote(
        args.tag,
        force=args.force,
        valid=args.valid,
        ece_tolerance=args.ece_tolerance,
        skip_bad=args.skip_bad,
    )
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    for name, metrics in (
        ("candidate", result.candidate_metrics),
        ("current", result.current_metrics),
    ):
        if metrics:
            shown = ", ".join(f"{k} {v:.4f}" for k, v in metrics.items())
            print(f"{name} {getattr(result, name)}: {shown}")
    if not result.passed:
        print(
            f"recallguard: promotion refused ({result.basis}): {'; '.join(result.reasons)}; "
            f"{result.current} stays served (--force to promote anyway)",
            file=sys.stderr,
        )
        return 1
    print(f"promoted {result.candidate} ({result.basis}); the service serves it after a restart")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="retrain on labelled pairs: fine-tune, calibrate, register")
    p.add_argument("--pairs", type=Path, required=True, help="training pairs (.jsonl or .csv)")
    p.add_argument("--valid", type=Path, required=True, help="validation pairs (thresholds)")
    p.add_argument(
        "--base",
        default=None,
        help="bundle folder or store tag to start from (default: the served bundle); "
        "'none' starts from the packaged encoder with only the pairs' own entries",
    )
    p.add_argument("--epochs", type=float, default=1.0, help="fine-tuning epochs (0: keep encoder)")
    p.add_argument("--out", type=Path, default=None, help="also write the bundle folder here")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--match-threshold",
        action="store_true",
        help="one F1-maximising threshold (plain pair matching) instead of block/review targets",
    )
    p.add_argument(
        "--synthetic",
        type=int,
        default=3000,
        help="mix this many of the build's synthetic examples into the classifier's training "
        "(0: labelled pairs only; always 0 with --base none)",
    )
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--max-seq-length", type=int, default=64)
    p.add_argument("--learning-rate", type=float, default=5e-5)
    p.add_argument(
        "--max-triplets",
        type=int,
        default=2048,
        help="fine-tuning triplets per epoch, a seeded sample (0: all); bounds CPU time",
    )
    p.add_argument(
        "--skip-bad", action="store_true", help="skip bad rows (counted) instead of failing"
    )
    p.add_argument("--no-register", action="store_true", help="do not add it to the BentoML store")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser(
        "promote", help="serve a bundle if it is at least as good as the current one"
    )
    p.add_argument("tag", help="store tag of the bundle, e.g. recallguard:20261128…")
    p.add_argument("--force", action="store_true", help="skip the validation gate")
    p.add_argument("--valid", type=Path, default=None, help="score both bundles on these pairs")
    p.add_argument("--ece-tolerance", type=float, default=0.01)
    p.add_argument("--skip-bad", action="store_true")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_promote)
