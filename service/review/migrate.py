"""Schema migrations of the reviewer queue, with Alembic (scripts in ``migrations/``).

The service never calls ``create_all``: `ensure_schema` creates a fresh (empty) database by
running every migration, accepts one at the current head, and refuses any other with
`SchemaOutdatedError`, whose message says to run ``recallguard db upgrade`` (MLflow's rule
for its tracking database: an explicit, logged upgrade, never a silent one at start-up).
A database made by ``create_all`` before migrations existed has the tables of the first
revision but no ``alembic_version``; `upgrade` stamps it with that revision, then goes on.

On PostgreSQL every migration run holds a transaction-level advisory lock, so two workers
starting on a fresh database do not both create the tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
BASELINE = "0001"  # the revision whose tables `create_all` made before migrations existed
_LOCK_KEY = 0x52_47_51_55  # "RGQU": the advisory lock of reviewer-queue migrations
_BASELINE_TABLES = {"review_items", "review_decisions", "review_audit", "takedown_outbox"}


class SchemaOutdatedError(RuntimeError):
    """The database's schema is not the one this code was written for."""


@dataclass(frozen=True)
class UpgradeResult:
    before: str | None  # revision before the upgrade; None for an empty database
    after: str | None  # None after a downgrade to base
    stamped_legacy: bool  # tables from create_all were adopted as the baseline revision


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


@lru_cache(maxsize=1)
def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise SchemaOutdatedError(f"no migrations found in {MIGRATIONS}")
    return head


def current_revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def _state(conn: Connection) -> tuple[str | None, bool]:
    """(revision, has tables of the queue)."""
    tables = set(inspect(conn).get_table_names())
    return current_revision(conn), bool(tables & _BASELINE_TABLES)


def _lock(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_LOCK_KEY})")


def _write(engine: Engine) -> Engine:
    if engine.dialect.name == "sqlite":  # take SQLite's write lock at BEGIN (see db.writer)
        return engine.execution_options(sqlite_begin="IMMEDIATE")
    return engine


def upgrade(engine: Engine, revision: str = "head") -> UpgradeResult:
    """Bring the database up to `revision` (default: the newest), in one transaction."""
    return _migrate(engine, revision, down=False)


def downgrade(engine: Engine, revision: str) -> UpgradeResult:
    """Take the database down to `revision` ("base": no tables), in one transaction."""
    return _migrate(engine, revision, down=True)


def _migrate(engine: Engine, revision: str, *, down: bool) -> UpgradeResult:
    with _write(engine).begin() as conn:
        _lock(conn)
        before, has_tables = _state(conn)
        config = alembic_config()
        config.attributes["connection"] = conn
        legacy = before is None and has_tables
        if legacy:
            missing = _BASELINE_TABLES - set(inspect(conn).get_table_names())
            if missing:
                raise SchemaOutdatedError(
                    f"the database has some reviewer-queue tables but not {sorted(missing)} "
                    "and no migration history; it cannot be adopted automatically"
                )
            command.stamp(config, BASELINE)
        (command.downgrade if down else command.upgrade)(config, revision)
        after = current_revision(conn)
    return UpgradeResult(before=before, after=after, stamped_legacy=legacy)


def ensure_schema(engine: Engine) -> None:
    """Create a fresh database at head; accept one at head; refuse anything else."""
    head = head_revision()
    with engine.connect() as conn:
        revision, has_tables = _state(conn)
    if revision == head:
        return
    if revision is None and not has_tables:
        upgrade(engine)
        return
    url = engine.url.render_as_string(hide_password=True)
    found = "tables made before migrations existed" if revision is None else revision
    raise SchemaOutdatedError(
        f"the review database {url} has schema {found}, this code needs {head}; "
        "run `recallguard db upgrade` (back it up first)"
    )
