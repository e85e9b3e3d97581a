"""`recallguard` subcommands of the reviewer queue: export-labels, keys, takedowns.

`register(subparsers)` adds them; each sets ``func`` to a handler ``(args) -> int`` (the exit
code), so the console script runs ``sys.exit(args.func(args))``. Expected failures print one
line on stderr and return 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from service.auth import ROLES, KeyConfigError, KeyStore

from .config import ConfigError, ReviewConfig
from .db import DatabaseMissingError
from .errors import ReviewError
from .labels import export_labels
from .notifier import TakedownNotifier, list_takedowns, retry_takedown
from .queue import ReviewQueue

Handler = Callable[[argparse.Namespace], int]
_EXPECTED = (ReviewError, KeyConfigError, ConfigError, DatabaseMissingError, SQLAlchemyError,
             OSError, ValueError)  # fmt: skip


def parse_since(value: str) -> datetime:
    """YYYY-MM-DD or an ISO datetime; without a zone it is UTC."""
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a date like 2025-01-31 or 2025-01-31T12:00:00+00:00, got {value!r}"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _guarded(handler: Handler) -> Handler:
    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except _EXPECTED as exc:
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            print(f"recallguard: error: {message}", file=sys.stderr)
            return 2

    return run


def _queue(args: argparse.Namespace) -> ReviewQueue:
    url = getattr(args, "db", None) or ReviewConfig.from_env().db_url
    return ReviewQueue(url, create=False)


def _export(args: argparse.Namespace) -> int:
    queue = _queue(args)
    try:
        count = export_labels(queue, args.since, args.out)
    finally:
        queue.close()
    print(f"wrote {count} labelled pairs to {args.out}", file=sys.stderr)
    return 0


def _keys_create(args: argparse.Namespace) -> int:
    key = KeyStore.from_env().create_key(args.role, args.name, expires_at=args.expires)
    print(key)
    until = f", expires {args.expires.isoformat()}" if args.expires else ""
    print(f"created {args.role} key {args.name!r}{until}: shown once, store it now",
          file=sys.stderr)  # fmt: skip
    return 0


def _keys_revoke(args: argparse.Namespace) -> int:
    record = KeyStore.from_env().revoke(args.name)
    print(f"revoked {record.role} key {record.name!r} at {record.revoked_at}", file=sys.stderr)
    return 0


def _keys_list(args: argparse.Namespace) -> int:
    store = KeyStore.from_env()
    print(f"{'NAME':<24} {'ROLE':<9} {'STATUS':<8} {'ORIGIN':<6} {'FINGERPRINT':<11} "
          f"{'CREATED':<25} EXPIRES")  # fmt: skip
    for record in store.records():
        p = record.public()
        print(f"{p['name']:<24} {p['role']:<9} {p['status']:<8} {p['origin']:<6} "
              f"{p['fingerprint']:<11} {p['created_at']:<25} {p['expires_at'] or '-'}")  # fmt: skip
    return 0


def _takedowns_list(args: argparse.Namespace) -> int:
    queue = _queue(args)
    try:
        rows = list_takedowns(queue, args.status, args.limit)
    finally:
        queue.close()
    print(f"{'ID':>6} {'ITEM':>6} {'STATUS':<9} {'TRIES':>5} {'NEXT/DELIVERED':<26} LAST ERROR")
    for r in rows:
        when = r.delivered_at if r.status == "delivered" else r.next_attempt_at
        stamp = when.isoformat() if when else "-"
        print(f"{r.id:>6} {r.item_id:>6} {r.status:<9} {r.attempts:>5} {stamp:<26} "
              f"{r.last_error or ''}")  # fmt: skip
    return 0


def _takedowns_retry(args: argparse.Namespace) -> int:
    queue = _queue(args)
    try:
        record = retry_takedown(queue, args.id)
    finally:
        queue.close()
    print(f"takedown {record.id} is pending again", file=sys.stderr)
    return 0


def _takedowns_deliver(args: argparse.Namespace) -> int:
    config = ReviewConfig.from_env()
    if not config.webhook_url:
        raise ConfigError("RECALLGUARD_TAKEDOWN_WEBHOOK_URL is not set")
    queue = _queue(args)
    notifier = TakedownNotifier(queue, config.webhook_url, token=config.webhook_token)
    try:
        delivered = notifier.deliver_due()
    finally:
        notifier.close()
        queue.close()
    print(f"delivered {delivered} takedowns", file=sys.stderr)
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    db_help = "SQLAlchemy URL (default: RECALLGUARD_REVIEW_DB_URL, else SQLite in the data home)"
    p = subparsers.add_parser("export-labels", help="write reviewer decisions as labelled pairs")
    p.add_argument("--since", required=True, type=parse_since, help="YYYY-MM-DD or ISO time")
    p.add_argument("--out", required=True, type=Path, help="JSONL file to write")
    p.add_argument("--db", help=db_help)
    p.set_defaults(func=_guarded(_export))

    keys = subparsers.add_parser("keys", help="manage API keys").add_subparsers(
        dest="keys_command", required=True
    )
    p = keys.add_parser("create", help="create a key; prints it once")
    p.add_argument("--role", required=True, choices=ROLES)
    p.add_argument("--name", required=True, help="who holds it (one key per person)")
    p.add_argument(
        "--expires", type=parse_since, default=None,
        help="when it stops working: YYYY-MM-DD or ISO time (UTC if no zone)",
    )  # fmt: skip
    p.set_defaults(func=_guarded(_keys_create))
    p = keys.add_parser("revoke", help="switch a key off for good (its name can get a new key)")
    p.add_argument("name")
    p.set_defaults(func=_guarded(_keys_revoke))
    keys.add_parser("list", help="list keys (never the keys)").set_defaults(
        func=_guarded(_keys_list)
    )

    tds = subparsers.add_parser("takedowns", help="the takedown outbox").add_subparsers(
        dest="takedowns_command", required=True
    )
    p = tds.add_parser("list", help="show outbox rows, newest first")
    p.add_argument("--status", choices=("pending", "delivered", "failed"))
    p.add_argument("--limit", type=int, default=100)
    p.add_argument("--db", help=db_help)
    p.set_defaults(func=_guarded(_takedowns_list))
    p = tds.add_parser("retry", help="put a failed takedown back in the outbox")
    p.add_argument("id", type=int)
    p.add_argument("--db", help=db_help)
    p.set_defaults(func=_guarded(_takedowns_retry))
    p = tds.add_parser("deliver", help="one delivery pass now")
    p.add_argument("--db", help=db_help)
    p.set_defaults(func=_guarded(_takedowns_deliver))
