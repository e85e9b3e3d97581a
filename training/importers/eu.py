"""EU Safety Gate alerts: the TIS2024 CSVs in data/ and the Commission's public export.

The export (ec.europa.eu/safety-gate, "Export" on the alerts search) has one row per alert with
columns such as "Alert number", "Product", "Name", "Description", "Brand", "Category",
"Type / number of model", "Barcode", "Batch number", "Risk type", "Risk", "URL of Case"
(older exports merge "Batch number / Barcode"). Entries get the same id (``eu-<alert number>``)
as the bundled TIS2024 rows.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from model.matching.identifiers import extract_asins, extract_model_numbers, is_valid_gtin
from model.schema import MAX_TEXT_CHARS, BlocklistEntry
from training import loaders
from training.recall_titles import clean_brand_aliases, clean_text, notice_aliases

from .common import ImportBatch, ImportFileError, csv_rows, read_text

EXPORT_COLUMNS = {  # meaning here → column of the Commission's public export
    "alert": "Alert number",
    "generic": "Product",
    "name": "Name",
    "description": "Description",
    "brand": "Brand",
    "category": "Category",
    "models": "Type / number of model",
    "barcode": "Barcode",
    "batch_barcode": "Batch number / Barcode",
    "risk_type": "Risk type",
    "risk": "Risk",
    "url": "URL of Case",
}
_ALERT = re.compile(r"[A-Z]+\d*/\d+/\d{2}")


def read_eu(path: Path) -> ImportBatch:
    if path.suffix.lower() != ".csv":
        raise ImportFileError(path, ["EU Safety Gate alerts are read from a CSV file"])
    text = read_text(path)
    header, rows = csv_rows(path, text)
    if "alert_number" in header:
        return ImportBatch(loaders.load_eu_alerts(path), "eu-tis2024-csv")
    if EXPORT_COLUMNS["alert"] not in header:
        raise ImportFileError(path, [
            "line 1: no 'Alert number' (Safety Gate export) or 'alert_number' (TIS2024) column"
        ])  # fmt: skip
    out: list[BlocklistEntry] = []
    errors: list[str] = []
    for line, row in rows:
        try:
            out.append(_export_entry(row))
        except ValueError as exc:
            errors.append(f"line {line}: {exc}")
    if errors:
        raise ImportFileError(path, errors)
    return ImportBatch(out, "eu-safety-gate-export")


def _codes(raw: str) -> tuple[list[str], list[str]]:
    """(model-like codes, valid GTINs) from barcode cells; batch numbers are left out because
    matching on a generic batch code ("202403") would block unrelated products."""
    gtins, models = [], []
    for token in re.split(r"[\s,;/]+", raw):
        if token.isdigit() and is_valid_gtin(token):
            gtins.append(token)
        elif extract_asins(token) or extract_model_numbers(token.upper()):
            models.append(token)  # ASINs and Amazon FNSKUs sit in this column too
    return models, gtins


def _export_entry(row: Mapping[str, str]) -> BlocklistEntry:
    def col(key: str) -> str:
        return clean_text(row.get(EXPORT_COLUMNS[key]))

    alert = col("alert").replace(" ", "")
    if not _ALERT.fullmatch(alert):
        raise ValueError(f"malformed alert number {alert!r} (expected e.g. A12/00328/22)")
    generic, specific = col("generic"), col("name")
    if not generic and not specific:
        raise ValueError(f"alert {alert} has neither a Product nor a Name")
    coded, gtins = _codes(f"{col('barcode')} {col('batch_barcode')}")
    structured = [m for m in re.split(r"[,;]", col("models")) if m.strip()]
    models, gtins_t = loaders._identifiers(f"{generic}\n{specific}", structured + coded, gtins)
    brand, aliases = clean_brand_aliases(col("brand"))
    aliases = (*aliases, *notice_aliases(specific, col("description")))
    return BlocklistEntry(
        entry_id=f"eu-{alert}", source="eu", product_name=loaders._eu_name(generic, specific),
        brand=brand, model_numbers=models, gtins=gtins_t,
        aliases=tuple(a for a in dict.fromkeys(aliases) if a.lower() != brand.lower()),
        description=col("description")[:MAX_TEXT_CHARS], hazard=col("risk") or col("risk_type"),
        recall_date=f"20{alert[-2:]}", url=col("url"), category=col("category"),
    )  # fmt: skip
