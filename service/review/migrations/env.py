"""Alembic environment of the reviewer queue (run by `service.review.migrate`).

`migrate.upgrade` hands over an open connection in ``config.attributes["connection"]``; the
plain ``alembic`` command line (``alembic -c service/review/migrations/alembic.ini ...``, for
writing new revisions) connects to ``sqlalchemy.url`` instead.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from service.review.models import metadata

config = context.config


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _migrate(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("set sqlalchemy.url (alembic -x is not used): the review DB URL")
    engine = create_engine(url)
    with engine.begin() as conn:
        _migrate(conn)
    engine.dispose()


def _migrate(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=metadata,
        render_as_batch=True,  # SQLite has no ALTER COLUMN: alembic copies the table instead
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("offline (--sql) migrations are not supported; run against a database")
run()
