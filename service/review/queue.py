"""The durable reviewer queue: pending -> claimed (leased) -> decided, audited, never deleted.

Thread- and process-safe: every state change is one conditional UPDATE whose rowcount says
whether this caller won; on SQLite write transactions take the lock at BEGIN (IMMEDIATE), on
PostgreSQL the claim selects with ``FOR UPDATE SKIP LOCKED``. A process killed between claim
and decide loses nothing: its lease runs out and the item goes back to pending.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from math import isfinite
from typing import Any

from sqlalchemy import Connection, Select, insert, select, update
from sqlalchemy.exc import IntegrityError

from model.matching.verdict import Candidate, Verdict
from model.schema import Listing

from .config import ReviewConfig
from .db import from_db_time
from .errors import (
    AlreadyDecidedError,
    ClaimedByOtherError,
    ConflictError,
    InvalidDecisionError,
    ItemNotFoundError,
)
from .models import DECISION_KINDS, decisions, items, takedown_outbox
from .records import DecisionRecord, ReviewItem, candidate_to_dict, read_stored
from .store import QueueStore, dumps

MAX_NOTE_CHARS = 5000
_SKIP_LOCKED = ("postgresql", "mysql", "mariadb")


def listing_hash(listing: Listing) -> str:
    return hashlib.sha256(dumps(listing.to_dict()).encode("utf-8")).hexdigest()


def _ordered(verdict: Verdict) -> list[Candidate]:
    """The verdict's candidates with its match first (the default choice of a confirm)."""
    cands = list(verdict.candidates)
    if verdict.match is not None:
        cands = [verdict.match] + [c for c in cands if c.entry_id != verdict.match.entry_id]
    return cands


def _chosen_entry(cands: Sequence[Candidate], decision: str, entry_id: str | None) -> str | None:
    ids = [c.entry_id for c in cands]
    if entry_id is not None and ids and entry_id not in ids:
        raise InvalidDecisionError(f"entry_id {entry_id!r} is not one of the item's candidates")
    if entry_id is None and decision == "confirm":
        if not ids:
            raise InvalidDecisionError("confirm needs an entry_id: the item has no candidates")
        return ids[0]
    return entry_id


def _takedown(
    row: Mapping[Any, Any],
    listing: Listing | None,
    chosen: Candidate | None,
    decision: DecisionRecord,
) -> str:
    """The webhook body: always valid JSON (`dumps` refuses NaN and Infinity), built from the
    checked listing, so a bad stored row cannot make an undeliverable takedown."""
    probability = row["probability"]
    return dumps({
        "type": "takedown",
        "item_id": decision.item_id,
        "listing": None if listing is None else listing.to_dict(),
        "entry_id": decision.entry_id,
        "entry": None if chosen is None else candidate_to_dict(chosen),
        "reviewer": decision.reviewer,
        "decided_at": decision.decided_at.isoformat(),
        "model_version": row["model_version"],
        "probability": probability if probability is None or isfinite(probability) else None,
    })  # fmt: skip


