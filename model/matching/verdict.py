"""What the screener answers for one listing: small frozen dataclasses, JSON-ready via `to_dict`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Decision = Literal["block", "review", "allow"]
DECISIONS: tuple[Decision, ...] = ("block", "review", "allow")


@dataclass(frozen=True)
class Evidence:
    """Why a candidate matched: the pieces a reviewer needs to check it by eye."""

    matched_identifiers: tuple[str, ...] = ()
    brand_match: bool = False
    matched_terms: tuple[str, ...] = ()
    name_similarity: float = 0.0


@dataclass(frozen=True)
class Candidate:
    """One blocklist entry the listing was compared with, and how it scored."""

    entry_id: str
    source: str
    product_name: str
    brand: str
    hazard: str
    url: str
    recall_date: str
    identifiers: tuple[str, ...]
    similarity: float
    probability: float
    evidence: Evidence = field(default_factory=Evidence)


@dataclass(frozen=True)
class Thresholds:
    """Decision cut-offs on the calibrated probability; they live in the bundle, never in code."""

    block: float
    review: float

    def __post_init__(self) -> None:
        if not 0.0 <= self.review <= self.block <= 1.0:
            raise ValueError(
                f"thresholds must satisfy 0 <= review <= block <= 1, got review={self.review}, "
                f"block={self.block}"
            )

    def decide(self, probability: float) -> Decision:
        """The decision for a calibrated P(match) `probability` in [0, 1].

        `block` at or above the block threshold, `review` at or above the review threshold,
        else `allow`.
        """
        if probability >= self.block:
            return "block"
        if probability >= self.review:
            return "review"
        return "allow"


@dataclass(frozen=True)
class Verdict:
    """The answer for one listing. `match` is the best candidate when the decision is not allow."""

    listing_id: str
    decision: Decision
    probability: float
    match: Candidate | None
    candidates: tuple[Candidate, ...]
    model_version: str
    thresholds: Thresholds

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (nested candidates and evidence as dicts, tuples as lists)."""
        return asdict(self)
