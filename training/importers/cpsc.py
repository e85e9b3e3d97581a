"""CPSC recalls: the Recall API's JSON and the three snapshot formats bundled in data/.

The API (saferproducts.gov ``/RestWebServices/Recall?format=json``) returns a list of ``Recall``
objects: ``RecallID``, ``RecallNumber``, ``RecallDate``, ``Title``, ``Description``, ``URL``,
``Products[]`` (``Name``, ``Description``, ``Model``, ``Type``, ``CategoryID``,
``NumberOfUnits``), ``ProductUPCs[]`` (``{"UPC": ...}``, some clients flatten to strings),
``Manufacturers[]``, ``Hazards[]``, ``Images[]``, ``Remedies[]``, ``Retailers[]``. Entries get
the same id (``cpsc-<RecallID>``) as the bundled snapshots, so re-importing a recall from the API
updates the one the bundle holds instead of duplicating it.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

from model.matching.identifiers import is_valid_gtin
from training import loaders
from training.recall_titles import clean_text

from .common import ImportBatch, ImportFileError, read_text


def read_cpsc(path: Path) -> ImportBatch:
    if path.suffix.lower() == ".csv":
        return ImportBatch(loaders.load_cpsc_csv(path), "cpsc-csv-snapshot")
    try:
        data = json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        raise ImportFileError(path, [f"line {exc.lineno}: invalid JSON: {exc.msg}"]) from None
    if isinstance(data, dict) and isinstance(data.get("recalls"), list):
        records = data["recalls"]
        if any(isinstance(r, dict) and ("modelTokens" in r or "upcs" in r) for r in records):
            return ImportBatch(loaders.load_cpsc_sportsgear(path), "cpsc-sportsgear-snapshot")
        return ImportBatch(loaders.load_recallradar(path), "recallradar-snapshot")
    if isinstance(data, dict) and "RecallID" in data:
        data = [data]
    if not isinstance(data, list):
        raise ImportFileError(
            path, ["expected the CPSC Recall API's JSON list of Recall objects (or a snapshot)"]
        )
    return _api_records(path, data)


def _names(value: Any, key: str = "Name") -> list[str]:
    """Values of `key` in a list of objects (or plain strings), cleaned, empty ones dropped."""
    if not isinstance(value, list):
        return []
    out = []
    for item in value:
        raw = item.get(key) if isinstance(item, dict) else item
        text = clean_text(raw) if isinstance(raw, (str, int)) else ""
        if text:
            out.append(text)
    return out


def _recall_id(rec: dict[str, Any]) -> str | None:
    rid = rec.get("RecallID")
    if isinstance(rid, bool) or not str(rid if rid is not None else "").strip().isdigit():
        return None
    return str(int(str(rid).strip()))


def _api_records(path: Path, records: list[Any]) -> ImportBatch:
    rows: list[tuple[str, dict[str, Any]]] = []
    errors: list[str] = []
    warnings: list[str] = []
    kinds: dict[str, str] = {}
    for i, rec in enumerate(records):
        if not isinstance(rec, dict):
            errors.append(f"record {i}: not a Recall object")
            continue
        rid = _recall_id(rec)
        if rid is None:
            errors.append(f"record {i}: RecallID must be a number, got {rec.get('RecallID')!r}")
            continue
        where = f"record {i} (RecallID {rid})"
        title = clean_text(rec.get("Title"))
        if not title:
            errors.append(f"{where}: Title is missing or empty")
            continue
        products = [p for p in rec.get("Products") or [] if isinstance(p, dict)]
        upcs = []
        for upc in _names(rec.get("ProductUPCs"), "UPC"):
            digits = re.sub(r"\D", "", upc)
            if is_valid_gtin(digits):
                upcs.append(digits)
            else:
                warnings.append(f"{where}: UPC {upc!r} fails the GTIN check digit; dropped")
        models = [m for p in products for m in re.split(r"[,;]", clean_text(p.get("Model")))]
        product_text = [clean_text(p.get("Description")) for p in products]
        rows.append((f"{path}: {where}", {
            "id": rid, "title": title,
            "description": " ".join(
                x for x in [clean_text(rec.get("Description")), *product_text] if x
            ),
            "hazard": "; ".join(_names(rec.get("Hazards"))),
            "recall_date": clean_text(rec.get("RecallDate"))[:10],
            "url": clean_text(rec.get("URL")),
            "name": next(iter(_names(products)), ""),
            "maker": next(iter(_names(rec.get("Manufacturers"))), ""),
            "models": [m.strip() for m in models if m.strip()], "upcs": upcs,
        }))  # fmt: skip
        kind = next(iter(_names(products, "Type")), "")
        if kind:
            kinds[f"cpsc-{rid}"] = kind
    if errors:
        raise ImportFileError(path, errors)
    try:
        entries = loaders._cpsc_entries(rows)
    except ValueError as exc:
        raise ImportFileError(path, [str(exc)]) from None
    entries = [dataclasses.replace(e, category=kinds.get(e.entry_id, "")) for e in entries]
    return ImportBatch(entries, "cpsc-recall-api-json", warnings)