class ReviewQueue(QueueStore):
    """See `QueueStore` for the constructor (db_url, clock, lease_seconds, create)."""

    @classmethod
    def from_config(cls, config: ReviewConfig, **kwargs: Any) -> ReviewQueue:
        return cls(config.db_url, lease_seconds=config.lease_seconds, **kwargs)

    # -- putting items in -------------------------------------------------------------------
    def enqueue(self, listing: Listing, verdict: Verdict) -> tuple[int, bool]:
        """Queue a screened listing -> (item_id, created); idempotent on (listing, model)."""
        digest = f"{listing_hash(listing)}\n{verdict.model_version}".encode()
        key = "screen:" + hashlib.sha256(digest).hexdigest()
        detail = f"screened by {verdict.model_version}: {verdict.decision}"
        detail += f" p={verdict.probability:.4f}"
        prob, version, decision = verdict.probability, verdict.model_version, verdict.decision
        return self._insert(key, listing, _ordered(verdict), (prob, version, decision),
                            "screener", detail)  # fmt: skip

    def enqueue_manual(
        self, listing: Listing, actor: str, candidates: Iterable[Candidate] = (), note: str = ""
    ) -> tuple[int, bool]:
        """Staff put a listing in by hand: always a new item; candidates may be empty."""
        cands = list(candidates)
        prob = max((c.probability for c in cands), default=None)
        detail = "added by hand" + (f": {note[:MAX_NOTE_CHARS]}" if note else "")
        key = f"manual:{uuid.uuid4().hex}"
        return self._insert(key, listing, cands, (prob, "", None), actor, detail)

    def _insert(
        self,
        key: str,
        listing: Listing,
        cands: Sequence[Candidate],
        screen: tuple[float | None, str, str | None],
        actor: str,
        detail: str,
    ) -> tuple[int, bool]:
        find = select(items.c.id).where(items.c.dedup_key == key)
        try:
            with self.writer.begin() as conn:
                found = conn.execute(find).scalar()
                if found is not None:
                    return int(found), False
                now = self.now()
                result = conn.execute(insert(items).values(
                    dedup_key=key, source=key.split(":", 1)[0], listing_id=listing.listing_id,
                    listing_json=dumps(listing.to_dict()),
                    candidates_json=dumps([candidate_to_dict(c) for c in cands]),
                    probability=screen[0], model_version=screen[1], screen_decision=screen[2],
                    state="pending", created_by=actor, created_at=now,
                ))  # fmt: skip
                pk = result.inserted_primary_key
                assert pk is not None
                item_id = int(pk[0])
                self._audit(conn, item_id, (None, "pending"), actor, now, detail)
                return item_id, True
        except IntegrityError:  # lost an insert race to another process (PostgreSQL)
            with self.engine.connect() as conn:
                found = conn.execute(find).scalar()
            if found is None:
                raise
            return int(found), False

    # -- claiming -----------------------------------------------------------------------------
    def claim_next(self, reviewer: str, lease_seconds: int | None = None) -> ReviewItem | None:
        """The reviewer's own live claim (lease renewed), else the oldest pending item."""
        if not reviewer:
            raise ValueError("reviewer must be a non-empty name")
        now = self.now()
        expires = now + timedelta(seconds=lease_seconds or self.lease_seconds)
        c = items.c
        with self.writer.begin() as conn:
            own = conn.execute(_own_claim(reviewer, now)).scalar()
            if own is not None:
                conn.execute(update(items).where(c.id == own).values(lease_expires_at=expires))
                return self._load(conn, int(own))
            self._release_expired(conn, now)
            for _ in range(50):
                query: Select[Any] = (
                    select(c.id).where(c.state == "pending").order_by(c.created_at, c.id).limit(1)
                )
                if conn.dialect.name in _SKIP_LOCKED:
                    query = query.with_for_update(skip_locked=True)
                item_id = conn.execute(query).scalar()
                if item_id is None:
                    return None
                won = conn.execute(
                    update(items)
                    .where(c.id == item_id, c.state == "pending")
                    .values(
                        state="claimed", claimed_by=reviewer, claimed_at=now,
                        lease_expires_at=expires,
                    )
                ).rowcount  # fmt: skip
                if won == 1:
                    lease = f"lease until {expires.isoformat()}Z"
                    self._audit(conn, item_id, ("pending", "claimed"), reviewer, now, lease)
                    return self._load(conn, int(item_id))
        return None

    def current_claim(self, reviewer: str) -> ReviewItem | None:
        """The reviewer's live claim, if any; reads only (no claim, no lease renewal)."""
        now = self.now()
        with self.engine.connect() as conn:
            own = conn.execute(_own_claim(reviewer, now)).scalar()
            return None if own is None else self._load(conn, int(own))

    def release_expired(self) -> int:
        """Put every item whose lease ran out back to pending (claims also do this)."""
        with self.writer.begin() as conn:
            return self._release_expired(conn, self.now())

    def _release_expired(self, conn: Connection, now: datetime) -> int:
        c = items.c
        expired = conn.execute(
            select(c.id, c.claimed_by, c.lease_expires_at).where(
                c.state == "claimed", c.lease_expires_at < now
            )
        ).all()
        released = 0
        for item_id, holder, lease in expired:
            won = conn.execute(
                update(items)
                .where(c.id == item_id, c.state == "claimed", c.lease_expires_at < now)
                .values(state="pending", claimed_by=None, claimed_at=None, lease_expires_at=None)
            ).rowcount
            if won == 1:
                released += 1
                detail = f"lease of {holder} expired at {lease.isoformat()}Z"
                self._audit(conn, item_id, ("claimed", "pending"), "system", now, detail)
        return released

    # -- deciding -----------------------------------------------------------------------------
    def decide(
        self,
        item_id: int,
        reviewer: str,
        decision: str,
        entry_id: str | None = None,
        note: str = "",
    ) -> DecisionRecord:
        """Record a final decision. Refused (409) when decided, or claimed by someone else
        whose lease is live; a confirm also queues a takedown in the outbox, atomically."""
        if decision not in DECISION_KINDS:
            kinds = ", ".join(DECISION_KINDS)
            raise InvalidDecisionError(f"decision must be one of {kinds}, got {decision!r}")
        if not isinstance(note, str) or len(note) > MAX_NOTE_CHARS:
            raise InvalidDecisionError(f"note must be a string of at most {MAX_NOTE_CHARS} chars")
        if entry_id is not None and (not isinstance(entry_id, str) or not entry_id):
            raise InvalidDecisionError("entry_id must be a non-empty string or null")
        now = self.now()
        c = items.c
        with self.writer.begin() as conn:
            query = select(items).where(c.id == item_id)
            if conn.dialect.name in _SKIP_LOCKED:
                query = query.with_for_update()
            row = conn.execute(query).mappings().first()
            if row is None:
                raise ItemNotFoundError(f"no review item {item_id}")
            state, holder = row["state"], row["claimed_by"]
            if state == "decided":
                raise AlreadyDecidedError(f"item {item_id} is already decided")
            live = row["lease_expires_at"] is not None and row["lease_expires_at"] >= now
            if state == "claimed" and holder != reviewer and live:
                raise ClaimedByOtherError(f"item {item_id} is claimed by another reviewer")
            listing, stored, _problem = read_stored(row)  # a bad row can still be rejected
            cands = list(stored)
            entry_id = _chosen_entry(cands, decision, entry_id)
            seconds = None
            if state == "claimed" and holder == reviewer and row["claimed_at"] is not None:
                seconds = (now - row["claimed_at"]).total_seconds()
            same_holder = c.claimed_by.is_(None) if holder is None else c.claimed_by == holder
            won = conn.execute(
                update(items)
                .where(c.id == item_id, c.state == state, same_holder)
                .values(state="decided", lease_expires_at=None)
            ).rowcount
            if won != 1:
                raise ConflictError(f"item {item_id} changed while deciding; reload it")
            decided_at = from_db_time(now)
            assert decided_at is not None
            record = DecisionRecord(
                item_id, decision, entry_id, note, reviewer, seconds, decided_at
            )
            conn.execute(insert(decisions).values(
                item_id=item_id, decision=decision, entry_id=entry_id, note=note,
                reviewer=reviewer, seconds_taken=seconds, decided_at=now,
            ))  # fmt: skip
            detail = decision + (f" {entry_id}" if entry_id else "")
            self._audit(conn, item_id, (state, "decided"), reviewer, now, detail)
            if decision == "confirm":
                chosen = next((x for x in cands if x.entry_id == entry_id), None)
                conn.execute(insert(takedown_outbox).values(
                    item_id=item_id, payload_json=_takedown(row, listing, chosen, record),
                    status="pending", attempts=0, next_attempt_at=now, created_at=now,
                ))  # fmt: skip
        return record


def _own_claim(reviewer: str, now: datetime) -> Select[Any]:
    """The id of the reviewer's oldest live claim (a lease not yet expired at `now`)."""
    c = items.c
    return (
        select(c.id)
        .where(c.state == "claimed", c.claimed_by == reviewer, c.lease_expires_at >= now)
        .order_by(c.claimed_at, c.id)
        .limit(1)
    )
