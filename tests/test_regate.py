"""`recallguard gate`: a bundle's cascade gate re-selected for this code's gate version, with
nothing else of the bundle changed (integration, on the tiny bundle)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from model.matching.bundle import Bundle
from model.matching.cascade import GATE_NAME, GateStage, make_screener
from model.matching.gate_selection import COMMON_SHARES
from model.matching.screener import Screener
from model.schema import BlocklistEntry, Listing
from training.cli import main
from training.gate import regate


def _with_cascade(bundle: Bundle, **cascade: object) -> Bundle:
    return replace(bundle, config=replace(bundle.config, cascade=dict(cascade)))


def test_regate_selects_the_current_gate_and_keeps_the_model(
    tiny_bundle: Bundle, tiny_data: tuple[list[BlocklistEntry], list[Listing]]
) -> None:
    old = _with_cascade(tiny_bundle, gate="char3-tfidf-v1", threshold=0.5)
    new = regate(old, tiny_data[1])
    cascade = new.config.cascade
    assert cascade["gate"] == GATE_NAME and 0 < cascade["threshold"] < 1
    assert cascade["test_reviewed"] > 50 and cascade["test_missed"] == 0
    assert new.config.version != old.config.version
    assert new.config.version.split("-")[-1] == old.config.version.split("-")[-1]  # same data
    assert new.config.thresholds == old.config.thresholds
    assert (new.encoder, new.index, new.classifier) == (old.encoder, old.index, old.classifier)
    screener = make_screener(new)
    assert isinstance(screener.gate, GateStage) and screener.gate.name == GATE_NAME
    # The stoplist selected with the threshold is stored with it and is the one screening uses;
    # the build selects the same way.
    assert cascade["common_share"] in (None, *COMMON_SHARES)
    assert cascade["common_brand_words"] == sorted(screener.gate.gate.common)
    assert set(tiny_bundle.config.cascade) == set(cascade)
    assert old.config.cascade["gate"] == "char3-tfidf-v1"  # the original is left alone


def test_gate_command_writes_a_regated_copy(
    tiny_bundle_path: Path,
    tiny_bundle: Bundle,
    tiny_data: tuple[list[BlocklistEntry], list[Listing]],
    tmp_path: Path,
) -> None:
    out = tmp_path / "regated"
    assert main(["gate", "--model", str(tiny_bundle_path), "--out", str(out), "--no-register"]) == 0
    written = Bundle.load(out, encoder=tiny_bundle.encoder)
    assert written.config.cascade["gate"] == GATE_NAME
    assert written.config.version != tiny_bundle.config.version
    assert written.config.thresholds == tiny_bundle.config.thresholds
    # The same model: the full pipeline answers alike, recalls and honest listings both.
    entries, benign = tiny_data
    listings = [Listing(title=e.product_name) for e in entries[:20]] + benign[:40]
    before, after = (Screener(b).screen(listings) for b in (tiny_bundle, written))
    assert [(v.decision, v.probability) for v in before] == [
        (v.decision, v.probability) for v in after
    ]
    assert {v.decision for v in after} >= {"block", "allow"}


def test_gate_command_refuses_a_bundle_without_a_build_record(
    tiny_bundle: Bundle, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    retrained = replace(
        tiny_bundle, config=replace(tiny_bundle.config, training={"kind": "retrain"})
    )
    path = retrained.save(tmp_path / "retrained")
    assert main(["gate", "--model", str(path), "--no-register"]) == 2
    err = capsys.readouterr().err
    assert "records no build config (made by 'retrain')" in err and "Traceback" not in err


@pytest.mark.parametrize(
    "command",
    [
        ["gate", "--no-register", "--model"],
        ["evaluate", "--realworld-only", "--no-amazon", "--model"],
        ["screen", "--input", "{listings}", "--output", "{out}", "--model"],
    ],
)
def test_a_bundle_that_is_neither_a_folder_nor_a_tag_is_a_one_line_error(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    listings = tmp_path / "listings.jsonl"
    listings.write_text('{"title": "Wooden stacking toy"}\n')
    args = [a.format(listings=listings, out=tmp_path / "out.jsonl") for a in command]
    # A missing absolute path is not a valid store tag either (BentoML rejects the '/').
    assert main([*args, str(tmp_path / "no-such-bundle")]) == 2
    err = capsys.readouterr().err
    assert "no bundle at path" in err and "Traceback" not in err


def test_a_damaged_encoder_is_refused_before_it_is_read(
    tiny_bundle_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # `recallguard gate` and retraining load the encoder themselves (in fp32), so they check the
    # bundle first: a cut-short weights file is named, not parsed into a traceback.
    import shutil

    from model.matching.bundle import BundleIntegrityError
    from training.train import load_base

    damaged = tmp_path / "damaged"
    shutil.copytree(tiny_bundle_path, damaged)
    weights = damaged / "encoder" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    assert main(["gate", "--model", str(damaged), "--no-register"]) == 2
    err = capsys.readouterr().err
    assert "encoder/model.safetensors" in err and "Traceback" not in err
    with pytest.raises(BundleIntegrityError, match=r"encoder/model\.safetensors"):
        load_base(damaged)
