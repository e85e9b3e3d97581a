"""The retraining notebook runs end to end on a tiny real sample (the tiny bundle as the current
bundle, pairs made from its entries and held-out Amazon listings), in a real ipykernel."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from model.matching.bundle import Bundle
from model.matching.candidates import CandidateSearch
from model.schema import Listing
from training.make_pairs import build_split, make_pairs, split_pairs
from training.pairs import write_pairs

ROOT = Path(__file__).resolve().parents[1]


def test_retraining_notebook_runs_on_a_tiny_sample(
    tiny_bundle: Bundle,
    tiny_bundle_path: Path,
    amazon: list[Listing],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    search = CandidateSearch(tiny_bundle.encoder, tiny_bundle.index, tiny_bundle.config.search_k)
    benign = build_split(amazon[2000:], "test")[:80]
    pairs = make_pairs(search, benign, per_entry=1, seed=4)
    for name, part in zip(
        ("train", "valid", "test"), split_pairs(pairs, (0.5, 0.25, 0.25)), strict=True
    ):
        write_pairs(tmp_path / f"tiny-{name}.jsonl", part)
    monkeypatch.setenv("RECALLGUARD_BUNDLE", str(tiny_bundle_path))
    monkeypatch.setenv("RETRAIN_PAIRS", str(tmp_path))
    monkeypatch.setenv("RETRAIN_PREFIX", "tiny")
    monkeypatch.setenv("RETRAIN_EPOCHS", "0.5")
    monkeypatch.setenv("RETRAIN_SEQ", "24")
    monkeypatch.setenv("RETRAIN_SYNTHETIC", "100")
    monkeypatch.setenv("TQDM_DISABLE", "1")
    nb = nbformat.read(ROOT / "notebooks" / "retraining.ipynb", as_version=4)
    NotebookClient(
        nb, kernel_name="python3", timeout=600, resources={"metadata": {"path": str(ROOT)}}
    ).execute()

    text, images = [], 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            assert out.get("output_type") != "error", out
            data = out.get("data", {})
            images += "image/png" in data
            text.append(out.get("text", "") + data.get("text/markdown", ""))
    joined = "\n".join(text)
    assert images == 1  # both PR curves in one figure
    assert f"current bundle: {tiny_bundle_path}" in joined
    assert "retrained bundle" in joined and "fine-tuning:" in joined
    assert "| PR-AUC |" in joined and "| ECE |" in joined
    assert "| test |" in joined  # the pairs summary
