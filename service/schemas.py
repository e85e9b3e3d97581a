"""Pydantic models at the HTTP edge only: strict shapes, clear 4xx messages, OpenAPI docs.

Inside the service everything is converted to the `model` dataclasses straight away.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from model.schema import MAX_TEXT_CHARS, MAX_TITLE_CHARS, Listing

MAX_BATCH = 256

Title = Annotated[
    str,
    StringConstraints(
        strip_whitespace=False, min_length=1, max_length=MAX_TITLE_CHARS, pattern=r"\S"
    ),
]
Text = Annotated[str, StringConstraints(max_length=MAX_TEXT_CHARS)]
Identifier = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class ListingIn(BaseModel):
    """A marketplace listing. Only `title` is required; unknown fields are rejected."""

    model_config = ConfigDict(extra="forbid", strict=True)

    title: Title = Field(description="Listing title as the seller wrote it.")
    listing_id: Annotated[str, StringConstraints(max_length=128)] = ""
    description: Text = ""
    brand: Annotated[str, StringConstraints(max_length=200)] = ""
    price: float | None = Field(default=None, ge=0)
    category: Annotated[str, StringConstraints(max_length=500)] = ""
    identifiers: list[Identifier] = Field(default_factory=list, max_length=50)

    def to_listing(self) -> Listing:
        return Listing.from_dict(self.model_dump())


class EvidenceOut(BaseModel):
    matched_identifiers: list[str]
    brand_match: bool
    matched_terms: list[str]
    name_similarity: float


class CandidateOut(BaseModel):
    entry_id: str
    source: str
    product_name: str
    brand: str
    hazard: str
    url: str
    recall_date: str
    identifiers: list[str]
    similarity: float
    probability: float
    evidence: EvidenceOut


class ThresholdsOut(BaseModel):
    block: float
    review: float


class VerdictOut(BaseModel):
    """The answer for one listing: decision, calibrated probability, and the evidence."""

    listing_id: str
    decision: Literal["block", "review", "allow"]
    probability: float = Field(description="Calibrated P(listing is the matched recalled product).")
    match: CandidateOut | None
    candidates: list[CandidateOut]
    model_version: str
    thresholds: ThresholdsOut
    review_item_id: int | None = Field(
        default=None, description="Reviewer queue item, when the decision is review."
    )
