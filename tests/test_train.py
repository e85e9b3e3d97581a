"""Retraining on labelled pairs, for real and small: the tiny bundle is the base, the pairs are
evasive listings made from its real entries (two attack tactics chained, which the bundle build
never trains on) plus real Amazon listings it never saw, split by listing into train / valid /
test. The retrained bundle (fine-tuned encoder, classifier on the pairs plus a sample of the
build's synthetic examples) must beat the base on the held-out test pairs."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from model.matching.bundle import Bundle
from model.matching.candidates import CandidateSearch
from model.matching.encoder import SentenceTransformerEncoder
from model.schema import Listing
from training.finetune import FinetuneConfig
from training.make_pairs import make_pairs, split_pairs
from training.pair_scoring import score_pairs
from training.pairs import PairSet, load_pairs, write_pairs
from training.pairs_eval import at_threshold, evaluate_pairs, pairs_markdown
from training.promote import ECE_TOLERANCE, compare
from training.train import TrainConfig, TrainResult, load_base, train_bundle

# Small enough for CI's 2 cores: 32-token sequences, one epoch over ~120 matches.
TUNE = FinetuneConfig(epochs=1, max_seq_length=32, progress=False)


@pytest.fixture(scope="module")
def pair_files(
    tmp_path_factory: pytest.TempPathFactory, tiny_bundle: Bundle, amazon: list[Listing]
) -> dict[str, Path]:
    search = CandidateSearch(tiny_bundle.encoder, tiny_bundle.index, tiny_bundle.config.search_k)
    # amazon[:2000] built the tiny bundle; these listings are new to it.
    pairs = make_pairs(search, amazon[2000:2300], per_entry=2, seed=1)
    root = tmp_path_factory.mktemp("pairs")
    parts = split_pairs(pairs, (0.5, 0.25, 0.25))
    return {
        name: write_pairs(root / f"{name}.jsonl", part)
        for name, part in zip(("train", "valid", "test"), parts, strict=True)
    }


def _train(
    base_path: Path, encoder: SentenceTransformerEncoder, train: PairSet, valid: PairSet,
    config: TrainConfig, benign: list[Listing],
) -> TrainResult:  # fmt: skip
    return train_bundle(load_base(base_path, encoder=encoder), train, valid, config, benign)


@pytest.fixture(scope="module")
def retrained(
    tmp_path_factory: pytest.TempPathFactory,
    tiny_bundle_path: Path,
    tiny_bundle: Bundle,
    encoder: SentenceTransformerEncoder,
    pair_files: dict[str, Path],
    amazon: list[Listing],
) -> tuple[Path, TrainResult]:
    entries = tiny_bundle.index.entries
    train = load_pairs(pair_files["train"], entries)
    valid = load_pairs(pair_files["valid"], entries)
    config = TrainConfig(finetune=TUNE, synthetic=1000)
    result = _train(tiny_bundle_path, encoder, train, valid, config, amazon[3000:6000])
    return result.bundle.save(tmp_path_factory.mktemp("retrained") / "bundle"), result


def test_retrained_bundle_is_judged_against_the_base_on_held_out_pairs(
    tiny_bundle_path: Path,
    encoder: SentenceTransformerEncoder,
    pair_files: dict[str, Path],
    retrained: tuple[Path, TrainResult],
) -> None:
    path, result = retrained
    base = evaluate_pairs(tiny_bundle_path, pair_files["test"], encoder=encoder)
    new = evaluate_pairs(path, pair_files["test"])  # loads the fine-tuned encoder from disk
    print(pairs_markdown(base), pairs_markdown(new), sep="\n")
    assert new["n_positive"] >= 40 and new["n_negative"] >= 40
    # A retrain on ~120 labelled pairs is a working model on pairs it never saw...
    assert new["pr_auc"] > 0.9
    assert new["recall_at_precision_target"] >= 0.6
    # ...but it need not beat the base, which is why `promote` compares the two. Measured on
    # this tiny setup: at 452308c the retrain lifted recall at 99% precision 72.5% -> 78.4%
    # (PR-AUC 0.963 -> 0.940); once the tiny blocklist slice changed (vehicle alerts left the
    # blocklist) the base reached 88.3% (PR-AUC 0.982) and the retrain 76.7%. The gate's
    # verdict follows the numbers either way.
    reasons = compare(new, base, ECE_TOLERANCE)
    worse = new["recall_at_precision_target"] < base["recall_at_precision_target"]
    assert bool(reasons) == (worse or new["ece"] > base["ece"] + ECE_TOLERANCE)
    # The fine-tuning really ran and changed the encoder.
    assert result.finetune is not None and result.finetune.steps > 0
    assert result.bundle.config.encoder_name.startswith("finetuned:")


def test_retrained_bundle_records_its_provenance(retrained: tuple[Path, TrainResult]) -> None:
    path, result = retrained
    assert (path / "encoder" / "model.safetensors").is_file()
    assert not list(path.rglob("*.bin")) and not list(path.rglob("*.pkl"))
    bundle = Bundle.load(path)  # hashes verified, trusted types only
    training = bundle.config.training
    assert training["kind"] == "retrain" and training["base_model"]
    assert training["embed_precision"] == "fp32"  # the training arithmetic, whatever the CPU
    assert len(training["data_sha256"]) == 64 and len(training["valid_sha256"]) == 64
    assert training["params"]["train"]["finetune"]["max_seq_length"] == 32
    validation = bundle.config.metrics["validation"]
    assert (
        validation["recall_at_precision_target"] == result.validation["recall_at_precision_target"]
    )
    assert bundle.config.metrics["counts"]["synthetic_listings"] > 0


def test_training_is_reproducible(
    tiny_bundle_path: Path,
    tiny_bundle: Bundle,
    encoder: SentenceTransformerEncoder,
    pair_files: dict[str, Path],
    amazon: list[Listing],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Same pairs, same seed -> the same fine-tuned weights and the same metrics (a small run).

    Runs in fp32 without the embedding cache: bf16 kernels round differently with the batch
    shape, and a cache filled by earlier tests changes which texts share a batch, so bf16
    embeddings (cosine >= 0.999 to fp32, tests/test_fast_encoder.py) are not bit-reproducible
    across differently-warmed processes.
    """
    monkeypatch.setenv("RECALLGUARD_PRECISION", "fp32")
    monkeypatch.setenv("RECALLGUARD_EMBEDDING_CACHE", "0")
    # Float reductions depend on the thread count; earlier tests (the service sets
    # RECALLGUARD_TORCH_THREADS=1 on import) can change it between the two runs.
    monkeypatch.setenv("RECALLGUARD_TORCH_THREADS", "1")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    monkeypatch.setattr(torch, "set_num_threads", lambda n: None)
    entries = tiny_bundle.index.entries
    full = load_pairs(pair_files["train"], entries)
    train = replace(full, pairs=full.pairs[:60])
    every = load_pairs(pair_files["valid"], entries)
    valid = replace(every, pairs=every.pairs[:80])
    config = TrainConfig(finetune=replace(TUNE, batch_size=16), synthetic=100, seed=3)
    benign = amazon[3000:3300]
    runs = [_train(tiny_bundle_path, encoder, train, valid, config, benign) for _ in range(2)]
    first, second = (r.bundle for r in runs)
    monkeypatch.undo()
    torch.set_num_threads(threads)
    assert runs[0].validation == runs[1].validation
    assert first.config.thresholds == second.config.thresholds
    a, b = first.encoder.model.state_dict(), second.encoder.model.state_dict()  # type: ignore[attr-defined]
    assert a.keys() == b.keys() and all(bool((a[k] == b[k]).all()) for k in a)
    base = tiny_bundle.encoder.model.state_dict()  # type: ignore[attr-defined]
    assert any(not bool((a[k] == base[k]).all()) for k in a)  # it did train
    X = np.random.default_rng(0).random((50, len(first.config.feature_names)))
    assert np.array_equal(first.classifier.predict_proba(X), second.classifier.predict_proba(X))


