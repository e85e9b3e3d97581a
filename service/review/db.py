"""Engine construction: SQLite in WAL mode with explicit transactions, or PostgreSQL (psycopg 3).

The schema comes from the Alembic migrations (`service.review.migrate`), never ``create_all``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from model.runtime.private_files import create_private
from model.runtime.sqlite_wal import use_wal

from .migrate import ensure_schema


class DatabaseMissingError(FileNotFoundError):
    """The SQLite file named by the URL does not exist and creating it was not asked for."""


def to_db_time(value: datetime) -> datetime:
    """Naive UTC, the form every time column holds. A naive input is taken to be UTC."""
    if value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


def from_db_time(value: datetime | None) -> datetime | None:
    return None if value is None else value.replace(tzinfo=UTC)


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL, or None for other databases and in-memory SQLite."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database)


def with_driver(url: str) -> str:
    """A bare ``postgresql://`` URL gets psycopg 3, the driver we ship (SQLAlchemy's own default
    is psycopg2, which is not installed)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return url


def make_engine(url: str, *, create: bool = True, check_schema: bool = True) -> Engine:
    """An engine on a migrated schema. SQLite: WAL, FULL sync, busy timeout, FKs on.

    An empty database is migrated to the newest revision; one at an older revision raises
    `SchemaOutdatedError` (run ``recallguard db upgrade``). ``check_schema=False`` skips both,
    for the upgrade command itself.

    On SQLite, pysqlite's own implicit BEGIN is switched off and each transaction begins with
    the mode named by the ``sqlite_begin`` execution option (``DEFERRED`` for reads,
    ``IMMEDIATE`` for writes) so that a writer takes the lock up front instead of failing to
    upgrade a read lock when another process wrote in between.
    """
    url = with_driver(url)
    path = sqlite_path(url)
    if path is not None:
        if not path.exists():
            if not create:
                raise DatabaseMissingError(f"no review database at {path}")
            create_private(path)  # 0600: SQLite gives its -wal and -shm files the same mode
        engine = create_engine(url, connect_args={"timeout": 30.0, "check_same_thread": False})
        _configure_sqlite(engine)
    else:
        engine = create_engine(url, pool_pre_ping=True)
    if not check_schema:
        return engine
    try:
        ensure_schema(engine)
    except BaseException:
        engine.dispose()
        raise
    return engine


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            use_wal(cursor)  # retried while busy: workers may open a fresh file together
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        if mode not in ("DEFERRED", "IMMEDIATE"):
            raise ValueError(f"unknown sqlite_begin mode {mode!r}")
        conn.exec_driver_sql(f"BEGIN {mode}")


def writer(engine: Engine) -> Engine:
    """The same engine (same pool) whose transactions take the write lock at BEGIN on SQLite."""
    if engine.dialect.name == "sqlite":
        return engine.execution_options(sqlite_begin="IMMEDIATE")
    return engine


def utcnow() -> datetime:
    return datetime.now(UTC)
