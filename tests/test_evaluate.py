"""The evaluation report: metric functions on hand-computed examples, and a real (sampled) run of
`recallguard evaluate` on the tiny bundle against the three baselines."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from model.matching.bundle import Bundle
from model.matching.encoder import SentenceTransformerEncoder
from model.matching.verdict import Thresholds
from model.schema import Listing
from training import attacks
from training.build import split_of
from training.cli import main
from training.evaluate import run_evaluation, run_realworld_only
from training.heldout import HeldOut, build_config, evaluation_set
from training.metrics import (
    brier,
    expected_calibration_error,
    pr_curve,
    reliability,
    wilson,
)
from training.scoring import Scored, summarise

SYSTEMS = ("model", "exact_match", "rapidfuzz", "minilm_faiss")


def test_pr_curve_counts_wrong_recall_as_false_positive_and_keeps_denominator() -> None:
    # Four listings: the one at 0.8 is flagged on the wrong recall, and a third true positive
    # was never ranked correctly at all, so recall can reach only 2/3.
    curve = pr_curve(np.array([0.9, 0.8, 0.7, 0.6]), np.array([1, 0, 1, 0]), n_positive=3)
    assert curve.thresholds.tolist() == [0.9, 0.8, 0.7, 0.6]
    assert curve.precision.tolist() == pytest.approx([1.0, 0.5, 2 / 3, 0.5])
    assert curve.recall.tolist() == pytest.approx([1 / 3, 1 / 3, 2 / 3, 2 / 3])
    # AP = 1/3 * 1 + 1/3 * 2/3 = 5/9, by hand.
    assert curve.average_precision == pytest.approx(5 / 9)


def test_pr_curve_ties_enter_together_and_match_sklearn_when_all_positives_rank_right() -> None:
    scores = np.array([0.9, 0.9, 0.5, 0.4, 0.4, 0.1])
    correct = np.array([1, 0, 1, 0, 1, 0])
    curve = pr_curve(scores, correct, n_positive=3)
    assert curve.thresholds.tolist() == [0.9, 0.5, 0.4, 0.1]
    assert curve.precision[0] == pytest.approx(0.5)
    assert curve.average_precision == pytest.approx(average_precision_score(correct, scores))


def test_expected_calibration_error_by_hand() -> None:
    p = np.array([0.1, 0.1, 0.9, 0.9])
    y = np.array([0, 1, 1, 1])
    # Bin [0.1, 0.2): says 0.1, observed 0.5 -> 0.4 * 2/4; bin [0.9, 1.0]: 0.1 * 2/4.
    assert expected_calibration_error(p, y, bins=10) == pytest.approx(0.25)
    assert expected_calibration_error(np.array([0.0, 1.0]), np.array([0, 1])) == 0.0
    bins = reliability(np.array([1.0, 0.0]), np.array([1, 0]), bins=15)
    assert len(bins) == 15 and bins[-1].count == 1 and bins[0].count == 1
    assert brier(p, y) == pytest.approx((0.01 + 0.81 + 0.01 + 0.01) / 4)


def test_wilson_interval_known_values() -> None:
    low, high = wilson(0, 10)
    assert low == 0.0 and high == pytest.approx(0.2775, abs=1e-4)
    low, high = wilson(5, 10)
    assert low == pytest.approx(0.2366, abs=1e-4) and high == pytest.approx(0.7634, abs=1e-4)


def test_summarise_counts_a_hit_only_for_the_right_recall_above_the_threshold() -> None:
    held = HeldOut(
        [Listing(title=t) for t in ("a", "b", "c", "d", "benign1", "benign2")],
        ["e1", "e2", "e3", "e4", None, None],
        ["typos", "typos", "typos", "leetspeak", "benign", "benign"],
    )
    scored = Scored(
        name="toy",
        candidates=[("e1",), ("e9", "e2"), ("e3",), ("e5",), ("e1",), ()],
        scores=[(0.9,), (0.95, 0.5), (0.3,), (0.8,), (0.6,), ()],
        thresholds=Thresholds(block=0.7, review=0.5),
        calibrated=True,
    )
    # e5 is another notice for the very product e4 is (same brand and name).
    s = summarise(scored, held, same_product={"e4": "p4", "e5": "p4"})
    a = s["attacked"]
    assert (a["recall_block"]["hits"], a["recall_review"]["hits"]) == (1, 1)  # only "a"
    assert a["review_same_product"]["hits"] == 2  # "a" and the repeat notice for "d"
    assert a["review_in_candidates"]["hits"] == 2  # "a", and "b" lists e2 second
    assert a["correct_in_candidates"]["hits"] == 3  # "c" is listed but below review
    assert a["flagged_review_any_match"]["hits"] == 3
    assert s["per_tactic"]["typos"]["recall_review"]["rate"] == pytest.approx(1 / 3)
    assert s["benign"]["fpr_block"]["hits"] == 0
    assert s["benign"]["sent_to_review"]["hits"] == 1
    # PR: 0.95 wrong (b), 0.9 right (a), 0.8 wrong (d), 0.6 benign, 0.3 right (c), 0 benign.
    assert s["pr_auc"] == pytest.approx(0.25 * 0.5 + 0.25 * 2 / 5)
    assert s["brier"] == pytest.approx((0.01 + 0.9025 + 0.49 + 0.64 + 0.36 + 0) / 6)


@pytest.fixture(scope="module")
def report(
    tiny_bundle_path: Path,
    encoder: SentenceTransformerEncoder,
    amazon: list[Listing],
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("eval") / "report"
    return run_evaluation(tiny_bundle_path, out, sample=48, encoder=encoder, benign=amazon)


def test_report_folder_has_json_markdown_and_plots(report: dict[str, Any]) -> None:
    out = Path(report["out"])
    for name in ("report.json", "report.md", "pr_curves.png", "reliability.png", "per_tactic.png"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    assert (out / "pr_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((out / "report.json").read_text())["systems"].keys() == set(SYSTEMS)
    md = (out / "report.md").read_text()
    assert "## Targets" in md and "Worst misses" in md
    for tactic in attacks.TACTICS:
        assert f"| {tactic} |" in md


def test_held_out_data_is_the_bundles_test_split(
    report: dict[str, Any], tiny_bundle: Bundle, amazon: list[Listing]
) -> None:
    config = build_config(tiny_bundle.config.training)
    entries = tiny_bundle.index.entries
    held = evaluation_set(entries, amazon, config, seed=report["attack_seed"], sample=48)
    assert report["attack_seed"] != config.seed
    assert {split_of(t, config) for t in held.truth if t is not None} == {"test"}
    benign = [x for x, t in zip(held.listings, held.truth, strict=True) if t is None]
    assert {split_of(b.listing_id or b.title, config) for b in benign} == {"test"}
    assert report["counts"]["attacked_listings"] == held.n_positive


def _rates(node: Any) -> list[float]:
    if isinstance(node, dict):
        if "rate" in node:
            return [node["rate"], *node["ci95"]]
        return [x for v in node.values() for x in _rates(v)]
    return []


def test_every_tactic_every_system_and_all_numbers_are_rates(report: dict[str, Any]) -> None:
    for name in SYSTEMS:
        system = report["systems"][name]
        assert set(system["per_tactic"]) == set(attacks.TACTICS), name
        values = [*_rates(system), system["pr_auc"], system["brier"], system["ece"]]
        assert values and all(0.0 <= v <= 1.0 for v in values), name
        t = system["thresholds"]
        assert 0.0 <= t["review"] <= t["block"] <= 1.0
        assert [row["key"] for row in report["targets"][name]] == [
            "recall_review", "recall_block", "fpr_block", "benign_review", "ece",
        ]  # fmt: skip


def test_model_beats_exact_match_on_recall_at_review(report: dict[str, Any]) -> None:
    model = report["systems"]["model"]["attacked"]["recall_review"]["rate"]
    exact = report["systems"]["exact_match"]["attacked"]["recall_review"]["rate"]
    assert model > exact
    # Worst misses really are misses at review, and name their tactic.
    review = report["systems"]["model"]["thresholds"]["review"]
    for miss in report["worst_misses"]:
        assert miss["tactic"] in attacks.TACTICS
        assert miss["top_entry"] != miss["true_entry"] or miss["p_top"] < review


def test_evaluate_refuses_the_build_seed(tiny_bundle_path: Path, capsys: Any) -> None:
    assert main(["evaluate", "--model", str(tiny_bundle_path), "--seed", "0", "--sample", "5"]) == 2
    assert "seed" in capsys.readouterr().err


def test_pairs_flag_hands_over_to_pairs_eval(
    tiny_bundle_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text('{"listing": {"title": "x"}, "entry_id": "cpsc-10917", "label": 1}\n')
    calls: list[tuple[Path, Path]] = []
    fake = types.ModuleType("training.pairs_eval")

    def evaluate_pairs(bundle_path: Path, pairs_path: Path) -> dict[str, Any]:
        calls.append((bundle_path, pairs_path))
        return {"pairs": 1, "accuracy": 1.0}

    fake.evaluate_pairs = evaluate_pairs  # type: ignore[attr-defined]
    fake.pairs_markdown = lambda result: f"| pairs | {result['pairs']} |"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "training.pairs_eval", fake)

    assert main(["evaluate", "--model", str(tiny_bundle_path), "--pairs", str(pairs)]) == 0
    assert capsys.readouterr().out.strip() == "| pairs | 1 |"
    assert (
        main(["evaluate", "--model", str(tiny_bundle_path), "--pairs", str(pairs), "--json"]) == 0
    )
    assert json.loads(capsys.readouterr().out) == {"pairs": 1, "accuracy": 1.0}
    assert calls == [(tiny_bundle_path, pairs)] * 2
    assert main(["evaluate", "--model", str(tiny_bundle_path), "--pairs", "/no/such"]) == 2


# ------------------------------------------------------------------------ real listings
@pytest.fixture(scope="module")
def real(
    tiny_bundle_path: Path,
    encoder: SentenceTransformerEncoder,
    amazon: list[Listing],
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("real")
    return run_realworld_only(tiny_bundle_path, out, encoder=encoder, benign=amazon[::20])


def test_realworld_numbers_are_score_py_on_the_service_screener(
    real: dict[str, Any], tiny_bundle: Bundle, tmp_path: Path
) -> None:
    """The fast path screens with `make_screener` (what the service runs) and scores exactly as
    `data/realworld-dev/score.py` scores that screener's verdicts written to a file."""
    import importlib.util

    from model.matching.cascade import make_screener
    from training.realworld import CASES_FILE, load_cases

    screener = make_screener(tiny_bundle)
    assert real["screener"] == type(screener).__name__
    verdicts = tmp_path / "verdicts.jsonl"
    with verdicts.open("w") as fh:
        for case in load_cases():
            fh.write(json.dumps(screener.screen_one(case.listing).to_dict()) + "\n")
    spec = importlib.util.spec_from_file_location("dev_score", CASES_FILE.parent / "score.py")
    assert spec and spec.loader
    score_py = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(score_py)
    raw = score_py.read_jsonl(CASES_FILE)
    theirs = score_py.as_json(score_py.score(raw, score_py.read_jsonl(verdicts)))
    ours = real["dev"]["halves"]["all"]
    assert ours["positives"]["flagged"]["rate"] == pytest.approx(
        theirs["positives"]["flagged_rate"]
    )
    assert ours["positives"]["blocked"]["rate"] == pytest.approx(
        theirs["positives"]["blocked_rate"]
    )
    assert ours["positives"]["wrong_block"] == theirs["positives"]["blocked_wrong_entry"]
    assert ours["benign"]["blocked"]["rate"] == pytest.approx(theirs["benign"]["blocked_rate"])
    assert ours["benign"]["reviewed"]["rate"] == pytest.approx(theirs["benign"]["reviewed_rate"])
    assert sorted(ours["misses"]) == sorted(theirs["misses"])


