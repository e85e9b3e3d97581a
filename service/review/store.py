"""The queue's connection handling and its read side (`ReviewQueue` builds on this)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, func, insert, or_, select

from .config import DEFAULT_LEASE_SECONDS
from .db import make_engine, to_db_time, utcnow, writer
from .errors import ItemNotFoundError
from .models import audit_log, decisions, items
from .records import AuditEntry, DecisionRecord, ReviewItem


def dumps(value: Any) -> str:
    """Canonical JSON: the stored form, and the input of content hashes. NaN and Infinity are
    refused (ValueError): they are not JSON, and a stored one would poison every reader."""
    return json.dumps(
        value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False
    )


class QueueStore:
    def __init__(
        self,
        db_url: str,
        *,
        clock: Callable[[], datetime] = utcnow,
        lease_seconds: int = DEFAULT_LEASE_SECONDS,
        create: bool = True,
    ) -> None:
        self.engine: Engine = make_engine(db_url, create=create)
        self.writer: Engine = writer(self.engine)
        self.clock = clock
        self.lease_seconds = lease_seconds

    def now(self) -> datetime:
        """The injected clock's time as naive UTC (the stored form)."""
        return to_db_time(self.clock())

    def close(self) -> None:
        self.engine.dispose()

    @staticmethod
    def _audit(
        conn: Connection,
        item_id: int,
        transition: tuple[str | None, str],
        actor: str,
        at: datetime,
        detail: str,
    ) -> None:
        conn.execute(insert(audit_log).values(
            item_id=item_id, from_state=transition[0], to_state=transition[1], actor=actor,
            at=at, detail=detail,
        ))  # fmt: skip

    def get(self, item_id: int) -> ReviewItem:
        """The item with its decision, if any; ItemNotFoundError (404) when there is none."""
        with self.engine.connect() as conn:
            return self._load(conn, item_id)

    def _load(self, conn: Connection, item_id: int) -> ReviewItem:
        row = conn.execute(select(items).where(items.c.id == item_id)).mappings().first()
        if row is None:
            raise ItemNotFoundError(f"no review item {item_id}")
        drow = (
            conn.execute(select(decisions).where(decisions.c.item_id == item_id)).mappings().first()
        )
        return ReviewItem.from_row(row, None if drow is None else DecisionRecord.from_row(drow))

    def counts(self) -> dict[str, int]:
        """pending (incl. expired claims), claimed (live leases), decided_today (UTC day)."""
        now = self.now()
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        c = items.c
        expired = and_(c.state == "claimed", c.lease_expires_at < now)
        live = and_(c.state == "claimed", c.lease_expires_at >= now)
        count = select(func.count()).select_from(items)
        with self.engine.connect() as conn:
            pending = conn.execute(count.where(or_(c.state == "pending", expired))).scalar_one()
            claimed = conn.execute(count.where(live)).scalar_one()
            today = conn.execute(
                select(func.count())
                .select_from(decisions)
                .where(decisions.c.decided_at >= midnight)
            ).scalar_one()
        return {"pending": int(pending), "claimed": int(claimed), "decided_today": int(today)}

    def decided_since(self, since: datetime) -> list[ReviewItem]:
        """Decided items (with their decision) decided at or after `since`, oldest first."""
        labelled = [col.label(f"d_{col.name}") for col in decisions.c]
        with self.engine.connect() as conn:
            rows = (
                conn.execute(
                    select(items, *labelled)
                    .join(decisions, decisions.c.item_id == items.c.id)
                    .where(decisions.c.decided_at >= to_db_time(since))
                    .order_by(decisions.c.decided_at, decisions.c.id)
                )
                .mappings()
                .all()
            )
        out = []
        for row in rows:
            drow = {col.name: row[f"d_{col.name}"] for col in decisions.c}
            out.append(ReviewItem.from_row(row, DecisionRecord.from_row(drow)))
        return out

    def audit_log(self, item_id: int) -> list[AuditEntry]:
        """Every state change of the item, in order."""
        with self.engine.connect() as conn:
            rows = (
                conn.execute(
                    select(audit_log).where(audit_log.c.item_id == item_id).order_by(audit_log.c.id)
                )
                .mappings()
                .all()
            )
        return [AuditEntry.from_row(r) for r in rows]
