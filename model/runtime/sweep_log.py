"""Sweep results, durable and queryable: which listings each new entry was found in.

And where each went (block: reported to the platform through the `hits` feed; review: the
reviewer queue item).

SQLite under the catalogue folder. A sweep is claimed per (entry, exact entry content), so every
service worker may hear of the same change and only one sweeps it; a sweep left `running` by a
crash is picked up again on the next start.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from model.matching.screener import Screener
from model.runtime.catalog import Catalog
from model.runtime.private_files import create_private
from model.runtime.sqlite_wal import use_wal
from model.runtime.sweep import DEFAULT_K, Searchable, SweepHit, sweep_entry
from model.schema import BlocklistEntry

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sweeps (
    id INTEGER PRIMARY KEY, entry_id TEXT NOT NULL, entry_hash TEXT NOT NULL,
    status TEXT NOT NULL, requested_at TEXT NOT NULL, finished_at TEXT,
    model_version TEXT NOT NULL DEFAULT '', catalogue_size INTEGER NOT NULL DEFAULT 0,
    candidates INTEGER NOT NULL DEFAULT 0, blocks INTEGER NOT NULL DEFAULT 0,
    reviews INTEGER NOT NULL DEFAULT 0, search_ms REAL NOT NULL DEFAULT 0,
    score_ms REAL NOT NULL DEFAULT 0, error TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS sweeps_entry ON sweeps (entry_id, entry_hash);
CREATE TABLE IF NOT EXISTS sweep_hits (
    id INTEGER PRIMARY KEY, sweep_id INTEGER NOT NULL, entry_id TEXT NOT NULL,
    listing_id TEXT NOT NULL, decision TEXT NOT NULL, probability REAL NOT NULL,
    similarity REAL NOT NULL, via TEXT NOT NULL, review_item_id INTEGER,
    listing_json TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS sweep_hits_sweep ON sweep_hits (sweep_id);
CREATE INDEX IF NOT EXISTS sweep_hits_decision ON sweep_hits (decision, id);
"""
Router = Callable[[SweepHit], "int | None"]


def entry_hash(entry: BlocklistEntry) -> str:
    """16 hex digits of SHA-256 over the entry's sorted-key JSON: any edit gives a new hash."""
    return hashlib.sha256(json.dumps(entry.to_dict(), sort_keys=True).encode()).hexdigest()[:16]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class HitRecord:
    """One stored sweep hit: a `SweepHit` plus where it went.

    `hit_id` orders the feed (`SweepLog.hits(after=...)`); `review_item_id` is the reviewer
    queue item of a `review` hit (None for `block` hits, or when routing gave none); `listing`
    is the listing as it was when swept; `created_at` is UTC ISO-8601 with milliseconds.
    """

    hit_id: int
    sweep_id: int
    entry_id: str
    listing_id: str
    decision: str
    probability: float
    similarity: float
    via: str
    review_item_id: int | None
    listing: dict[str, Any]
    created_at: str

    def to_dict(self) -> dict[str, Any]:
        """Every field, as JSON-ready values."""
        return asdict(self)


