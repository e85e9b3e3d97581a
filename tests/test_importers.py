"""Importers on the real regulator files, on the formats the regulators publish, and on broken
files; imports into the durable store are idempotent and recorded with who, when and why."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from model.runtime.blocklist_store import BlocklistStore
from model.schema import BlocklistEntry
from training import loaders
from training.cli import main
from training.importers import ImportFileError, read_entries

DATA = loaders.DATA_DIR

# The CPSC Recall API's shape (saferproducts.gov RestWebServices/Recall?format=json), filled
# with the real text of three notices from the snapshots in data/.
TOOYBING = {
    "RecallID": 10917,
    "RecallNumber": "26681",
    "RecallDate": "2026-08-13T00:00:00",
    "Title": "TooyBing Wooden Bead Stacking Toys Recalled Due to Risk of Serious Injury or Death "
    "from Choking; Violate Small Parts Ban",
    "Description": "This recall involves the TooyBing Wooden Bead Stacking Toy, model TB-MZWJ.",
    "URL": "https://www.cpsc.gov/Recalls/2026/TooyBing-Wooden-Bead-Stacking-Toys-Recalled-Due-to-"
    "Risk-of-Serious-Injury-or-Death-from-Choking-Violate-Small-Parts-Ban",
    "Products": [
        {
            "Name": "TooyBing Wooden Bead Stacking Toys",
            "Description": "",
            "Model": "TB-MZWJ",
            "Type": "Toys",
            "CategoryID": "",
            "NumberOfUnits": "",
        }
    ],
    "ProductUPCs": [],
    "Manufacturers": [{"Name": "Guangzhou Yide Toys Co., Ltd., of China", "CompanyID": ""}],
    "Hazards": [
        {
            "Name": "The wooden beads pose a deadly choking hazard to young children.",
            "HazardType": "",
            "HazardTypeID": "",
        }
    ],
    "Images": [{"URL": "https://www.cpsc.gov/s3fs-public/tooybing.png", "Caption": ""}],
}
REGENT = {
    "RecallID": 4434,
    "RecallNumber": "08400",
    "RecallDate": "2008-09-16T00:00:00",
    "Title": "Regent Sports Recalls Soccer Goal Nets Following Strangulation Death of a Child",
    "Description": "Both soccer goals have a foldable white frame with a white net.",
    "URL": "https://www.cpsc.gov/Recalls/2008/Regent-Sports-Recalls-Soccer-Goal-Nets-Following-"
    "Strangulation-Death-of-a-Child",
    "Products": [{"Name": "MacGregor Folding Soccer Goals, Mitre Folding Soccer Goals"}],
    "ProductUPCs": [{"UPC": "029807891864"}, "029807972365"],  # both shapes seen in the wild
    "Manufacturers": [],
    "Hazards": [{"Name": "Head and neck entrapment or strangulation hazard"}],
}
TODSON = {
    "RecallID": 81,
    "Title": "CO2 Bicycle Tire Inflators Sold at Walmart Recalled by Todson Inc. Due to Risk of "
    "Injury",
    "ProductUPCs": [{"UPC": "798661556020"}],  # the real notice's UPC fails its check digit
}
# The Commission's public Safety Gate export: the same alert as data/'s TIS2024 row A12/02685/24.
EXPORT_HEADER = ["Alert number", "Type of alert", "Product", "Name", "Description", "Brand",
                 "Category", "Type / number of model", "Barcode", "Batch number", "Risk type",
                 "Risk", "URL of Case"]  # fmt: skip
BICEPS = ["A12/02685/24", "Serious risk", "Toy set", "Baby Biceps Gift Set",
          "Plastic dumbbell toy with grey bar", "Fisher-Price", "Toys", "", "0887961809596", "",
          "Choking", "The caps can come off and be swallowed.", ""]  # fmt: skip


def write_json(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def write_csv(path: Path, rows: list[list[str]], delimiter: str = ",") -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, delimiter=delimiter).writerows(rows)
    return path


@pytest.mark.parametrize(
    ("name", "source", "fmt", "count"),
    [
        (loaders.CPSC_CSV, "cpsc", "cpsc-csv-snapshot", 289),
        (loaders.RECALLRADAR_JSON, "cpsc", "recallradar-snapshot", 197),
        (loaders.SPORTSGEAR_JSON, "cpsc", "cpsc-sportsgear-snapshot", 885),
        # Motor-vehicle alerts left out (`loaders.OFF_MARKETPLACE_CATEGORIES`): 195 and 75.
        (loaders.EU_2025_CSV, "eu", "eu-tis2024-csv", 158),
        (loaders.EU_2024_CSV, "eu", "eu-tis2024-csv", 107),
    ],
)
def test_real_snapshot_files_import_whole(name: str, source: str, fmt: str, count: int) -> None:
    batch = read_entries(DATA / name, source)
    assert batch.format == fmt
    assert len(batch.entries) == count
    assert len({e.entry_id for e in batch.entries}) == count
    assert all(e.entry_id.startswith(f"{source}-") for e in batch.entries)


def test_cpsc_recall_api_json(tmp_path: Path) -> None:
    path = write_json(tmp_path / "recalls.json", [TOOYBING, REGENT, TODSON])
    batch = read_entries(path, "cpsc")
    assert batch.format == "cpsc-recall-api-json"
    by_id = {e.entry_id: e for e in batch.entries}
    tooy = by_id["cpsc-10917"]  # the same id as the bundled snapshot's copy of this recall
    assert tooy.product_name == "TooyBing Wooden Bead Stacking Toys"
    assert tooy.brand == "TooyBing"
    assert "TBMZWJ" in tooy.model_numbers
    assert tooy.recall_date == "2026-08-13" and tooy.category == "Toys"
    assert "choking" in tooy.hazard
    assert set(by_id["cpsc-4434"].gtins) == {"00029807891864", "00029807972365"}
    assert by_id["cpsc-81"].gtins == ()
    assert any("798661556020" in w and "check digit" in w for w in batch.warnings)


def test_eu_commission_export_comma_and_semicolon(tmp_path: Path) -> None:
    for delimiter in (",", ";"):
        path = write_csv(tmp_path / f"export{delimiter == ';'}.csv", [EXPORT_HEADER, BICEPS],
                         delimiter)  # fmt: skip
        (entry,) = read_entries(path, "eu").entries
        assert entry.entry_id == "eu-A12/02685/24"
        assert entry.product_name == "Baby Biceps Gift Set (Toy set)"
        assert entry.brand == "Fisher-Price" and entry.gtins == ("00887961809596",)
        assert entry.hazard == "The caps can come off and be swallowed."
    # The same alert from the bundled TIS2024 export maps to the same id and barcode.
    tis = {e.entry_id: e for e in read_entries(DATA / loaders.EU_2025_CSV, "eu").entries}
    assert tis["eu-A12/02685/24"].gtins == entry.gtins


def test_manual_csv_and_jsonl(tmp_path: Path) -> None:
    csv_path = write_csv(tmp_path / "list.csv", [
        ["entry_id", "product_name", "brand", "model_numbers", "gtins", "recall_date", "url"],
        ["reg-001", "Rainbow Magnetic Tiles 60pc", "Tilez", "MT-60; MT60B", "0887961809596",
         "2026-09", "https://example.org/notice/1"],
    ])  # fmt: skip
    (entry,) = read_entries(csv_path, "manual").entries
    assert entry.source == "manual" and entry.model_numbers == ("MT60", "MT60B")
    assert entry.gtins == ("00887961809596",)
    jsonl = tmp_path / "list.jsonl"
    jsonl.write_text(
        json.dumps(
            {
                "entry_id": "reg-002",
                "product_name": "Squishy Slime Eggs",
                "model_numbers": ["SE-12"],
                "source": "ukpsd",
            }
        )
        + "\n\n"
    )
    (entry,) = read_entries(jsonl, "manual").entries
    assert entry.source == "ukpsd" and entry.model_numbers == ("SE12",)


def test_malformed_files_list_every_problem_with_its_line(tmp_path: Path) -> None:
    bad = write_csv(tmp_path / "bad.csv", [
        ["entry_id", "product_name", "gtins", "url"],
        ["", "Foo", "123", "ftp://x"],
        ["ok-1", "", "", ""],
        ["ok-2", "Bar", "", ""],
        ["ok-2", "Bar again", "", ""],
    ])  # fmt: skip
    with pytest.raises(ImportFileError) as exc:
        read_entries(bad, "manual")
    errors = exc.value.errors
    assert any(e.startswith("line 2: entry_id") for e in errors)
    assert any(e.startswith("line 2: GTIN '123'") for e in errors)
    assert any(e.startswith("line 2: url") for e in errors)
    assert any(e.startswith("line 3: product_name is required") for e in errors)
    assert any(e.startswith("line 5:") and "already on line 4" in e for e in errors)
    assert "nothing imported" in str(exc.value)

    cases = {
        "unknown.csv": ("manual", "entry_id,product_name,colour\nx-1,Doll,red\n", "line 1"),
        "ragged.csv": ("manual", "entry_id,product_name\nx-1,Doll,extra\n", "line 2"),
        "broken.jsonl": (
            "manual",
            '{"entry_id": "x-1", "product_name": "Doll"}\n{oops\n',
            "line 2",
        ),
        "list.jsonl": ("manual", '["x-1"]\n', "line 1: expected a JSON object"),
        "trunc.json": ("cpsc", '[{"RecallID": 1,\n "Title": "x"', "line 2: invalid JSON"),
        "noid.json": ("cpsc", json.dumps([{"Title": "A recall"}]), "record 0: RecallID"),
        "notitle.json": ("cpsc", json.dumps([{"RecallID": 5}]), "Title is missing"),
        "alert.csv": ("eu", "Alert number,Product,Name\nnot-an-alert,Toy,Doll\n", "line 2"),
        "nocol.csv": ("eu", "Alert,Product\nA12/0001/24,Toy\n", "line 1"),
        "latin1.csv": ("manual", "entry_id,product_name\nx-1,Poupée\n", "not UTF-8"),
    }
    for name, (source, text, expected) in cases.items():
        path = tmp_path / name
        if name == "latin1.csv":
            path.write_bytes(text.encode("latin-1"))
        else:
            path.write_text(text, encoding="utf-8")
        with pytest.raises(ValueError, match=expected.replace("[", r"\[")):
            read_entries(path, source)


def test_import_is_idempotent_and_records_who_when_why(tmp_path: Path) -> None:
    store = BlocklistStore(tmp_path / "store")
    entries = read_entries(DATA / loaders.RECALLRADAR_JSON, "cpsc").entries
    first = store.upsert(entries, "alice", "weekly CPSC feed")
    assert len(first.added) == 197 and first.seq == 1
    again = store.upsert(entries, "alice", "weekly CPSC feed")
    assert again.change_set is None and len(again.unchanged) == 197
    # A corrected notice updates in place (one entry, the changed fields named).
    fixed = [
        BlocklistEntry.from_dict({**e.to_dict(), "hazard": e.hazard + " (corrected)"})
        if e.entry_id == "cpsc-10917" else e
        for e in entries
    ]  # fmt: skip
    update = store.upsert(fixed, "bob", "CPSC corrected 10917")
    assert update.updated == ("cpsc-10917",) and len(update.unchanged) == 196
    state = store.state()
    assert len(state.records) == 197 and state.seq == 2
    history = store.history("cpsc-10917")
    assert [(c.seq, c.actor, c.reason, c.changes[0].op) for c in history] == [
        (1, "alice", "weekly CPSC feed", "add"), (2, "bob", "CPSC corrected 10917", "update"),
    ]  # fmt: skip
    assert history[1].changes[0].fields == ("hazard",)
    # Entries the served bundle already holds unchanged are not copied into the store.
    base = {e.entry_id: e for e in entries}
    other = BlocklistStore(tmp_path / "other").upsert(entries, "alice", "", base=base)
    assert other.change_set is None


def test_cli_import_list_show_remove(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RECALLGUARD_DATA_HOME", str(tmp_path / "home"))
    bundle = tmp_path / "bundle"  # only entries.jsonl is read: which ids the bundle holds
    bundle.mkdir()
    (bundle / "entries.jsonl").write_text(json.dumps(read_entries(
        DATA / loaders.RECALLRADAR_JSON, "cpsc").entries[0].to_dict()) + "\n")  # fmt: skip
    api = write_json(tmp_path / "api.json", [TOOYBING, REGENT])
    common = ["--bundle", str(bundle), "--actor", "carol"]
    assert main(["blocklist", "import", str(api), "--source", "cpsc", *common]) == 0
    assert "2 added" in capsys.readouterr().out
    assert main(["blocklist", "import", str(api), "--source", "cpsc", *common]) == 0
    assert "2 unchanged; nothing to record" in capsys.readouterr().out
    assert main(["blocklist", "list"]) == 0
    assert "cpsc-4434" in capsys.readouterr().out
    assert main(["blocklist", "remove", "cpsc-4434", "--reason", "wrong notice", *common]) == 0
    assert "1 removed" in capsys.readouterr().out
    assert main(["blocklist", "show", "cpsc-4434", "--json", "--bundle", str(bundle)]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["status"] == "removed"
    assert [c["changes"][0]["op"] for c in shown["history"]] == ["add", "remove"]
    assert shown["history"][1]["actor"] == "carol"
    assert shown["history"][1]["reason"] == "wrong notice"
    # User mistakes: one line, exit 2, nothing changed.
    assert main(["blocklist", "remove", "cpsc-999999", "--reason", "x", *common]) == 2
    bad = write_json(tmp_path / "bad.json", [{"RecallID": "abc", "Title": "x"}])
    assert main(["blocklist", "import", str(bad), "--source", "cpsc", *common]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("recallguard: error:") for line in err)
    assert "record 0: RecallID" in err[1]
