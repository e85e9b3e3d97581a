"""Turn each bundled regulator file into `BlocklistEntry`s, and the Amazon sample into `Listing`s.

Why one module per concern: every source has its own quirks (see data/README.md) and they must be
absorbed here, once, so the matcher only ever sees the common schema. Loaders are strict about
shape (a malformed row raises ValueError naming file and line/record) but lenient about content
(missing optional values become ""), because a silently skipped recall is a recalled toy that
stays on sale.
"""

from __future__ import annotations

import csv
import errno
import json
import logging
import math
import re
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from model.matching.identifiers import (
    canonical_id,
    code_family,
    extract_asins,
    extract_gtins,
    extract_model_numbers,
    is_valid_gtin,
    model_numbers_with_families,
    upcs_missing_check_digit,
)
from model.schema import MAX_TITLE_CHARS, BlocklistEntry, Listing
from model.settings import Settings
from training.recall_titles import (
    clean_brand_aliases,
    clean_text,
    notice_aliases,
    read_cpsc_title,
    spliced_product,
    split_cpsc_title,
    vocabulary,
)

__all__ = ["split_cpsc_title"]  # re-exported: older callers import it from here

log = logging.getLogger(__name__)

DATA_DIR = Settings.from_env().data_dir
CPSC_CSV = "cpsc-recalls-recent-catalystedge/cpsc_recalls.csv"
RECALLRADAR_JSON = "us-recalls-recallradar/recalls.json"
SPORTSGEAR_JSON = "cpsc-recalls-sportsgear-secondlook/recalls.json"
EU_2025_CSV = "eu-safety-gate-tis2024/v2025-01-18_eu_alerts.csv"
EU_2024_CSV = "eu-safety-gate-tis2024/v2024-12-07_eu_alerts.csv"
# EU Safety Gate categories no marketplace listing can be the product of. "Motor vehicles"
# (229 alerts in the two exports: passenger cars, lorries, motorcycles) only ever matched scale
# models and toy cars: at 957b758f "Scalextric C3622 Aston Martin Vantage GT3 Slot Car" scored
# 0.85 against the Aston Martin DBX707/DB12/Vantage oil-hose recall, the highest validation Amazon
# listing, which set the block cut. Same reason RecallRadar's NHTSA records are dropped.
OFF_MARKETPLACE_CATEGORIES: frozenset[str] = frozenset({"Motor vehicles"})
CPSC_CSV_TITLE_CHARS = 140  # titles in CPSC_CSV were cut to this length
AMAZON_CSV = "amazon-uk-toys-promptcloud/amazon_co-ecommerce_sample_reduced.csv"


