"""The two records everything else speaks: a blocklist entry and a marketplace listing.

Plain dataclasses (no pydantic) so that `model/` stays free of serving concerns; the HTTP edge
validates with pydantic and converts into these.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

# Hard limits against abuse, not against real listings: marketplace titles run to several hundred
# characters (535 in the bundled Amazon UK file) and descriptions to thousands. The matcher reads
# only a bounded prefix of each field (`model.matching.features.READ_*_CHARS`, and at most
# `model.matching.fast_encoder.MAX_SEQ_TOKENS` tokens), so a long listing costs no more to screen.
# With brand, category and identifiers a listing stays under about 100 KB of UTF-8.
MAX_TITLE_CHARS = 5_000
MAX_TEXT_CHARS = 20_000


class ValidationError(ValueError):
    """A record does not have the shape the matcher needs; the message says what and where."""


@dataclass(frozen=True)
class BlocklistEntry:
    """One recalled or banned product, in the single schema every regulator source maps into."""

    entry_id: str
    source: str
    product_name: str
    brand: str = ""
    model_numbers: tuple[str, ...] = ()
    gtins: tuple[str, ...] = ()
    description: str = ""
    hazard: str = ""
    recall_date: str = ""
    url: str = ""
    category: str = ""

    def __post_init__(self) -> None:
        if not self.entry_id or not isinstance(self.entry_id, str):
            raise ValidationError(f"entry_id must be a non-empty string, got {self.entry_id!r}")
        if not isinstance(self.product_name, str) or not self.product_name.strip():
            raise ValidationError(f"{self.entry_id}: product_name must be a non-empty string")
        object.__setattr__(self, "model_numbers", tuple(self.model_numbers))
        object.__setattr__(self, "gtins", tuple(self.gtins))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["model_numbers"] = list(self.model_numbers)
        d["gtins"] = list(self.gtins)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BlocklistEntry:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValidationError(f"unknown blocklist entry fields: {sorted(unknown)}")
        return cls(**data)

    def texts(self) -> list[str]:
        """The several phrasings under which a seller might list this product.

        Indexing more than one text per entry lets a listing that names only the brand + model,
        or only the product type, still land near the entry in embedding space.
        """
        name = self.product_name.strip()
        out = [name]
        if self.brand and self.brand.lower() not in name.lower():
            out.append(f"{self.brand} {name}")
        if self.model_numbers:
            out.append(f"{name} {' '.join(self.model_numbers[:3])}")
        return out


@dataclass(frozen=True)
class Listing:
    """A marketplace listing as the platform sends it. Only `title` is required."""

    title: str
    listing_id: str = ""
    description: str = ""
    brand: str = ""
    price: float | None = None
    category: str = ""
    identifiers: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if not isinstance(self.title, str) or not self.title.strip():
            raise ValidationError("title must be a non-empty string")
        if len(self.title) > MAX_TITLE_CHARS:
            raise ValidationError(
                f"title is {len(self.title)} characters; at most {MAX_TITLE_CHARS} are accepted"
            )
        for name in ("listing_id", "description", "brand", "category"):
            value = getattr(self, name)
            if not isinstance(value, str):
                raise ValidationError(f"{name} must be a string, got {type(value).__name__}")
            if len(value) > MAX_TEXT_CHARS:
                raise ValidationError(f"{name} is longer than {MAX_TEXT_CHARS} characters")
        if self.price is not None and (
            isinstance(self.price, bool) or not isinstance(self.price, (int, float))
        ):
            raise ValidationError(f"price must be a number or null, got {self.price!r}")
        ids = tuple(self.identifiers)
        if not all(isinstance(i, str) for i in ids):
            raise ValidationError("identifiers must be a list of strings")
        object.__setattr__(self, "identifiers", ids)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Listing:
        if not isinstance(data, dict):
            raise ValidationError(f"a listing must be an object, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValidationError(
                f"unknown listing fields {sorted(unknown)}; expected some of {sorted(known)}"
            )
        if "title" not in data:
            raise ValidationError("listing has no title")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["identifiers"] = list(self.identifiers)
        return d

    def text(self) -> str:
        """The text that is embedded: title first, brand if not already in it."""
        parts = [self.title.strip()]
        if self.brand and self.brand.lower() not in self.title.lower():
            parts.insert(0, self.brand.strip())
        return " ".join(parts)
