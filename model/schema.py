"""The two records everything else speaks: a blocklist entry and a marketplace listing.

Plain dataclasses (no pydantic) so that `model/` stays free of serving concerns; the HTTP edge
validates with pydantic and converts into these.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from model.validation import ValidationError, clean_text, finite_number, string_list

# Hard limits against abuse, not against real listings: marketplace titles run to several hundred
# characters (535 in the bundled Amazon UK file) and descriptions to thousands. The matcher reads
# only a bounded prefix of each field (`model.matching.views.READ_*_CHARS`, and at most
# `model.matching.fast_encoder.MAX_SEQ_TOKENS` tokens), so a long listing costs no more to screen.
# With brand, category and identifiers a listing stays under about 100 KB of UTF-8.
MAX_TITLE_CHARS = 5_000
MAX_TEXT_CHARS = 20_000
# Per-field bounds of a listing, shared by every edge (HTTP schemas read them from here).
LISTING_LIMITS = {"listing_id": 128, "description": MAX_TEXT_CHARS, "brand": 200, "category": 500}
MAX_IDENTIFIERS = 50
MAX_IDENTIFIER_CHARS = 64
MAX_ENTRY_TEXT_CHARS = 100_000  # recall notices can be long; this only bounds the work

__all__ = ["BlocklistEntry", "Listing", "ValidationError"]


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
    # Other names the product is sold under that the notice gives: store brands ("sold on
    # Amazon by <store>"), the recalling company when it is not the printed brand, licensed
    # characters. Older saved entries have none (the field defaults to ()).
    aliases: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.entry_id or not isinstance(self.entry_id, str):
            raise ValidationError(f"entry_id must be a non-empty string, got {self.entry_id!r}")
        for name in ("entry_id", "source", "product_name", "brand", "description", "hazard",
                     "recall_date", "url", "category"):  # fmt: skip
            value = clean_text(
                getattr(self, name), f"{self.entry_id[:80]}: {name}",
                max_chars=MAX_ENTRY_TEXT_CHARS, required=name in ("entry_id", "product_name"),
            )  # fmt: skip
            object.__setattr__(self, name, value)
        object.__setattr__(self, "model_numbers", tuple(self.model_numbers))
        object.__setattr__(self, "gtins", tuple(self.gtins))
        if isinstance(self.aliases, str) or not all(isinstance(a, str) for a in self.aliases):
            raise ValidationError(f"{self.entry_id}: aliases must be a list of strings")
        object.__setattr__(self, "aliases", tuple(self.aliases))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field (tuples as lists)."""
        d = asdict(self)
        d["model_numbers"] = list(self.model_numbers)
        d["gtins"] = list(self.gtins)
        d["aliases"] = list(self.aliases)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BlocklistEntry:
        """Inverse of `to_dict`.

        :raises ValidationError: unknown fields, or the values fail `__post_init__`'s checks.
        """
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
        """Checks every field with the shared rules of `model.validation`.

        Control characters are removed; a title without a visible character, a lone surrogate,
        a non-finite or negative price, or a field over its bound (`LISTING_LIMITS`) raises
        `ValidationError`.
        """
        title = clean_text(self.title, "title", max_chars=MAX_TITLE_CHARS, required=True)
        object.__setattr__(self, "title", title)
        for name, limit in LISTING_LIMITS.items():
            object.__setattr__(self, name, clean_text(getattr(self, name), name, max_chars=limit))
        if self.price is not None:
            object.__setattr__(self, "price", finite_number(self.price, "price", minimum=0))
        ids = string_list(
            self.identifiers, "identifiers", max_items=MAX_IDENTIFIERS,
            max_chars=MAX_IDENTIFIER_CHARS,
        )  # fmt: skip
        object.__setattr__(self, "identifiers", ids)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Listing:
        """A listing from a JSON object, checked field by field.

        :raises ValidationError: not an object, unknown fields, no title, or a bad value.
        """
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
        """A JSON-ready dict of every field (tuples as lists)."""
        d = asdict(self)
        d["identifiers"] = list(self.identifiers)
        return d

    def text(self) -> str:
        """The text that is embedded: title first, brand if not already in it."""
        parts = [self.title.strip()]
        if self.brand and self.brand.lower() not in self.title.lower():
            parts.insert(0, self.brand.strip())
        return " ".join(parts)
