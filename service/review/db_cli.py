"""`recallguard db upgrade|current`: create or upgrade the reviewer-queue database.

The URL is ``--db`` or the service's own (``RECALLGUARD_REVIEW_DB_URL``, default the SQLite
file in ``RECALLGUARD_DATA_HOME``). Expected failures print one line and return 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from sqlalchemy.exc import SQLAlchemyError

from .config import ConfigError, ReviewConfig
from .db import DatabaseMissingError, make_engine, with_driver
from .migrate import BASELINE, SchemaOutdatedError, current_revision, head_revision, upgrade


def _url(args: argparse.Namespace) -> str:
    return with_driver(args.db or ReviewConfig.from_env().db_url)


def _upgrade(args: argparse.Namespace) -> int:
    # Without the schema check: an outdated schema is what this command fixes.
    engine = make_engine(_url(args), create=True, check_schema=False)
    try:
        result = upgrade(engine, args.revision)
    finally:
        engine.dispose()
    shown = engine.url.render_as_string(hide_password=True)
    if result.stamped_legacy:
        print(f"adopted tables made before migrations as revision {BASELINE}")
    if result.before == result.after and not result.stamped_legacy:
        print(f"{shown}: already at revision {result.after}")
    else:
        print(f"{shown}: upgraded {result.before or 'empty database'} -> {result.after}")
    return 0


def _current(args: argparse.Namespace) -> int:
    engine = make_engine(_url(args), create=False, check_schema=False)
    try:
        with engine.connect() as conn:
            revision = current_revision(conn)
    finally:
        engine.dispose()
    head = head_revision()
    state = "up to date" if revision == head else "run `recallguard db upgrade`"
    print(f"revision {revision or 'none'} (code expects {head}): {state}")
    return 0 if revision == head else 1


def _guarded(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except (SchemaOutdatedError, ConfigError, DatabaseMissingError, SQLAlchemyError, OSError,
                ValueError) as exc:  # fmt: skip
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            print(f"recallguard: error: {message}", file=sys.stderr)
            return 2

    return run


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    db = subparsers.add_parser("db", help="the reviewer-queue database schema").add_subparsers(
        dest="db_command", required=True
    )
    p = db.add_parser("upgrade", help="create the database or migrate it to the newest schema")
    p.add_argument("--db", default=None, help="SQLAlchemy URL (default: the service's)")
    p.add_argument("--revision", default="head", help="target revision (default: head)")
    p.set_defaults(func=_guarded(_upgrade))
    p = db.add_parser("current", help="show the schema revision; exit 1 when not the newest")
    p.add_argument("--db", default=None, help="SQLAlchemy URL (default: the service's)")
    p.set_defaults(func=_guarded(_current))
