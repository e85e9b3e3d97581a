"""The labelled-pairs format: every bad row is reported by line number, nothing is dropped
silently, the reviewer queue's export loads as is, and generic product-matching CSVs load."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from model.schema import BlocklistEntry
from service.review import ReviewQueue, export_labels
from tests.fakes import Clock, make_listing, make_verdict
from training.cli import main
from training.pairs import PairsError, load_pairs, write_pairs


def _write(path: Path, rows: Sequence[object]) -> Path:
    lines = [r if isinstance(r, str) else json.dumps(r) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _good(entry_id: str, title: str = "TooyBing Wooden Bead Stacking Toy", label: int = 1) -> dict:
    return {"listing": {"title": title}, "entry": {"entry_id": entry_id}, "label": label}


def test_reviewer_export_loads_as_is(
    tmp_path: Path,
    all_entries: list[BlocklistEntry],
    clock: Clock,
    sqlite_review_queue: ReviewQueue,
) -> None:
    queue = sqlite_review_queue
    confirmed, _ = queue.enqueue(make_listing(), make_verdict())
    rejected, _ = queue.enqueue(make_listing("Rainbow rings"), make_verdict())
    queue.decide(confirmed, "alice", "confirm")
    queue.decide(rejected, "bob", "reject", entry_id="cpsc-10433")
    out = tmp_path / "review.jsonl"
    assert export_labels(queue, clock.now.replace(year=2000), out) == 3
    queue.close()
    with pytest.raises(PairsError, match="line 3: unknown entry_id 'cpsc-10433'"):
        load_pairs(out, all_entries)  # the queue tests' second candidate is made up
    made_up = BlocklistEntry("cpsc-10433", "cpsc", "Rainbow Stacking Rings Teether")
    pairs = load_pairs(out, [*all_entries, made_up])
    assert [(p.listing.title, p.entry.entry_id, p.label, p.reviewer) for p in pairs.pairs] == [
        (make_listing().title, "cpsc-10917", 1, "alice"),
        ("Rainbow rings", "cpsc-10917", 0, "bob"),
        ("Rainbow rings", "cpsc-10433", 0, "bob"),
    ]
    assert pairs.pairs[0].entry.product_name  # resolved to the real blocklist entry
    assert all(p.source == "review" and p.decided_at for p in pairs.pairs)


def test_every_bad_row_is_reported_with_its_line(
    tmp_path: Path, all_entries: list[BlocklistEntry]
) -> None:
    known = all_entries[0].entry_id
    path = _write(
        tmp_path / "bad.jsonl",
        [
            _good(known),  # line 1: fine
            {"listing": {"title": "Bead toy"}, "entry": {"entry_id": known}},  # 2: no label
            _good("cpsc-does-not-exist"),  # 3: unknown entry_id
            {"listing": {"title": 42}, "entry": {"entry_id": known}, "label": 1},  # 4: type
            {**_good(known), "label": "yes"},  # 5: wrong label
            '{"listing": {"title": "Bead toy"}, "entry": ',  # 6: broken JSON
            "",  # 7: blank lines are not rows
            {**_good(known), "lable": 1},  # 8: a typo'd field is not ignored
            {"listing": {"title": "x", "price": "cheap"}, "entry": known, "label": 0},  # 9
        ],
    )
    with pytest.raises(PairsError) as err:
        load_pairs(path, all_entries)
    errors = err.value.errors
    assert [e.split(":")[0] for e in errors] == [f"line {n}" for n in (2, 3, 4, 5, 6, 8, 9)]
    message = str(err.value)
    assert "7 bad row(s)" in message
    assert "line 2: missing label" in message
    assert "unknown entry_id 'cpsc-does-not-exist'" in message
    assert "listing.title must be a string, got int" in message
    assert "label must be 1 or 0, got 'yes'" in message
    assert "line 6: not valid JSON" in message
    assert "unknown field(s) ['lable']" in message
    assert "listing.price must be a number" in message
    # --skip-bad keeps the good row and says how many it skipped.
    kept = load_pairs(path, all_entries, skip_bad=True)
    assert len(kept.pairs) == 1 and len(kept.skipped) == 7


def test_cli_refuses_a_bad_file_with_line_numbers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], all_entries: list[BlocklistEntry]
) -> None:
    bad = _write(tmp_path / "bad.jsonl", [_good(all_entries[0].entry_id), {"label": 1}])
    code = main(["train", "--pairs", str(bad), "--valid", str(bad), "--base", "none"])
    err = capsys.readouterr().err
    assert code == 2
    assert "line 1: unknown entry_id" in err and "line 2: missing listing" in err
    assert "Traceback" not in err


def test_generic_product_matching_csv(tmp_path: Path) -> None:
    """A left/right product-matching CSV with generic field names and entries defined inline."""
    path = tmp_path / "matches.csv"
    path.write_text(
        "left_title,left_manufacturer,left_price,left_model_number,"
        "right_name,right_manufacturer,right_model_number,right_price,label\n"
        'Sony Bravia 40in TV,Sony,£399.00,KDL-40,"Bravia 40"" LCD",Sony,KDL-40,389,1\n'
        'Samsung 40in TV,Samsung,,UE40,"Bravia 40"" LCD",Sony,KDL-40,389,0\n'
        "Sony Bravia,Sony,12.5,,,Sony,,,1\n",
        encoding="utf-8",
    )
    with pytest.raises(PairsError) as err:
        load_pairs(path)
    assert err.value.errors == ["line 4: entry has neither an entry_id nor a product name"]
    pairs = load_pairs(path, skip_bad=True)
    first, second = pairs.pairs
    assert first.listing.brand == "Sony" and first.listing.price == 399.0
    assert first.listing.identifiers == ("KDL-40",)
    assert first.entry.product_name == 'Bravia 40" LCD' and first.entry.model_numbers == ("KDL-40",)
    assert first.entry is second.entry and len(pairs.new_entries) == 1  # one entry, defined once
    assert (first.label, second.label) == (1, 0)


def test_write_and_reload_round_trip(tmp_path: Path, all_entries: list[BlocklistEntry]) -> None:
    rows = [_good(e.entry_id, f"title {i}", i % 2) for i, e in enumerate(all_entries[:5])]
    first = load_pairs(_write(tmp_path / "a.jsonl", rows), all_entries)
    again = load_pairs(write_pairs(tmp_path / "b.jsonl", first.pairs), all_entries)

    def content(pairs: tuple) -> list[tuple]:
        return [(p.listing, p.entry, p.label) for p in pairs]

    assert content(again.pairs) == content(first.pairs)
    assert again.sha256() == first.sha256()


def test_entry_id_naming_a_different_product_is_refused(
    tmp_path: Path, all_entries: list[BlocklistEntry]
) -> None:
    e = all_entries[0]
    row = {
        "listing": {"title": "x"},
        "entry": {"entry_id": e.entry_id, "name": "Other"},
        "label": 1,
    }
    with pytest.raises(PairsError, match=r"line 1: entry_id .* in the blocklist"):
        load_pairs(_write(tmp_path / "x.jsonl", [row]), all_entries)
