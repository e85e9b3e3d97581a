"""Putting a SQLite file in WAL mode safely when several connections open it at once.

WAL is a property of the file, set once by whichever connection comes first. SQLite answers
SQLITE_BUSY at once, without waiting out ``busy_timeout``, when a connection switches a fresh
file to WAL while another holds it open in a transaction: workers starting side by side on a
new review database failed so in 22 of 300 rounds of four threads, and eight threads each
opening a new sweep log and reading it in 2 of 60 rounds. So the switch is made only when the
file is not in WAL yet, and retried (tenacity, jittered exponential back-off) for up to 30 s,
the busy timeout every other statement gets.
"""

from __future__ import annotations

import sqlite3
from typing import Protocol

from tenacity import retry, retry_if_exception, stop_after_delay, wait_random_exponential

WAIT_S = 30.0  # how long a busy switch is retried: the stores' busy timeout


class Executes(Protocol):
    """A DB-API connection or cursor of `sqlite3` (anything with `execute`)."""

    def execute(self, sql: str, /) -> sqlite3.Cursor:
        """Run one statement; its cursor."""
        ...


def is_busy(exc: BaseException) -> bool:
    """SQLITE_BUSY or one of its extended codes (the low byte is the primary code)."""
    code = getattr(exc, "sqlite_errorcode", None)
    return isinstance(code, int) and code & 0xFF == sqlite3.SQLITE_BUSY


@retry(
    retry=retry_if_exception(is_busy),
    wait=wait_random_exponential(multiplier=0.01, max=0.5),
    stop=stop_after_delay(WAIT_S),
    reraise=True,
)
def switch_to_wal(db: Executes) -> None:
    """``PRAGMA journal_mode=WAL``, retried while SQLite answers busy.

    :raises sqlite3.OperationalError: still busy after `WAIT_S` seconds, or any other error.
    """
    db.execute("PRAGMA journal_mode=WAL")


def use_wal(db: Executes) -> None:
    """Put the file behind `db` in WAL mode unless it already is (then it costs one read)."""
    if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        switch_to_wal(db)
