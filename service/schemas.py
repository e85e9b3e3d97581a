"""Pydantic models at the HTTP edge only: strict shapes, clear 4xx messages, OpenAPI docs.

One source per schema: `ListingIn` runs the `model.schema.Listing` checks (the same rules as
the review and admin APIs and the CLI) while pydantic parses the request, so a bad listing is a
400 for its own request before adaptive batching merges it with anyone else's. Those checks are
the listing's only validation: pydantic parses the shape (an object, its known fields, their
JSON types) and states the limits in the OpenAPI schema, but does not enforce them a second
time. `VerdictOut` is built from the fields of the `model.matching.verdict.Verdict` dataclasses,
so the answer and its OpenAPI schema cannot drift from what the screener returns.
"""

from __future__ import annotations

from dataclasses import fields
from typing import TYPE_CHECKING, Annotated, Any, get_type_hints

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    TypeAdapter,
    WithJsonSchema,
    create_model,
    model_validator,
)

from model.matching.verdict import Candidate, Verdict
from model.schema import (
    LISTING_LIMITS,
    MAX_IDENTIFIER_CHARS,
    MAX_IDENTIFIERS,
    MAX_TITLE_CHARS,
    Listing,
)

MAX_BATCH = 256


def _documented(plain: Any, limited: Any) -> Any:
    """`plain` to parse, with the JSON schema of `limited` (the same type with its limits).

    The limits are the `model.schema` bounds, enforced once by `Listing`'s checks; here they
    only document the API (OpenAPI, schemathesis), so pydantic does not check them again.
    """
    return Annotated[plain, WithJsonSchema(TypeAdapter(limited).json_schema())]


Title = _documented(
    str,
    Annotated[str, StringConstraints(min_length=1, max_length=MAX_TITLE_CHARS, pattern=r"\S")],
)
Identifier = Annotated[str, StringConstraints(min_length=1, max_length=MAX_IDENTIFIER_CHARS)]
Identifiers = _documented(list[str], Annotated[list[Identifier], Field(max_length=MAX_IDENTIFIERS)])
Price = _documented(float | None, Annotated[float, Field(ge=0)] | None)


def _text(name: str) -> Any:
    return _documented(str, Annotated[str, StringConstraints(max_length=LISTING_LIMITS[name])])


class ListingIn(BaseModel):
    """A marketplace listing. Only `title` is required; unknown fields are rejected.

    Text must be valid Unicode; control characters are removed and the title must keep a
    visible character; `price` must be finite and not negative.
    """

    model_config = ConfigDict(extra="forbid", strict=True)

    title: Title = Field(description="Listing title as the seller wrote it.")  # type: ignore[valid-type]
    listing_id: _text("listing_id") = ""  # type: ignore[valid-type]
    description: _text("description") = ""  # type: ignore[valid-type]
    brand: _text("brand") = ""  # type: ignore[valid-type]
    price: Price = None  # type: ignore[valid-type]
    category: _text("category") = ""  # type: ignore[valid-type]
    identifiers: Identifiers = Field(default_factory=list)  # type: ignore[valid-type]
    _listing: Listing | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _domain_rules(self) -> ListingIn:
        # The one validation of the listing's values (tests/test_service.py counts it).
        # ValidationError is a ValueError: pydantic reports it as a 400 for this request only.
        self._listing = Listing.from_dict(
            {name: getattr(self, name) for name in type(self).model_fields}
        )
        return self

    def to_listing(self) -> Listing:
        if self._listing is None:  # built with model_construct: check now
            return Listing.from_dict(self.model_dump())
        return self._listing


def _inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` with its local ``$defs`` references inlined (BentoML's spec drops ``anyOf``)."""
    defs = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return walk(dict(defs[ref[len("#/$defs/") :]]))
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    out: dict[str, Any] = walk(schema)
    return out


def _nullable(tp: Any, description: str) -> Any:
    """`tp | None`, documented as an OpenAPI 3.0 ``nullable`` schema."""
    schema = _inline_refs(TypeAdapter(tp).json_schema(mode="serialization"))
    schema.update(nullable=True, description=description)
    return Annotated[tp | None, WithJsonSchema(schema, mode="serialization")]


_DESCRIPTIONS = {
    "listing_id": "The listing_id that was sent (empty when none was).",
    "decision": "block, review or allow.",
    "probability": "Calibrated P(listing is the matched recalled product).",
    "candidates": "The blocklist entries compared with the listing, best first.",
    "model_version": "The bundle that answered.",
    "thresholds": "The bundle's decision cut-offs on the probability.",
}


def _verdict_fields() -> dict[str, Any]:
    hints = get_type_hints(Verdict)
    out: dict[str, Any] = {}
    for f in fields(Verdict):
        if f.name == "match":
            out[f.name] = (
                _nullable(Candidate, "The best candidate; null when the decision is allow."),
                ...,
            )
        else:
            out[f.name] = (hints[f.name], Field(description=_DESCRIPTIONS.get(f.name)))
    out["review_item_id"] = (
        _nullable(int, "Reviewer queue item, when the decision is review; else null."),
        None,
    )
    return out


_VerdictOut: type[BaseModel] = create_model(
    "VerdictOut",
    __doc__="The answer for one listing: decision, calibrated probability, and the evidence.",
    **_verdict_fields(),
)
if TYPE_CHECKING:
    VerdictOut = BaseModel
else:
    VerdictOut = _VerdictOut


def verdict_out(verdict: Verdict, review_item_id: int | None) -> BaseModel:
    """The HTTP answer for `verdict` (the dataclass instances are taken as they are)."""
    values = {f.name: getattr(verdict, f.name) for f in fields(Verdict)}
    return VerdictOut(**values, review_item_id=review_item_id)
