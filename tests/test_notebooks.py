"""The evaluation notebook runs end to end (a small evaluation on the tiny bundle), so it cannot
rot. It executes in a real ipykernel: the venv's `python3` kernel spec, whose `python` argv
jupyter_client resolves to this interpreter."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from training import attacks

ROOT = Path(__file__).resolve().parents[1]


def _outputs(nb: nbformat.NotebookNode) -> tuple[str, int]:
    text, images = [], 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            assert out.get("output_type") != "error", out
            data = out.get("data", {})
            images += "image/png" in data
            text.append(
                out.get("text", "") + data.get("text/plain", "") + data.get("text/html", "")
            )
    return "\n".join(text), images


def test_evaluation_notebook_runs_a_small_evaluation(
    tiny_bundle_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "report"
    monkeypatch.setenv("RECALLGUARD_BUNDLE", str(tiny_bundle_path))
    monkeypatch.setenv("RECALLGUARD_EVAL_RUN", "1")
    monkeypatch.setenv("RECALLGUARD_EVAL_SAMPLE", "24")
    monkeypatch.setenv("RECALLGUARD_EVAL_OUT", str(out))
    monkeypatch.setenv("TQDM_DISABLE", "1")
    nb = nbformat.read(ROOT / "notebooks" / "evaluation.ipynb", as_version=4)
    NotebookClient(
        nb, kernel_name="python3", timeout=600, resources={"metadata": {"path": str(ROOT)}}
    ).execute()

    text, images = _outputs(nb)
    assert images == 3  # PR curves, reliability diagram, per-tactic recall
    assert (out / "report.json").is_file()
    report = json.loads((out / "report.json").read_text())
    assert report["sample"] == 24
    assert f"report {out}" in text
    for tactic in attacks.TACTICS:  # the per-tactic table
        assert tactic in text
    for system in ("exact_match", "rapidfuzz", "minilm_faiss"):
        assert system in text
    # Real listings lead: targets, per-kind table with both halves, held-out Amazon rates.
    assert report["realworld"]["dev"]["halves"]["all"]["positives"]["n"] == 89
    assert "ALL POSITIVES" in text and "seller-title" in text
    assert "held-out Amazon UK listings:" in text
    assert text.index("dev test half") < text.index("exact_match")
