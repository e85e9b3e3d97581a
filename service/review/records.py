"""What the queue hands out: frozen dataclasses built from rows, JSON-ready via `to_dict`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import Any

from model.matching.verdict import Candidate, Evidence
from model.schema import Listing

from .db import from_db_time


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def candidate_to_dict(candidate: Candidate) -> dict[str, Any]:
    data = asdict(candidate)
    data["identifiers"] = list(candidate.identifiers)
    ev = data["evidence"]
    ev["matched_identifiers"] = list(candidate.evidence.matched_identifiers)
    ev["matched_terms"] = list(candidate.evidence.matched_terms)
    return data


def candidate_from_dict(data: Mapping[str, Any]) -> Candidate:
    """Rebuild a candidate; unknown keys are ignored so old rows survive schema growth."""
    if not isinstance(data, Mapping):
        raise ValueError(f"a candidate must be an object, got {type(data).__name__}")
    known = {f.name for f in fields(Candidate)}
    kwargs = {k: v for k, v in data.items() if k in known}
    missing = {"entry_id", "product_name"} - set(kwargs)
    if missing:
        raise ValueError(f"candidate is missing {sorted(missing)}")
    ev_raw = kwargs.pop("evidence", None) or {}
    if not isinstance(ev_raw, Mapping):
        raise ValueError("candidate evidence must be an object")
    ev_known = {f.name for f in fields(Evidence)}
    ev_kwargs = {k: v for k, v in ev_raw.items() if k in ev_known}
    for key in ("matched_identifiers", "matched_terms"):
        if key in ev_kwargs:
            ev_kwargs[key] = tuple(str(v) for v in ev_kwargs[key])
    defaults: dict[str, Any] = {
        "source": "",
        "brand": "",
        "hazard": "",
        "url": "",
        "recall_date": "",
        "identifiers": (),
        "similarity": 0.0,
        "probability": 0.0,
    }
    merged = {**defaults, **kwargs}
    for key in ("entry_id", "source", "product_name", "brand", "hazard", "url", "recall_date"):
        if not isinstance(merged[key], str):
            raise ValueError(f"candidate {key} must be a string")
    if not merged["entry_id"]:
        raise ValueError("candidate entry_id must be a non-empty string")
    for key in ("similarity", "probability"):
        value = merged[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"candidate {key} must be a number")
        merged[key] = float(value)
    merged["identifiers"] = tuple(str(v) for v in merged["identifiers"])
    return Candidate(**merged, evidence=Evidence(**ev_kwargs))


@dataclass(frozen=True)
class DecisionRecord:
    item_id: int
    decision: str
    entry_id: str | None
    note: str
    reviewer: str
    seconds_taken: float | None
    decided_at: datetime

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["decided_at"] = _iso(self.decided_at)
        return data

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> DecisionRecord:
        decided_at = from_db_time(row["decided_at"])
        assert decided_at is not None
        return cls(
            item_id=row["item_id"],
            decision=row["decision"],
            entry_id=row["entry_id"],
            note=row["note"] or "",
            reviewer=row["reviewer"],
            seconds_taken=row["seconds_taken"],
            decided_at=decided_at,
        )


@dataclass(frozen=True)
class ReviewItem:
    id: int
    source: str
    state: str
    listing: Listing
    candidates: tuple[Candidate, ...]
    probability: float | None
    model_version: str
    screen_decision: str | None
    claimed_by: str | None
    lease_expires_at: datetime | None
    created_by: str
    created_at: datetime
    decision: DecisionRecord | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "source": self.source,
            "state": self.state,
            "listing": self.listing.to_dict(),
            "candidates": [candidate_to_dict(c) for c in self.candidates],
            "probability": self.probability,
            "model_version": self.model_version,
            "screen_decision": self.screen_decision,
            "claimed_by": self.claimed_by,
            "lease_expires_at": _iso(self.lease_expires_at),
            "created_by": self.created_by,
            "created_at": _iso(self.created_at),
            "decision": None if self.decision is None else self.decision.to_dict(),
        }

    @classmethod
    def from_row(cls, row: Mapping[Any, Any], decision: DecisionRecord | None = None) -> ReviewItem:
        created_at = from_db_time(row["created_at"])
        assert created_at is not None
        return cls(
            id=row["id"],
            source=row["source"],
            state=row["state"],
            listing=Listing.from_dict(json.loads(row["listing_json"])),
            candidates=tuple(candidate_from_dict(c) for c in json.loads(row["candidates_json"])),
            probability=row["probability"],
            model_version=row["model_version"] or "",
            screen_decision=row["screen_decision"],
            claimed_by=row["claimed_by"],
            lease_expires_at=from_db_time(row["lease_expires_at"]),
            created_by=row["created_by"],
            created_at=created_at,
            decision=decision,
        )


@dataclass(frozen=True)
class AuditEntry:
    item_id: int
    from_state: str | None
    to_state: str
    actor: str
    at: datetime
    detail: str

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["at"] = _iso(self.at)
        return data

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> AuditEntry:
        at = from_db_time(row["at"])
        assert at is not None
        return cls(
            item_id=row["item_id"],
            from_state=row["from_state"],
            to_state=row["to_state"],
            actor=row["actor"],
            at=at,
            detail=row["detail"] or "",
        )


@dataclass(frozen=True)
class TakedownRecord:
    id: int
    item_id: int
    status: str
    attempts: int
    last_error: str | None
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime | None
    payload: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("last_attempt_at", "next_attempt_at", "delivered_at", "created_at"):
            data[key] = _iso(getattr(self, key))
        return data

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> TakedownRecord:
        return cls(
            id=row["id"],
            item_id=row["item_id"],
            status=row["status"],
            attempts=row["attempts"],
            last_error=row["last_error"],
            last_attempt_at=from_db_time(row["last_attempt_at"]),
            next_attempt_at=from_db_time(row["next_attempt_at"]),
            delivered_at=from_db_time(row["delivered_at"]),
            created_at=from_db_time(row["created_at"]),
            payload=json.loads(row["payload_json"]),
        )
