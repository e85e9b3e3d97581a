"""Every entry point screens with the one fast screener the bundle describes (`make_screener`):
the CLI, the catalogue sweep and the evaluation here; `/screen` and `/screen_batch` in
tests/test_service.py (one BentoML app per test process).

A spy on `Screener.candidate_sets` (the stage every screening path goes through) records the
screener each call ran on; each entry point must have run with the bundle's calibrated gate.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from model.matching.bundle import Bundle
from model.matching.cascade import GateStage, bundle_gate, bundle_gate_threshold, make_screener
from model.matching.encoder import SentenceTransformerEncoder
from model.matching.screener import Screener
from model.schema import Listing
from training.cli import main

PLANTED = {"title": "TooyBing Wooden Bead Stacking Toys", "listing_id": "L-tooy"}


@pytest.fixture
def seen(monkeypatch: pytest.MonkeyPatch) -> list[Screener]:
    calls: list[Screener] = []
    original = Screener.candidate_sets

    def spy(self: Screener, listings: Any) -> Any:
        calls.append(self)
        return original(self, listings)

    monkeypatch.setattr(Screener, "candidate_sets", spy)
    return calls


@pytest.fixture(scope="module")
def threshold(tiny_bundle: Bundle) -> float:
    value = bundle_gate_threshold(tiny_bundle)
    assert value is not None, "the tiny bundle must carry a calibrated gate for these tests"
    return value


def _all_gated(seen: list[Screener], threshold: float) -> None:
    assert seen, "the entry point screened nothing"
    for screener in seen:
        assert isinstance(screener.gate, GateStage)
        assert screener.gate.threshold == threshold


def test_factory_builds_the_gated_pipeline(tiny_bundle: Bundle, threshold: float) -> None:
    screener = make_screener(tiny_bundle)
    assert isinstance(screener.gate, GateStage) and screener.gate.threshold == threshold


@pytest.mark.parametrize(
    ("stored", "expected"),
    [("char3-tfidf-v1", "char3-tfidf-v1"), ("char3-tfidf-v2", "char3-tfidf-v2"), ("v9", None)],
)
def test_a_bundle_is_gated_by_the_gate_version_its_threshold_was_selected_for(
    tiny_bundle: Bundle, stored: str, expected: str | None
) -> None:
    cascade = {**tiny_bundle.config.cascade, "gate": stored, "threshold": 0.25}
    bundle = replace(tiny_bundle, config=replace(tiny_bundle.config, cascade=cascade))
    screener = make_screener(bundle)
    if expected is None:  # a threshold for a score this code does not know: no gate at all
        assert screener.gate is None and bundle_gate(bundle) is None
        return
    assert isinstance(screener.gate, GateStage) and screener.gate.threshold == 0.25
    assert screener.gate.name == screener.gate.gate.name == expected


def test_cli_screen(
    seen: list[Screener], threshold: float, tiny_bundle_path: Path, tmp_path: Path
) -> None:
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text(json.dumps(PLANTED) + "\n" + json.dumps({"title": "Lego Duplo Zoo"}) + "\n")
    code = main(["screen", "--input", str(source), "--output", str(out), "--quiet",
                 "--model", str(tiny_bundle_path)])  # fmt: skip
    assert code == 0 and len(out.read_text().splitlines()) == 2
    _all_gated(seen, threshold)


def test_catalogue_sweep(
    seen: list[Screener],
    threshold: float,
    tiny_bundle_path: Path,
    amazon: list[Listing],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RECALLGUARD_DATA_HOME", str(tmp_path / "home"))
    rows = [{"title": x.title, "listing_id": f"a{i}"} for i, x in enumerate(amazon[:30])]
    path = tmp_path / "listings.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in [PLANTED, *rows]))
    bundle = ["--bundle", str(tiny_bundle_path)]
    assert main(["catalog", "index", str(path), *bundle]) == 0
    seen.clear()
    assert main(["catalog", "sweep", "cpsc-10917", *bundle]) == 0
    _all_gated(seen, threshold)


class _Stop(Exception):
    pass


def test_evaluation_scores_the_served_pipeline(
    seen: list[Screener],
    threshold: float,
    tiny_bundle_path: Path,
    encoder: SentenceTransformerEncoder,
    amazon: list[Listing],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import training.scoring
    from training.evaluate import run_evaluation

    original = training.scoring.score_model

    def first_batch_only(screener: Screener, held: Any, batch_size: int = 256) -> Any:
        screener.candidate_sets(held.listings[:8])
        raise _Stop

    monkeypatch.setattr(training.scoring, "score_model", first_batch_only)
    with pytest.raises(_Stop):
        run_evaluation(tiny_bundle_path, sample=24, encoder=encoder, benign=amazon[:500])
    assert original is not first_batch_only
    _all_gated(seen, threshold)
