"""The real-listing development set: its fixed tune/test split, and scoring that agrees with the
set's own `data/realworld-dev/score.py` (loaded from the file, standard library only)."""

from __future__ import annotations

import importlib.util
import json
import random
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from model.schema import BlocklistEntry, Listing
from training.realworld import CASES_FILE, HALVES, RealCase, load_cases, recall_groups, split_cases
from training.realworld_score import score_verdicts, summarise

SCORE_PY = CASES_FILE.parent / "score.py"


@pytest.fixture(scope="module")
def cases() -> list[RealCase]:
    return load_cases()


@pytest.fixture(scope="module")
def score_py() -> ModuleType:
    spec = importlib.util.spec_from_file_location("realworld_dev_score", SCORE_PY)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --------------------------------------------------------------------------------- the split
def test_the_bundled_set_has_the_documented_counts(cases: list[RealCase]) -> None:
    assert len(cases) == 121
    assert sum(c.positive for c in cases) == 89
    # SOURCE.md: 44 recalls over 46 entry ids; two of those recalls share a case
    # (cpsc-10829/cpsc-10830), so they form one group and the split keeps them together.
    assert len({e for c in cases for e in c.expected}) == 46
    assert len(recall_groups(cases)) == 43


def test_every_case_is_in_exactly_one_half(cases: list[RealCase]) -> None:
    halves = split_cases(cases)
    assert set(halves) == set(HALVES)
    ids = [c.case_id for h in HALVES for c in halves[h]]
    assert sorted(ids) == sorted(c.case_id for c in cases)
    assert len(ids) == len(set(ids))


def test_no_recall_appears_in_both_halves(cases: list[RealCase]) -> None:
    halves = split_cases(cases)
    tune = {e for c in halves["tune"] for e in c.expected}
    test = {e for c in halves["test"] for e in c.expected}
    assert tune and test and not tune & test
    for group in recall_groups(cases):  # a recall and its repeat notices stay together
        assert len({h for h in HALVES for c in halves[h] if c in group}) == 1


def test_halves_are_balanced_and_benign_cases_split_within_each_kind(
    cases: list[RealCase],
) -> None:
    halves = split_cases(cases)
    positives = sorted(sum(c.positive for c in halves[h]) for h in HALVES)
    assert positives == [44, 45]
    for kind in {c.kind for c in cases if not c.positive}:
        counts = [sum(c.kind == kind for c in halves[h]) for h in HALVES]
        assert abs(counts[0] - counts[1]) <= 1 and min(counts) >= 1, kind


def test_split_is_deterministic_and_independent_of_file_order(cases: list[RealCase]) -> None:
    first = {h: [c.case_id for c in v] for h, v in split_cases(cases).items()}
    assert {h: [c.case_id for c in v] for h, v in split_cases(cases).items()} == first
    shuffled = list(cases)
    random.Random(7).shuffle(shuffled)
    assert {h: [c.case_id for c in v] for h, v in split_cases(shuffled).items()} == first


def test_cases_sharing_any_entry_form_one_group() -> None:
    def case(cid: str, *expected: str) -> RealCase:
        return RealCase(cid, Listing(title=cid, listing_id=cid), tuple(expected), "k", "")

    chain = [case("a", "e1"), case("b", "e1", "e2"), case("c", "e2"), case("d", "e3")]
    groups = sorted(sorted(c.case_id for c in g) for g in recall_groups([*chain, case("z")]))
    assert groups == [["a", "b", "c"], ["d"]]
    halves = split_cases(chain)
    assert {len(halves[h]) for h in HALVES} == {1, 3}


def test_a_malformed_case_names_its_line(tmp_path: Path) -> None:
    bad = tmp_path / "cases.jsonl"
    bad.write_text('{"case_id": "x", "listing": {"title": "t"}, "expected": [], "kind": "k"}\n'
                   '{"case_id": "y", "expected": []}\n')  # fmt: skip
    with pytest.raises(ValueError, match=r"cases.jsonl:2: malformed case"):
        load_cases(bad)


# ------------------------------------------------------------------- scoring vs score.py
def _cand(entry_id: str) -> dict[str, Any]:
    return {"entry_id": entry_id, "probability": 0.5}


def _verdict(cid: str, decision: str, match: str | None, cands: list[str]) -> dict[str, Any]:
    return {"listing_id": cid, "decision": decision, "probability": 0.5,
            "match": _cand(match) if match else None,
            "candidates": [_cand(c) for c in cands]}  # fmt: skip


