"""The `recallguard` console script: one entry point for building, screening and serving.

Each subcommand lives in the module that owns it and registers itself here through a small
`register(subparsers)` hook, so this file stays a dispatcher.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from model.settings import Settings

if TYPE_CHECKING:  # the bundle pulls in torch: only when a command runs
    from model.matching.bundle import Bundle

# Defaults for the libraries (not RecallGuard settings): offline model loading, no telemetry.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("BENTOML_DO_NOT_TRACK", "true")


PLUGINS = (
    "training.screen_cli",  # recallguard screen
    "training.evaluate",  # recallguard evaluate
    "training.gate",  # recallguard gate
    "training.train_cli",  # recallguard train / promote
    "training.blocklist_cli",  # recallguard blocklist / catalog
    "service.review.cli",  # recallguard export-labels / keys / takedowns
    "service.review.db_cli",  # recallguard db upgrade / current
)


class CLIError(Exception):
    """A user mistake: printed as one line, exit status 2, no traceback."""


def cmd_build(args: argparse.Namespace) -> int:
    from model.runtime import registry

    if args.if_missing and args.out is None and registry.has_bundle():
        print(
            "a bundle is already in the BentoML store; not rebuilding (drop --if-missing to force)"
        )
        return 0
    from training.build import BuildConfig, build_bundle
    from training.loaders import load_amazon_listings, load_default_blocklist

    entries = load_default_blocklist()
    benign = load_amazon_listings()
    if args.limit_benign:
        benign = benign[: args.limit_benign]
    config = BuildConfig(seed=args.seed)
    bundle = build_bundle(entries, benign, config)
    report = bundle.config.metrics["validation"]
    t = bundle.config.thresholds
    print(
        f"bundle {bundle.config.version}: block >= {t.block:.4f} (validation precision "
        f"{report['block_precision']:.4f}, recall {report['block_recall']:.4f}); "
        f"review >= {t.review:.4f} (recall {report['review_recall']:.4f})"
    )
    save_and_register(bundle, args.out, register=not args.no_register)
    return 0


def save_and_register(bundle: Bundle, out: Path | None, register: bool) -> None:
    """Write `bundle` to `out` (if given) and add it to the BentoML store (if `register`)."""
    from model.runtime import registry

    if out is not None:
        bundle.save(out)
        print(f"saved to {out}")
    if register:
        print(f"registered as {registry.register(bundle)}")


def cmd_serve(args: argparse.Namespace) -> int:
    env = dict(os.environ)
    if args.bundle:
        env["RECALLGUARD_BUNDLE"] = args.bundle
    from model.matching.bundle import verify
    from model.runtime.registry import resolve

    # A bundle that cannot load fails here, with its reason and exit code 2, before the server
    # starts (the server itself would stay up with /readyz answering 503 and the reason).
    verify(resolve(args.bundle))
    root = Path(__file__).resolve().parents[1]
    cmd = [
        sys.executable,
        "-m",
        "bentoml",
        "serve",
        "service.service:RecallGuard",
        "--port",
        str(args.port),
        "--host",
        args.host,
    ]
    return subprocess.call(cmd, cwd=root, env=env)


def cmd_models(args: argparse.Namespace) -> int:
    from model.runtime import registry

    rows = registry.list_bundles()
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
        return 0
    if not rows:
        print("no bundles; run `recallguard build`")
    for row in rows:
        meta = row["metadata"]
        t = meta.get("thresholds", {})
        m = meta.get("metrics", {})
        shown = [
            f"{name}={m[key]:.4f}"
            for name, key in (
                ("block_precision", "validation.block_precision"),
                ("block_recall", "validation.block_recall"),
                ("review_recall", "validation.review_recall"),
                ("recall@p", "validation.recall_at_precision_target"),
                ("ece", "validation.ece"),
                ("pr_auc", "validation.pr_auc"),
            )
            if isinstance(m.get(key), (int, float))
        ]
        mark = "* " if row.get("promoted") else "  "
        base = f"  base={meta['base_model']}" if meta.get("base_model") else ""
        # Recorded since 2026-11-30; older registrations show none.
        gate = f"  cascade={registry.shown_gate(meta['gate'])}" if meta.get("gate") else ""
        print(
            f"{mark}{row['tag']}  created {row['created'][:19]}  block>={t.get('block')}  "
            f"review>={t.get('review')}  {' '.join(shown)}{gate}{base}  labels={row['labels']}"
        )
    if rows:
        print("* = promoted (served by `recallguard serve`); without one, the newest is served")
    return 0


def build_parser(
    extra: Sequence[Callable[[argparse._SubParsersAction], None]] = (),
) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="recallguard",
        description="Keep recalled and dangerous toys off marketplaces.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("build", help="build the default bundle from the bundled real data")
    p.add_argument("--out", type=Path, default=None, help="also write the bundle folder here")
    p.add_argument("--no-register", action="store_true", help="do not add it to the BentoML store")
    p.add_argument("--if-missing", action="store_true", help="do nothing if a bundle exists")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--limit-benign", type=int, default=0, help="use only the first N benign listings"
    )
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("serve", help="serve the screening API with BentoML")
    p.add_argument("--port", type=int, default=Settings.from_env().port)
    p.add_argument("--host", default="0.0.0.0")
    p.add_argument("--bundle", default=None, help="bundle folder or store tag (default: latest)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("models", help="list bundles in the BentoML store")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_models)

    for register in extra:
        register(sub)
    return parser


def _plugins() -> list[Callable[[argparse._SubParsersAction], None]]:
    """Subcommands owned by other modules; a missing optional module just drops its commands."""
    import importlib

    hooks = []
    for name in PLUGINS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        hooks.append(module.register)
    return hooks


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser(_plugins())
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (CLIError, FileNotFoundError, ValueError, LookupError) as exc:
        print(f"recallguard: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
