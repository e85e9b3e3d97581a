"""`recallguard blocklist ...` and `recallguard catalog ...`: the blocklist's lifecycle by hand.

Changes go to the durable store under ``$RECALLGUARD_DATA_HOME`` (the same one the service
reads), so an import is live in a running service within a second and survives restarts and
model promotions. Every change is recorded with who (``--actor``, default the login name), when
and why (``--reason``).
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path
from typing import Any

from model.runtime.blocklist_changes import ApplyResult
from model.runtime.blocklist_store import BlocklistStore
from model.schema import BlocklistEntry
from model.settings import Settings
from training.importers import SOURCES, read_entries


def open_store() -> BlocklistStore:
    return BlocklistStore(Settings.from_env().data_home / "blocklist")


def bundle_entries(ref: str | None) -> dict[str, BlocklistEntry] | None:
    """The served bundle's entries by id (None when no bundle can be found)."""
    from model.runtime.registry import BundleNotFoundError, resolve

    try:
        path = resolve(ref)
    except BundleNotFoundError:
        if ref:
            raise
        return None
    lines = (path / "entries.jsonl").read_text(encoding="utf-8").splitlines()
    entries = [BlocklistEntry.from_dict(json.loads(x)) for x in lines if x.strip()]
    return {e.entry_id: e for e in entries}


def _actor(args: argparse.Namespace) -> str:
    return str(args.actor or getpass.getuser())


def _summary(result: ApplyResult) -> str:
    counts = (f"{len(result.added)} added, {len(result.updated)} updated, "
              f"{len(result.removed)} removed, {len(result.unchanged)} unchanged")  # fmt: skip
    cs = result.change_set
    if cs is None:
        return f"{counts}; nothing to record"
    return f"{counts}; recorded as change {cs.seq} by {cs.actor} at {cs.at}"


def cmd_import(args: argparse.Namespace) -> int:
    batch = read_entries(args.file, args.source)
    for warning in batch.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"{args.file}: {len(batch.entries)} entries ({batch.format})")
    if args.dry_run:
        return 0
    reason = args.reason or f"import {args.source} {Path(args.file).name}"
    base = bundle_entries(args.bundle)
    result = open_store().upsert(batch.entries, _actor(args), reason, base=base)
    print(_summary(result))
    return 0


def _row(record: dict[str, Any]) -> str:
    entry = record.get("entry") or {}
    name = entry.get("product_name", "")
    return (f"{record['entry_id']:<24} {record['status']:<8} change {record['seq']:<5} "
            f"{record['at'][:19]}  {record['actor']:<16} {name[:60]}")  # fmt: skip


def cmd_list(args: argparse.Namespace) -> int:
    state = open_store().state()
    records = [r.to_dict() for r in sorted(state.records.values(), key=lambda r: r.entry_id)
               if args.status in (None, r.status)]  # fmt: skip
    if args.json:
        print(json.dumps(records, indent=2, ensure_ascii=False))
    elif not records:
        print("no run-time changes: the blocklist is the served bundle's as built")
    else:
        print(f"{len(records)} entries changed at run time (store change {state.seq}):")
        for record in records:
            print(_row(record))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    store = open_store()
    record = store.state().records.get(args.entry_id)
    history = store.history(args.entry_id)
    base = bundle_entries(args.bundle) or {}
    in_bundle = base.get(args.entry_id)
    if record is None and in_bundle is None:
        raise LookupError(f"no blocklist entry {args.entry_id!r} in the store or the bundle")
    status: str
    if record is not None:
        entry, status = record.entry, record.status
    else:
        entry, status = in_bundle, "active (as built in the bundle)"
    out = {
        "entry_id": args.entry_id,
        "status": status,
        "in_bundle": in_bundle is not None,
        "entry": None if entry is None else entry.to_dict(),
        "history": [c.to_dict() for c in history],
    }
    if args.json:
        print(json.dumps(out, indent=2, ensure_ascii=False))
        return 0
    print(f"{args.entry_id}: {status}{'; also in the bundle' if in_bundle and record else ''}")
    for key, value in (out["entry"] or {}).items():
        if value:
            print(f"  {key}: {value}")
    for cs in history:
        for change in cs.changes:
            detail = f" ({', '.join(change.fields)})" if change.fields else ""
            print(f"  change {cs.seq} {cs.at} {cs.actor}: {change.op}{detail}"
                  f"{' — ' + cs.reason if cs.reason else ''}")  # fmt: skip
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    base = bundle_entries(args.bundle) or {}
    result = open_store().remove(args.entry_ids, _actor(args), args.reason, known=base)
    print(_summary(result))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("blocklist", help="import, list, show and remove blocklist entries")
    sub = p.add_subparsers(dest="blocklist_command", required=True)

    def common(q: argparse.ArgumentParser) -> None:
        q.add_argument("--actor", default=None, help="who makes the change (default: login)")
        q.add_argument("--bundle", default=None, help="bundle path or tag (default: served one)")

    q = sub.add_parser("import", help="import a CPSC, EU Safety Gate or manual list")
    q.add_argument("file", type=Path)
    q.add_argument("--source", required=True, choices=SOURCES)
    q.add_argument("--reason", default="", help="why (default: 'import SOURCE FILE')")
    q.add_argument("--dry-run", action="store_true", help="validate and count, change nothing")
    common(q)
    q.set_defaults(func=cmd_import)

    q = sub.add_parser("list", help="entries added, changed or removed at run time")
    q.add_argument("--status", choices=("active", "removed"), default=None)
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_list)

    q = sub.add_parser("show", help="one entry and its change history")
    q.add_argument("entry_id")
    q.add_argument("--json", action="store_true")
    q.add_argument("--bundle", default=None)
    q.set_defaults(func=cmd_show)

    q = sub.add_parser("remove", help="stop blocking an entry (recorded with a reason)")
    q.add_argument("entry_ids", nargs="+", metavar="ID")
    q.add_argument("--reason", required=True)
    common(q)
    q.set_defaults(func=cmd_remove)

    from training.catalog_cli import register_catalog

    register_catalog(subparsers)