def test_realworld_halves_partition_the_set_per_kind(real: dict[str, Any]) -> None:
    halves = real["dev"]["halves"]
    assert set(halves) == {"tune", "test", "all"}
    assert set(real["dev"]["split"]["tune"]).isdisjoint(real["dev"]["split"]["test"])
    for kind, node in halves["all"]["per_kind"].items():
        parts = [halves[h]["per_kind"].get(kind, {"n": 0})["n"] for h in ("tune", "test")]
        assert sum(parts) == node["n"], kind
    assert halves["all"]["positives"]["n"] == 89 and halves["all"]["benign"]["n"] == 32
    assert [t["key"] for t in real["targets"]][:2] == ["test_flagged", "test_blocked"]
    assert all(t["value"] is None or 0.0 <= t["value"] <= 1.0 for t in real["targets"])


def test_realworld_amazon_rates_are_on_the_bundles_test_split(
    real: dict[str, Any], tiny_bundle: Bundle, amazon: list[Listing]
) -> None:
    from training.realworld_eval import heldout_amazon

    held = heldout_amazon(tiny_bundle, amazon[::20])
    config = build_config(tiny_bundle.config.training)
    assert held and {split_of(b.listing_id or b.title, config) for b in held} == {"test"}
    a = real["amazon"]
    assert a["n"] == len(held)
    assert a["blocked"]["n"] == a["reviewed"]["n"] == len(held)
    assert len(a["flagged"]) == min(15, a["blocked"]["hits"] + a["reviewed"]["hits"])