@dataclass(frozen=True)
class SweepRecord:
    """One sweep as stored: its state, its counts and (from `SweepLog.get`) its hits.

    Times are UTC ISO-8601; `finished_at` is None until it is done or failed; `error` is the
    failure (at most 2,000 characters), empty otherwise. Counts and timings are `SweepReport`'s,
    with `blocks` and `reviews` counting the hits by decision.
    """

    sweep_id: int
    entry_id: str
    entry_hash: str
    status: str  # pending | running | done | failed
    requested_at: str
    finished_at: str | None
    model_version: str
    catalogue_size: int
    candidates: int
    blocks: int
    reviews: int
    search_ms: float
    score_ms: float
    error: str
    hits: tuple[HitRecord, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Every field as JSON-ready values, hits as a list of `HitRecord.to_dict()`."""
        d = asdict(self)
        d["hits"] = [h.to_dict() for h in self.hits]
        return d


class SweepLog:
    """The SQLite file of sweeps and their hits at `path` (created private if missing).

    Every method opens its own connection, so one log may be shared across threads and
    processes (WAL journal; writers wait up to 30 s for the lock).
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        create_private(self.path)
        with self._db() as db:
            db.executescript(_SCHEMA)

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.row_factory = sqlite3.Row
        try:
            use_wal(db)
            yield db
        finally:
            db.close()

    def claim(self, entry: BlocklistEntry, force: bool = False) -> int | None:
        """A new sweep id for this exact entry, or None when it is swept or being swept.

        A sweep that failed does not count, so the entry can be swept again; `force` claims a
        new sweep even when one succeeded or is running.
        """
        digest = entry_hash(entry)
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            seen = db.execute(
                "SELECT id FROM sweeps "
                "WHERE entry_id = ? AND entry_hash = ? AND status != 'failed'",
                (entry.entry_id, digest),
            ).fetchone()
            if seen is not None and not force:
                db.execute("COMMIT")
                return None
            cur = db.execute(
                "INSERT INTO sweeps (entry_id, entry_hash, status, requested_at) "
                "VALUES (?, ?, 'pending', ?)",
                (entry.entry_id, digest, _now()),
            )
            db.execute("COMMIT")
            return int(cur.lastrowid or 0)

    def unfinished(self) -> list[tuple[int, str]]:
        """(sweep id, entry id) of sweeps claimed but never finished (a crash, a restart)."""
        with self._db() as db:
            rows = db.execute(
                "SELECT id, entry_id FROM sweeps WHERE status IN ('pending', 'running') ORDER BY id"
            ).fetchall()
        return [(int(r[0]), str(r[1])) for r in rows]

    def _set(self, sweep_id: int, **values: Any) -> None:
        cols = ", ".join(f"{k} = ?" for k in values)
        with self._db() as db:
            db.execute(f"UPDATE sweeps SET {cols} WHERE id = ?", (*values.values(), sweep_id))

    def fail(self, sweep_id: int, error: str) -> None:
        """Mark a sweep failed with `error` (cut to 2,000 characters); it may be claimed again."""
        self._set(sweep_id, status="failed", error=error[:2000], finished_at=_now())

    def run(
        self,
        sweep_id: int,
        screener: Screener,
        catalog: Catalog,
        entry_id: str,
        route_review: Router,
        k: int = DEFAULT_K,
        index: Searchable | None = None,
    ) -> SweepRecord:
        """Sweep, send review hits to `route_review` (-> review item id), record everything.

        `index`: search this instead of the catalogue's own index (a sharded one on Ray). The
        hits and the `done` state are written in one transaction, so a re-run replaces them.

        :raises Exception: whatever the sweep or `route_review` raised (`UnknownEntry` for an
            entry not served), after the sweep is marked failed with it.
        """
        self._set(sweep_id, status="running")
        try:
            report = sweep_entry(screener, catalog, entry_id, k, index)
            routed = {h.listing.listing_id: route_review(h) for h in report.hits
                      if h.decision == "review"}  # fmt: skip
        except Exception as exc:
            self.fail(sweep_id, f"{type(exc).__name__}: {exc}")
            raise
        now = _now()
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            db.execute("DELETE FROM sweep_hits WHERE sweep_id = ?", (sweep_id,))
            db.executemany(
                "INSERT INTO sweep_hits (sweep_id, entry_id, listing_id, decision, probability, "
                "similarity, via, review_item_id, listing_json, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(sweep_id, entry_id, h.listing.listing_id, h.decision, h.probability,
                  h.similarity, h.via, routed.get(h.listing.listing_id),
                  json.dumps(h.listing.to_dict(), ensure_ascii=False), now)
                 for h in report.hits],
            )  # fmt: skip
            db.execute(
                "UPDATE sweeps SET status = 'done', finished_at = ?, model_version = ?, "
                "catalogue_size = ?, candidates = ?, blocks = ?, reviews = ?, search_ms = ?, "
                "score_ms = ?, error = '' WHERE id = ?",
                (now, report.model_version, report.catalogue_size, report.candidates,
                 sum(h.decision == "block" for h in report.hits),
                 sum(h.decision == "review" for h in report.hits),
                 report.search_ms, report.score_ms, sweep_id),
            )  # fmt: skip
            db.execute("COMMIT")
        record = self.get(sweep_id)
        assert record is not None
        return record

    # -- queries ------------------------------------------------------------------------------
    def get(self, sweep_id: int) -> SweepRecord | None:
        """The sweep with its hits (most probable first), or None if there is no such id."""
        with self._db() as db:
            row = db.execute("SELECT * FROM sweeps WHERE id = ?", (sweep_id,)).fetchone()
            if row is None:
                return None
            hits = db.execute(
                "SELECT * FROM sweep_hits WHERE sweep_id = ? ORDER BY probability DESC, id",
                (sweep_id,),
            ).fetchall()
        return _sweep(row, tuple(_hit(h) for h in hits))

    def latest(self, entry_id: str) -> SweepRecord | None:
        """The entry's most recently claimed sweep, whatever its state; None if never swept."""
        with self._db() as db:
            row = db.execute(
                "SELECT id FROM sweeps WHERE entry_id = ? ORDER BY id DESC LIMIT 1", (entry_id,)
            ).fetchone()
        return None if row is None else self.get(int(row[0]))

    def hits(
        self, decision: str | None = None, after: int = 0, limit: int = 100
    ) -> list[HitRecord]:
        """Hits across all sweeps with id > `after`, oldest first, at most `limit`.

        A feed the platform can page through to act on `block` hits: pass the last `hit_id`
        seen as `after`. `decision` (block or review) filters; None gives both.
        """
        query = "SELECT * FROM sweep_hits WHERE id > ?"
        params: list[Any] = [after]
        if decision is not None:
            query += " AND decision = ?"
            params.append(decision)
        with self._db() as db:
            rows = db.execute(query + " ORDER BY id LIMIT ?", (*params, limit)).fetchall()
        return [_hit(r) for r in rows]


def _hit(r: sqlite3.Row) -> HitRecord:
    return HitRecord(
        r["id"], r["sweep_id"], r["entry_id"], r["listing_id"], r["decision"], r["probability"],
        r["similarity"], r["via"], r["review_item_id"], json.loads(r["listing_json"]),
        r["created_at"],
    )  # fmt: skip


def _sweep(r: sqlite3.Row, hits: tuple[HitRecord, ...]) -> SweepRecord:
    return SweepRecord(
        r["id"], r["entry_id"], r["entry_hash"], r["status"], r["requested_at"], r["finished_at"],
        r["model_version"], r["catalogue_size"], r["candidates"], r["blocks"], r["reviews"],
        r["search_ms"], r["score_ms"], r["error"], hits,
    )  # fmt: skip
