"""Alembic migrations of the reviewer queue, on SQLite and a real PostgreSQL (`db_url`)."""

from __future__ import annotations

import sqlite3
from functools import partial
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, create_engine, inspect, select, text

from model.runtime.sqlite_wal import switch_to_wal
from service.review import ReviewQueue
from service.review.db import make_engine, sqlite_path, with_driver
from service.review.migrate import SchemaOutdatedError, downgrade, head_revision, upgrade
from service.review.models import items, metadata
from tests.test_review_queue import make_listing, make_verdict
from tests.threads import errors_when_run_together
from training.cli import main


def raw_engine(url: str) -> Engine:
    """An engine with no schema handling (the folder of a SQLite file made)."""
    path = sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    return create_engine(with_driver(url))


def revision_of(url: str) -> str | None:
    engine = raw_engine(url)
    with engine.connect() as conn:
        found = MigrationContext.configure(conn).get_current_revision()
    engine.dispose()
    return found


def test_a_fresh_database_is_built_by_the_migrations_and_matches_the_models(db_url: str) -> None:
    queue = ReviewQueue(db_url)
    assert revision_of(db_url) == head_revision()
    with queue.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
        tables = set(inspect(conn).get_table_names())
    queue.close()
    assert diff == [], f"models.py and the migrations disagree: {diff}"
    assert {t.name for t in metadata.sorted_tables} <= tables


def test_downgrade_to_nothing_and_back(db_url: str) -> None:
    engine = make_engine(db_url)
    assert downgrade(engine, "base").after is None
    assert revision_of(db_url) is None
    assert "review_items" not in inspect(engine).get_table_names()
    result = upgrade(engine)
    assert (result.before, result.after) == (None, head_revision())
    engine.dispose()
    queue = ReviewQueue(db_url)
    queue.enqueue(make_listing(), make_verdict())
    assert queue.counts()["pending"] == 1
    queue.close()


def test_tables_from_create_all_are_refused_until_db_upgrade_adopts_them(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    legacy = raw_engine(db_url)
    metadata.create_all(legacy)  # what the service did before migrations existed
    with legacy.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO review_items (dedup_key, source, listing_id, listing_json, "
                "candidates_json, model_version, state, created_by, created_at) VALUES "
                "('k', 'manual', 'x', '{}', '[]', '', 'pending', 'ann', '2025-01-01')"
            )
        )
    legacy.dispose()
    with pytest.raises(SchemaOutdatedError, match="recallguard db upgrade"):
        ReviewQueue(db_url)
    assert main(["db", "current", "--db", db_url]) == 1
    assert main(["db", "upgrade", "--db", db_url]) == 0
    assert "adopted" in capsys.readouterr().out
    queue = ReviewQueue(db_url)
    with queue.engine.connect() as conn:
        assert conn.execute(select(items.c.dedup_key)).scalars().all() == ["k"]
    queue.close()
    assert main(["db", "current", "--db", db_url]) == 0
    assert main(["db", "upgrade", "--db", db_url]) == 0
    assert "already at revision" in capsys.readouterr().out


def test_a_schema_this_code_does_not_know_is_refused(db_url: str) -> None:
    ReviewQueue(db_url).close()
    engine = raw_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(SchemaOutdatedError, match="9999"):
        ReviewQueue(db_url)


def test_db_upgrade_creates_a_database(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "upgrade", "--db", db_url]) == 0
    assert f"empty database -> {head_revision()}" in capsys.readouterr().out
    assert revision_of(db_url) == head_revision()


def start_and_close(url: str) -> None:
    """What a worker does at start-up with the review database."""
    ReviewQueue(url).close()


def test_workers_starting_together_on_an_empty_database_all_come_up(db_url: str) -> None:
    assert errors_when_run_together(4, partial(start_and_close, db_url)) == []
    assert revision_of(db_url) == head_revision()


def test_many_workers_racing_to_create_sqlite_files_all_come_up(tmp_path: Path) -> None:
    """Eight threads open each of 40 fresh SQLite files at once. Without the retried switch to
    WAL, this test failed 7 runs in 8 on a 2-core machine ('database is locked')."""
    errors: list[BaseException] = []
    for n in range(40):
        url = f"sqlite:///{tmp_path / str(n) / 'review.sqlite3'}"
        errors += errors_when_run_together(8, partial(start_and_close, url))
        assert revision_of(url) == head_revision()
    assert errors == []


class _BusyCursor:
    """A cursor whose first `busy` statements fail with the given SQLite error code."""

    def __init__(self, busy: int, code: int = sqlite3.SQLITE_BUSY) -> None:
        self.busy, self.code, self.calls = busy, code, 0

    def execute(self, sql: str) -> None:
        self.calls += 1
        if self.calls <= self.busy:
            exc = sqlite3.OperationalError("database is locked")
            exc.sqlite_errorcode = self.code
            raise exc


def test_the_wal_switch_is_retried_while_busy_and_other_errors_are_not() -> None:
    cursor = _BusyCursor(busy=3)
    switch_to_wal(cursor)  # type: ignore[arg-type]
    assert cursor.calls == 4
    other = _BusyCursor(busy=1, code=sqlite3.SQLITE_READONLY)
    with pytest.raises(sqlite3.OperationalError):
        switch_to_wal(other)  # type: ignore[arg-type]
    assert other.calls == 1