def test_realworld_markdown_leads_and_escapes_seller_text(
    real: dict[str, Any], report: dict[str, Any]
) -> None:
    from training.report_realworld import misses_md

    md = (Path(report["out"]) / "report.md").read_text()
    assert md.index("## Real listings first") < md.index("## Synthetic attack suite")
    assert "| seller-title |" in md and "held-out real Amazon UK toy listings" in md
    assert report["realworld"]["dev"]["halves"]["all"]["positives"]["n"] == 89
    fake = {"dev": {"split": {"test": ["c1"]}, "cases": [{
        "case_id": "c1", "kind": "seller-title", "title": "<script>x</script> | y",
        "expected": ["e1"], "flagged": False, "decision": "allow", "probability": 0.1,
        "shown": [],
    }]}}  # fmt: skip
    row = "\n".join(misses_md(fake))
    assert "&lt;script&gt;" in row and "<script>" not in row and "\\|" in row


def test_realworld_only_cli_skips_amazon_and_prints_json(
    tiny_bundle_path: Path, capsys: Any
) -> None:
    assert main(["evaluate", "--model", str(tiny_bundle_path), "--realworld-only",
                 "--no-amazon", "--json"]) == 0  # fmt: skip
    result = json.loads(capsys.readouterr().out)
    assert "amazon" not in result
    assert result["dev"]["halves"]["test"]["positives"]["n"] in (44, 45)
    assert {t["key"]: t["met"] for t in result["targets"]}["amazon_blocked"] is None