def _fixture_verdicts(cases: list[RealCase]) -> list[dict[str, Any]]:
    """Hand-made verdicts that exercise every rule, then random ones for every other case."""
    pos = [c for c in cases if c.positive]
    ben = [c for c in cases if not c.positive]
    right = [c.expected[0] for c in pos]
    verdicts = [
        _verdict(pos[0].case_id, "block", right[0], [right[0]]),  # blocked + flagged
        _verdict(pos[1].case_id, "review", None, ["x1", "x2", right[1]]),  # 3rd candidate: flagged
        _verdict(pos[2].case_id, "review", None, ["x1", "x2", "x3", right[2]]),  # 4th: not
        _verdict(pos[3].case_id, "block", "x1", ["x1", right[3]]),  # flagged but a wrong block
        _verdict(pos[4].case_id, "allow", None, [right[4]]),  # right entry, allowed: a miss
        _verdict(pos[5].case_id, "block", None, []),  # block without a match: wrong block
        # pos[6]: no verdict at all
        _verdict(ben[0].case_id, "block", "x1", ["x1"]),
        _verdict(ben[1].case_id, "review", "x1", ["x1"]),
        _verdict(ben[2].case_id, "allow", None, ["x1"]),
        # ben[3]: no verdict
        _verdict("not-a-case", "block", "x1", ["x1"]),
        _verdict(pos[7].case_id, "allow", None, []),  # a duplicate: the later line wins
        _verdict(pos[7].case_id, "review", right[7], [right[7]]),
    ]
    rng = random.Random(10)
    ids = [*sorted({e for c in cases for e in c.expected}), "x1", "x2"]
    for c in [*pos[8:], *ben[4:]]:
        decision = rng.choice(("block", "review", "allow"))
        cands = rng.sample(ids, 4)
        match = cands[0] if decision != "allow" else None
        verdicts.append(_verdict(c.case_id, decision, match, cands))
    return verdicts


def test_scoring_agrees_with_score_py(cases: list[RealCase], score_py: ModuleType) -> None:
    verdicts = _fixture_verdicts(cases)
    raw = [json.loads(line) for line in CASES_FILE.read_text().splitlines() if line.strip()]
    theirs = score_py.as_json(score_py.score(raw, verdicts))
    ours = summarise(score_verdicts(cases, verdicts))

    pos, ben = ours["positives"], ours["benign"]
    assert pos["n"] == theirs["positives"]["n"] == 89
    assert pos["flagged"]["rate"] == pytest.approx(theirs["positives"]["flagged_rate"])
    assert pos["blocked"]["rate"] == pytest.approx(theirs["positives"]["blocked_rate"])
    assert pos["wrong_block"] == theirs["positives"]["blocked_wrong_entry"]
    assert pos["no_verdict"] == theirs["positives"]["no_verdict"] == 1
    assert ben["blocked"]["rate"] == pytest.approx(theirs["benign"]["blocked_rate"])
    assert ben["reviewed"]["rate"] == pytest.approx(theirs["benign"]["reviewed_rate"])
    assert ben["no_verdict"] == theirs["benign"]["no_verdict"] == 1
    # score.py lists positives with no verdict apart from its misses; both count them unflagged.
    missing = [m for m in theirs["missing"] if m in {c.case_id for c in cases if c.positive}]
    assert sorted(ours["misses"]) == sorted(theirs["misses"] + missing)
    assert sorted(ours["benign_not_allowed"]) == sorted(theirs["benign_not_allowed"])
    for kind, counts in theirs["per_kind"].items():
        mine = ours["per_kind"][kind]
        if kind.startswith("benign"):
            got = counts["n"] - counts.get("no_verdict", 0)
            assert mine["blocked"]["hits"] == counts.get("block", 0) and mine["blocked"]["n"] == got
            assert mine["reviewed"]["hits"] == counts.get("review", 0)
        else:
            assert mine["n"] == counts["n"], kind
            assert mine["flagged"]["hits"] == counts.get("flagged", 0), kind
            assert mine["blocked"]["hits"] == counts.get("blocked", 0), kind
            assert mine["wrong_block"] == counts.get("blocked_wrong", 0), kind


def test_each_rule_by_hand(cases: list[RealCase]) -> None:
    scores = {s.case_id: s for s in score_verdicts(cases, _fixture_verdicts(cases))}
    pos = [c.case_id for c in cases if c.positive]
    assert (scores[pos[0]].flagged, scores[pos[0]].blocked) == (True, True)
    assert (scores[pos[1]].flagged, scores[pos[1]].blocked) == (True, False)
    assert not scores[pos[2]].flagged  # right entry only 4th: not shown to the reviewer
    assert (scores[pos[3]].flagged, scores[pos[3]].wrong_block) == (True, True)
    assert not scores[pos[4]].flagged
    assert scores[pos[5]].wrong_block and not scores[pos[5]].flagged
    assert scores[pos[6]].decision is None and not scores[pos[6]].flagged
    assert scores[pos[7]].flagged  # the later of two lines for one listing wins


def test_expected_ids_exist_in_the_default_blocklist(
    cases: list[RealCase], all_entries: list[BlocklistEntry]
) -> None:
    known = {e.entry_id for e in all_entries}  # load_default_blocklist(), once per session
    missing = sorted({e for c in cases for e in c.expected} - known)
    assert not missing


def test_copied_files_match_the_checksums_in_data_readme() -> None:
    import hashlib

    readme = (CASES_FILE.parents[1] / "README.md").read_text()
    for name in ("cases.jsonl", "score.py", "SOURCE.md"):
        digest = hashlib.sha256((CASES_FILE.parent / name).read_bytes()).hexdigest()
        assert f"{digest}  realworld-dev/{name}" in readme, name
