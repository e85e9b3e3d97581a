"""What the queue hands out: frozen dataclasses built from rows, JSON-ready via `to_dict`."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import Any

from model.matching.verdict import Candidate, Evidence
from model.schema import Listing
from model.validation import ValidationError, clean_text, finite_number, loads, string_list

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


_CANDIDATE_TEXT = ("entry_id", "source", "product_name", "brand", "hazard", "url", "recall_date")
_CANDIDATE_DEFAULTS: dict[str, Any] = {
    "source": "", "brand": "", "hazard": "", "url": "", "recall_date": "", "identifiers": [],
    "similarity": 0.0, "probability": 0.0, "evidence": {},
}  # fmt: skip
MAX_CANDIDATE_TEXT = 10_000
MAX_CANDIDATE_LIST = 200


def _unknown(data: Mapping[str, Any], known: set[str], what: str) -> None:
    unknown = set(data) - known
    if unknown:
        raise ValidationError(f"unknown {what} fields {sorted(unknown)}; expected {sorted(known)}")


def _evidence_from_dict(raw: Any, strict: bool) -> Evidence:
    if not isinstance(raw, Mapping):
        raise ValidationError(f"candidate evidence must be an object, got {type(raw).__name__}")
    if strict:
        _unknown(raw, {f.name for f in fields(Evidence)}, "evidence")
    out: dict[str, Any] = {}
    for key in ("matched_identifiers", "matched_terms"):
        if key in raw:
            out[key] = string_list(
                raw[key], f"evidence {key}", max_items=MAX_CANDIDATE_LIST,
                max_chars=MAX_CANDIDATE_TEXT,
            )  # fmt: skip
    if "brand_match" in raw:
        if not isinstance(raw["brand_match"], bool):
            raise ValidationError("evidence brand_match must be true or false")
        out["brand_match"] = raw["brand_match"]
    if "name_similarity" in raw:
        out["name_similarity"] = finite_number(raw["name_similarity"], "evidence name_similarity")
    return Evidence(**out)


def candidate_from_dict(data: Any, *, strict: bool = False) -> Candidate:
    """Rebuild a candidate, every field checked (`model.validation` rules).

    `strict` (input from an API client) refuses unknown keys; stored rows are read with
    unknown keys ignored so that old rows survive schema growth. Raises `ValidationError`.
    """
    if not isinstance(data, Mapping):
        raise ValidationError(f"a candidate must be an object, got {type(data).__name__}")
    known = {f.name for f in fields(Candidate)}
    if strict:
        _unknown(data, known, "candidate")
    missing = {"entry_id", "product_name"} - set(data)
    if missing:
        raise ValidationError(f"candidate is missing {sorted(missing)}")
    merged = {**_CANDIDATE_DEFAULTS, **{k: v for k, v in data.items() if k in known}}
    values: dict[str, Any] = {
        key: clean_text(merged[key], f"candidate {key}", max_chars=MAX_CANDIDATE_TEXT,
                        required=key in ("entry_id", "product_name"))
        for key in _CANDIDATE_TEXT
    }  # fmt: skip
    for key in ("similarity", "probability"):
        values[key] = finite_number(merged[key], f"candidate {key}")
    values["identifiers"] = string_list(
        merged["identifiers"], "candidate identifiers", max_items=MAX_CANDIDATE_LIST,
        max_chars=MAX_CANDIDATE_TEXT,
    )  # fmt: skip
    return Candidate(**values, evidence=_evidence_from_dict(merged["evidence"], strict))


def read_stored(
    row: Mapping[Any, Any],
) -> tuple[Listing | None, tuple[Candidate, ...], str | None]:
    """The listing and candidates of a stored item row -> (listing, candidates, problem).

    Never raises for bad content: a row written before these checks existed (a price of
    Infinity, an evidence value of the wrong type) comes back with `problem` set, the listing
    None when it is the listing that is bad, and no candidates when they are.
    """
    listing: Listing | None = None
    candidates: tuple[Candidate, ...] = ()
    problems: list[str] = []
    try:
        listing = Listing.from_dict(loads(row["listing_json"], "stored listing"))
    except (ValueError, TypeError) as exc:
        problems.append(f"stored listing is invalid: {exc}")
    try:
        raw = loads(row["candidates_json"], "stored candidates")
        if not isinstance(raw, list):
            raise ValidationError("stored candidates are not a list")
        candidates = tuple(candidate_from_dict(c) for c in raw)
    except (ValueError, TypeError) as exc:
        problems.append(f"stored candidates are invalid: {exc}")
    return listing, candidates, "; ".join(problems) or None


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
    """One queue item. A stored row that fails the checks is still an item: `listing` is None
    and `problem` says what is wrong, so it is shown as an error and can be rejected, and it
    never blocks claims or other items."""

    id: int
    source: str
    state: str
    listing: Listing | None
    candidates: tuple[Candidate, ...]
    probability: float | None
    model_version: str
    screen_decision: str | None
    claimed_by: str | None
    lease_expires_at: datetime | None
    created_by: str
    created_at: datetime
    decision: DecisionRecord | None = None
    problem: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "source": self.source,
            "state": self.state,
            "problem": self.problem,
            "listing": None if self.listing is None else self.listing.to_dict(),
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
        listing, candidates, problem = read_stored(row)
        probability = row["probability"]
        if probability is not None and not math.isfinite(probability):
            problem, probability = (
                problem or f"stored probability {probability} is not finite",
                None,
            )
        return cls(
            id=row["id"],
            source=row["source"],
            state=row["state"],
            listing=listing,
            candidates=candidates,
            problem=problem,
            probability=probability,
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
    payload: dict[str, Any] | None
    problem: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("last_attempt_at", "next_attempt_at", "delivered_at", "created_at"):
            data[key] = _iso(getattr(self, key))
        return data

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> TakedownRecord:
        payload, problem = None, None
        try:
            payload = loads(row["payload_json"], "stored takedown payload")
        except ValidationError as exc:
            problem = str(exc)
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
            payload=payload,
            problem=problem,
        )