def test_pairs_with_entries_outside_the_bundle_are_scored_directly(
    tiny_bundle_path: Path, tiny_bundle: Bundle, encoder: SentenceTransformerEncoder, tmp_path: Path
) -> None:
    """A pairs file may define its own entries; the bundle cannot retrieve those, so they are
    scored as an extra candidate (and counted apart), never silently dropped."""
    known = tiny_bundle.index.entries[0]
    rows = [
        {"listing": {"title": known.product_name}, "entry": known.entry_id, "label": 1},
        {
            "listing": {"title": f"Spare parts for {known.product_name}"},
            "entry": known.entry_id,
            "label": 0,
        },
        {
            "listing": {"title": f"{known.product_name} (2024 edition)"},
            "entry": {"name": f"{known.product_name} 2024 edition", "brand": known.brand},
            "label": 1,
        },
    ]
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    result = evaluate_pairs(tiny_bundle_path, path, encoder=encoder)
    assert result["reach"] == {"retrieved": 2, "missed": 0, "direct": 1}
    assert result["n_positive"] == 2 and sum(result["confusion"]["match"].values()) == 2
    assert "| block |" in pairs_markdown(result)


def test_match_threshold_mode_uses_one_f1_cut(
    tiny_bundle_path: Path,
    tiny_bundle: Bundle,
    encoder: SentenceTransformerEncoder,
    pair_files: dict[str, Path],
) -> None:
    """Plain pair matching: one threshold, the F1-maximising one on the validation pairs."""
    entries = tiny_bundle.index.entries
    train = load_pairs(pair_files["train"], entries)
    valid = load_pairs(pair_files["valid"], entries)
    config = TrainConfig(finetune=replace(TUNE, epochs=0), synthetic=0, match_threshold=True)
    result = _train(tiny_bundle_path, encoder, train, valid, config, [])
    t = result.bundle.config.thresholds
    assert t.block == t.review and 0.0 < t.block < 1.0
    validation = result.bundle.config.metrics["validation"]
    assert validation["mode"] == "max_f1" and result.finetune is None
    bundle = result.bundle
    search = CandidateSearch(bundle.encoder, bundle.index, bundle.config.search_k)
    scored = score_pairs(search, bundle.classifier, valid.pairs)
    best = at_threshold(scored, t.block).f1
    assert best == pytest.approx(result.validation["block"]["f1"])
    assert all(at_threshold(scored, float(x)).f1 <= best + 1e-12 for x in np.unique(scored.proba))