def _identifiers(
    text: str, models: Iterable[str] = (), gtins: Iterable[str] = ()
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Structured identifiers first, then those found in the text; ASINs go with model numbers.

    Each model code is kept in full and in its family forms (`code_family`: KY-E008 and E008,
    SL712-202201 and SL712), since a notice and a listing often shorten a code differently.
    """
    found_models = []
    for m in models:
        found_models += [canonical_id(m), *code_family(m)]
    found_models += extract_asins(text) + model_numbers_with_families(text)
    found_gtins = (
        [g.zfill(14) for g in gtins] + extract_gtins(text) + upcs_missing_check_digit(text)
    )
    return tuple(dict.fromkeys(m for m in found_models if len(m) >= 3)), tuple(
        dict.fromkeys(found_gtins)
    )


def _need_file(path: Path) -> Path:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(errno.ENOENT, "recall/listing data file not found", str(path))
    return path


def _csv_rows(path: Path, required: Iterable[str]) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row) pairs; a ragged row or missing column is a ValueError naming the line."""
    with _need_file(path).open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        try:
            header = reader.fieldnames or []
            missing = [c for c in required if c not in header]
            if missing:
                raise ValueError(f"{path}: line 1: missing column(s) {missing}")
            line = reader.line_num + 1
            for row in reader:
                if None in row or any(v is None for v in row.values()):
                    got = len(header) + len(row.get(None) or []) - list(row.values()).count(None)
                    raise ValueError(
                        f"{path}: line {line}: expected {len(header)} fields, got {got}"
                    )
                yield line, row
                line = reader.line_num + 1
        except (csv.Error, UnicodeDecodeError) as exc:
            raise ValueError(f"{path}: line {reader.line_num}: malformed CSV: {exc}") from exc


def _json_records(path: Path) -> list[dict[str, Any]]:
    try:
        data = json.loads(_need_file(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: line {exc.lineno}: invalid JSON: {exc.msg}") from exc
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8: {exc}") from exc
    records = data.get("recalls") if isinstance(data, dict) else None
    if not isinstance(records, list):
        raise ValueError(f"{path}: expected an object with a 'recalls' list")
    for i, rec in enumerate(records):
        if not isinstance(rec, dict) or not rec.get("id") or not clean_text(rec.get("title")):
            raise ValueError(f"{path}: record {i}: not an object with 'id' and 'title'")
    return records


def _entry(where: str, **fields: Any) -> BlocklistEntry:
    try:
        return BlocklistEntry(**fields)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from exc


def _cpsc_id(raw: Any, where: str) -> str:
    text = clean_text(raw).removeprefix("cpsc-")
    if not text.isdigit():
        raise ValueError(f"{where}: CPSC recall id {raw!r} is not a number")
    return f"cpsc-{int(text)}"


def _cpsc_entries(rows: list[tuple[str, dict[str, Any]]]) -> list[BlocklistEntry]:
    """Build entries from (where, normalised record) pairs; the three CPSC files share this."""
    vocab = vocabulary(f"{r['description']} {r['hazard']}" for _, r in rows)
    out = []
    for where, r in rows:
        brand, product, aliases = read_cpsc_title(
            r["title"], vocab, r["description"], title_cut=r.get("title_cut", False)
        )
        spliced = spliced_product(r.get("name") or product, brand, r["description"], vocab)
        if spliced:  # the title is another recall's: the description's product and label win
            (product, brand) = spliced
            aliases = tuple(a for a in notice_aliases("", r["description"]) if a != brand)
            r = {**r, "name": ""}
        text = "\n".join((r["title"], r.get("name", ""), r["description"]))
        models, gtins = _identifiers(text, r.get("models", ()), r.get("upcs", ()))
        fields = {k: r[k] for k in ("description", "hazard", "recall_date", "url")}
        entry_id = _cpsc_id(r["id"], where)
        name = r.get("name") or product
        if not brand:
            brand, maker_aliases = clean_brand_aliases(r.get("maker"))
            aliases = (*aliases, *maker_aliases)
        aliases = tuple(a for a in dict.fromkeys(aliases) if a.lower() != brand.lower())
        out.append(
            _entry(where, entry_id=entry_id, source="cpsc", product_name=name, brand=brand,
                   model_numbers=models, gtins=gtins, aliases=aliases, **fields)
        )  # fmt: skip
    return out


def load_cpsc_csv(path: Path) -> list[BlocklistEntry]:
    """CPSC Recall API snapshot, Oct 2025 – Apr 2026 (text fields truncated by the snapshotter)."""
    rows = _csv_rows(path, ("recall_id", "title", "description", "hazards", "recall_date", "url"))
    return _cpsc_entries(
        [
            (f"{path}: line {line}", {
                "id": r["recall_id"], "title": clean_text(r["title"]),
                "description": clean_text(r["description"]), "hazard": clean_text(r["hazards"]),
                "recall_date": clean_text(r["recall_date"]), "url": clean_text(r["url"]),
                "maker": r.get("manufacturer"),
                # the snapshotter kept 140 characters of a title (data/README.md)
                "title_cut": len(clean_text(r["title"])) >= CPSC_CSV_TITLE_CHARS - 2,
            })
            for line, r in rows
        ]
    )  # fmt: skip


def _json_rows(
    path: Path, keep: Callable[[dict[str, Any]], bool] | None = None
) -> list[tuple[str, dict[str, Any]]]:
    """(where, record with the shared fields cleaned) for the two CPSC JSON files."""
    return [
        (f"{path}: record {i}", {
            **r, "title": clean_text(r["title"]), "description": clean_text(r.get("description")),
            "hazard": clean_text(r.get("hazard")), "recall_date": clean_text(r.get("date")),
            "url": clean_text(r.get("url")), "name": clean_text(r.get("name")),
        })
        for i, r in enumerate(_json_records(path))
        if keep is None or keep(r)
    ]  # fmt: skip


def load_recallradar(path: Path) -> list[BlocklistEntry]:
    """RecallRadar feed: only its CPSC consumer-product records (FDA/NHTSA are not toys).

    The feed's own `brand` is unreliable (often another recall's), so it is ignored and the brand
    is re-derived from the title.
    """
    rows = _json_rows(
        path, lambda r: r.get("source") == "CPSC" or r.get("category") == "consumer-products"
    )
    return _cpsc_entries(rows)


def load_cpsc_sportsgear(path: Path) -> list[BlocklistEntry]:
    """Sports-gear subset of CPSC recalls (1975–2026) with product names, UPCs and model tokens.

    `modelTokens` come from the repo's ETL and include ZIP codes ("20207") and serial ranges, so a
    token is kept only if it reads as a code on its own or is found after a cue word in the text.
    UPCs failing the check digit (11-digit ones, one 12-digit) are dropped.
    """
    rows = _json_rows(path)
    for _, r in rows:
        in_text = set(extract_model_numbers(f"{r['title']}\n{r['name']}\n{r['description']}"))
        tokens = [str(t) for t in r.get("modelTokens") or []]
        r["models"] = [
            t for t in tokens if extract_model_numbers(t.upper()) or canonical_id(t) in in_text
        ]
        r["upcs"] = [str(u) for u in r.get("upcs") or [] if is_valid_gtin(str(u))]
    return _cpsc_entries(rows)


def _eu_name(generic: str, specific: str) -> str:
    """Seller's wording first, regulator's generic type after: "Baby Biceps Gift Set (Toy set)"."""
    if not specific or specific.lower() in generic.lower():
        return generic
    if not generic or generic.lower() in specific.lower():
        return specific
    return f"{specific} ({generic})"


def load_eu_alerts(
    path: Path, exclude_categories: Collection[str] = OFF_MARKETPLACE_CATEGORIES
) -> list[BlocklistEntry]:
    """EU Safety Gate alerts from either TIS2024 CSV version (their columns differ).

    Alerts whose category is in `exclude_categories` (`OFF_MARKETPLACE_CATEGORIES`: vehicles)
    are left out after their row is validated.
    """
    required = ("alert_number", "product_name", "product_description", "brand", "risk_type")
    out = []
    for line, r in _csv_rows(path, required):
        where = f"{path}: line {line}"
        alert = clean_text(r["alert_number"]).replace(" ", "")
        if not re.fullmatch(r"[A-Z]+\d*/\d+/\d{2}", alert):
            raise ValueError(f"{where}: malformed alert number {r['alert_number']!r}")
        generic, specific = clean_text(r["product_name"]), clean_text(r["product_description"])
        barcodes = clean_text(r.get("barcode")).replace(",", " ").replace(";", " ").split()
        coded = [b for b in barcodes if not is_valid_gtin(b)]
        coded = [b for b in coded if extract_asins(b) or extract_model_numbers(b.upper())]
        structured = clean_text(r.get("model_type_number"))
        models = [m for m in re.split(r"[,;]", structured) if m.strip()] + coded
        models_t, gtins_t = _identifiers(
            f"{generic}\n{specific}", models, [b for b in barcodes if is_valid_gtin(b)]
        )
        category = re.sub(r"\bchildrens\b", "children's", clean_text(r.get("product_category")))
        if category in exclude_categories:
            continue
        brand, aliases = clean_brand_aliases(r["brand"])
        aliases = tuple(dict.fromkeys((*aliases, *notice_aliases(specific))))
        out.append(
            _entry(
                where,
                entry_id=f"eu-{alert}",
                source="eu",
                product_name=_eu_name(generic, specific),
                brand=brand,
                aliases=tuple(a for a in aliases if a.lower() != brand.lower()),
                model_numbers=models_t,
                gtins=gtins_t,
                description=specific,
                hazard=clean_text(r.get("risk_description")) or clean_text(r["risk_type"]),
                recall_date=f"20{alert[-2:]}",  # the alert number's year: the only date there is
                url=clean_text(r.get("case_url")),
                category=category,
            )
        )
    return out


def merge_entries(entries: Iterable[BlocklistEntry]) -> list[BlocklistEntry]:
    """One entry per entry_id; the first occurrence is preferred, but no information is lost.

    The longest description/hazard survive, identifiers are unioned, and empty fields are filled
    from the later copy (so a 2025 EU alert keeps the 2024 hazard text it lost).
    """
    merged: dict[str, BlocklistEntry] = {}
    for e in entries:
        first = merged.get(e.entry_id)
        if first is None:
            merged[e.entry_id] = e
            continue
        merged[e.entry_id] = replace(
            first,
            brand=first.brand or e.brand,
            model_numbers=tuple(dict.fromkeys(first.model_numbers + e.model_numbers)),
            gtins=tuple(dict.fromkeys(first.gtins + e.gtins)),
            description=max(first.description, e.description, key=len),
            hazard=max(first.hazard, e.hazard, key=len),
            recall_date=first.recall_date or e.recall_date,
            url=first.url or e.url,
            category=first.category or e.category,
            aliases=tuple(
                a
                for a in dict.fromkeys(first.aliases + e.aliases)
                if a.lower() != (first.brand or e.brand).lower()
            ),
        )
    return sorted(merged.values(), key=lambda x: x.entry_id)


def load_default_blocklist(data_dir: Path = DATA_DIR) -> list[BlocklistEntry]:
    """Every CPSC and EU entry bundled in data/, merged by entry_id, sorted for determinism.

    Order is preference: sportsgear names products best, RecallRadar has full CPSC text, the
    catalystedge snapshot is truncated; the 2025 EU export supersedes the 2024 one.
    """
    d = Path(data_dir)
    return merge_entries(
        [
            *load_cpsc_sportsgear(d / SPORTSGEAR_JSON),
            *load_recallradar(d / RECALLRADAR_JSON),
            *load_cpsc_csv(d / CPSC_CSV),
            *load_eu_alerts(d / EU_2025_CSV),
            *load_eu_alerts(d / EU_2024_CSV),
        ]
    )


def load_amazon_listings_with_stats(
    path: Path = DATA_DIR / AMAZON_CSV,
) -> tuple[list[Listing], int]:
    """(listings, number of rows skipped for an empty title) from the Amazon UK toy sample."""
    listings: list[Listing] = []
    skipped = 0
    for line, r in _csv_rows(path, ("uniq_id", "product_name", "price")):
        title = clean_text(r["product_name"])
        if not title:
            skipped += 1
            continue
        if len(title) > MAX_TITLE_CHARS:  # 1 real title is 536 chars; the API caps at 500
            title = title[:MAX_TITLE_CHARS].rsplit(" ", 1)[0]
        price_text = clean_text(r["price"])
        try:
            price = float(price_text) if price_text else None
        except ValueError:
            raise ValueError(f"{path}: line {line}: price {price_text!r} is not a number") from None
        if price is not None and not math.isfinite(price):
            raise ValueError(f"{path}: line {line}: price {price_text!r} is not finite")
        try:
            listing = Listing(
                title=title,
                listing_id=clean_text(r["uniq_id"]),
                brand=clean_text(r.get("manufacturer")),
                price=price,
                category=clean_text(r.get("amazon_category_and_sub_category")),
            )
        except ValueError as exc:
            raise ValueError(f"{path}: line {line}: {exc}") from exc
        listings.append(listing)
    if skipped:
        log.warning("%s: skipped %d rows with an empty title", path, skipped)
    return listings, skipped


def load_amazon_listings(path: Path = DATA_DIR / AMAZON_CSV) -> list[Listing]:
    """The 10,000 real Amazon UK toy listings (titles, brand, category path, price)."""
    return load_amazon_listings_with_stats(path)[0]
