"""Generic product fields -> RecallGuard's listing and entry fields, one value at a time.

Labelled pairs come from reviewers and from public product-matching data sets alike, so the
loader accepts the common names for the same thing (`name` for a title, `manufacturer` for a
brand, `mpn`/`gtin`/`upc` for identifiers) and is strict about types: a number where a title
belongs is an error, not a title. Entries given by id are resolved against the blocklist here.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from model.matching.normalise import normalise
from model.schema import BlocklistEntry, Listing, ValidationError

# Generic product-field aliases -> our field names. Identifiers may be one string or a list.
LISTING_ALIASES = {
    "title": "title", "name": "title", "product_name": "title",
    "listing_id": "listing_id", "id": "listing_id",
    "description": "description", "desc": "description",
    "brand": "brand", "manufacturer": "brand",
    "price": "price", "category": "category",
    "identifiers": "identifiers", "model_number": "identifiers", "model_numbers": "identifiers",
    "mpn": "identifiers", "sku": "identifiers", "gtin": "identifiers", "gtins": "identifiers",
    "upc": "identifiers", "ean": "identifiers", "asin": "identifiers",
}  # fmt: skip
ENTRY_ALIASES = {
    "entry_id": "entry_id", "id": "entry_id",
    "product_name": "product_name", "title": "product_name", "name": "product_name",
    "brand": "brand", "manufacturer": "brand",
    "model_numbers": "model_numbers", "model_number": "model_numbers", "mpn": "model_numbers",
    "sku": "model_numbers",
    "gtins": "gtins", "gtin": "gtins", "upc": "gtins", "ean": "gtins",
    "description": "description", "hazard": "hazard", "recall_date": "recall_date",
    "url": "url", "category": "category", "source": "source",
    "price": None,  # entries carry no price; accepted so product-matching sets load as they are
}  # fmt: skip
_LIST_FIELDS = frozenset({"identifiers", "model_numbers", "gtins"})
_NUMERIC_OK = frozenset({"listing_id", "entry_id", "identifiers", "model_numbers", "gtins"})


def text_value(value: Any, where: str, numeric_ok: bool = False) -> str:
    if value is None:
        return ""
    if numeric_ok and isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # ids and GTINs are often numbers in CSV-born JSON
    if not isinstance(value, str):
        raise ValidationError(f"{where} must be a string, got {type(value).__name__}")
    return value.strip()


def _list_value(value: Any, where: str) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return [
            text_value(v, f"{where}[{i}]", numeric_ok=True)
            for i, v in enumerate(value)
            if v not in ("", None)
        ]
    text = text_value(value, where, numeric_ok=True)
    return [p.strip() for p in text.replace("|", ";").split(";") if p.strip()]


def _price(value: Any, where: str, from_csv: bool) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, str) and from_csv:
        cleaned = value.strip().lstrip("£$€").replace(",", "").strip()
        try:
            return float(cleaned)
        except ValueError:
            raise ValidationError(f"{where} must be a number, got {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValidationError(f"{where} must be a number or null, got {value!r}")
    return float(value)


def _fields(raw: Mapping[str, Any], aliases: Mapping[str, str | None], side: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in aliases:
            raise ValidationError(
                f"unknown {side} field {key!r}; expected some of {sorted(aliases)}"
            )
        name = aliases[key]
        if name is None:
            continue
        if name in _LIST_FIELDS:
            out.setdefault(name, []).extend(_list_value(value, f"{side}.{key}"))
        elif name in out and out[name] not in ("", None) and value not in ("", None):
            raise ValidationError(f"{side} gives {name} twice (as {key!r} and an alias)")
        elif name != "price":
            text = text_value(value, f"{side}.{key}", numeric_ok=name in _NUMERIC_OK)
            out[name] = text or out.get(name, "")
        else:
            out[name] = value
    return out


def parse_listing(raw: Any, from_csv: bool) -> Listing:
    if not isinstance(raw, dict):
        raise ValidationError(f"listing must be an object, got {type(raw).__name__}")
    data = _fields(raw, LISTING_ALIASES, "listing")
    if not data.get("title"):
        raise ValidationError("listing has no title (or name)")
    data["price"] = _price(data.get("price"), "listing.price", from_csv)
    data["identifiers"] = tuple(data.get("identifiers", ()))
    return Listing(**data)


class EntryResolver:
    """Resolves `entry` values against the blocklist and collects entries defined in the file."""

    def __init__(self, known: Sequence[BlocklistEntry]) -> None:
        self.known = {e.entry_id: e for e in known}
        self.new: dict[str, BlocklistEntry] = {}

    def resolve(self, raw: Any) -> BlocklistEntry:
        if isinstance(raw, str):
            raw = {"entry_id": raw}
        if not isinstance(raw, dict):
            raise ValidationError(
                f"entry must be an object or an entry_id, got {type(raw).__name__}"
            )
        data = _fields(raw, ENTRY_ALIASES, "entry")
        entry_id = data.get("entry_id", "")
        if not data.get("product_name"):
            if not entry_id:
                raise ValidationError("entry has neither an entry_id nor a product name")
            if entry_id in self.known:
                return self.known[entry_id]
            if entry_id in self.new:
                return self.new[entry_id]
            raise ValidationError(
                f"unknown entry_id {entry_id!r}: not in the blocklist ({len(self.known)} entries) "
                "and no product name given to define it"
            )
        if entry_id in self.known:
            known = self.known[entry_id]
            if normalise(known.product_name) != normalise(data["product_name"]):
                raise ValidationError(
                    f"entry_id {entry_id!r} is {known.product_name!r} in the blocklist, "
                    f"but this row names it {data['product_name']!r}"
                )
            return known
        if not entry_id:
            key = json.dumps(data, sort_keys=True, ensure_ascii=False)
            entry_id = "pairs-" + hashlib.sha256(key.encode()).hexdigest()[:12]
        data["entry_id"] = entry_id
        data.setdefault("source", "pairs")
        data["source"] = data["source"] or "pairs"
        entry = BlocklistEntry(**data)
        previous = self.new.setdefault(entry_id, entry)
        if previous != entry:
            raise ValidationError(
                f"entry_id {entry_id!r} is defined differently on an earlier line"
            )
        return previous
