"""The fast path decides exactly as fp32 does, on the tiny bundle's own evaluation data.

The evaluation listings are regenerated as the build made them: real recalled entries under the
attack suite plus real Amazon listings, in the validation and test splits the classifier never
trained on. They are screened once in fp32 and once in bf16 (the shared `encoder` fixture may
be either, depending on the CPU, so both are forced here).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from model.matching.bundle import Bundle
from model.matching.cascade import CascadeScreener, LexicalGate, make_screener
from model.matching.encoder import SentenceTransformerEncoder, _ModelLayout
from model.matching.fast_encoder import MAX_SEQ_TOKENS
from model.matching.gate_selection import fit_gate
from model.matching.screener import Screener
from model.matching.verdict import Verdict
from model.matching.views import ListingView
from model.schema import BlocklistEntry, Listing
from training.build import BuildConfig, make_examples
from training.gate import build_config_of


class Screened:
    """Valid + test evaluation listings of the tiny bundle, screened in fp32 and in bf16."""

    def __init__(self, bundle_path: Path, tiny_data: tuple[list[BlocklistEntry], list[Listing]]):
        fp32 = SentenceTransformerEncoder(str(bundle_path / "encoder"), precision="fp32")
        bf16 = SentenceTransformerEncoder(str(bundle_path / "encoder"), precision="bf16")
        self.fp32 = Bundle.load(bundle_path, encoder=fp32)
        self.bf16 = Bundle.load(bundle_path, encoder=bf16)
        entries, benign = tiny_data
        config: BuildConfig = build_config_of(self.bf16)
        held_out = [e for e in make_examples(entries, benign, config) if e.split != "train"]
        # Every held-out attack, and every other held-out benign listing (keeps CI short).
        benign_seen = [e for e in held_out if e.entry_id is None]
        examples = [e for e in held_out if e.entry_id is not None] + benign_seen[::2]
        self.listings = [e.listing for e in examples]
        self.split = np.asarray([e.split for e in examples])
        self.positive = np.asarray([e.entry_id is not None for e in examples])
        self.views = [ListingView.of(x, self.bf16.index.by_identifier) for x in self.listings]
        texts = [v.text for v in self.views]
        self.vectors32, self.vectors16 = fp32.encode(texts), bf16.encode(texts)
        self.verdicts32 = _screen(Screener(self.fp32), self.listings)
        self.verdicts16 = _screen(Screener(self.bf16), self.listings)
        self.reach = np.asarray([v.decision != "allow" for v in self.verdicts16])


def _screen(screener: Screener, listings: list[Listing]) -> list[Verdict]:
    out: list[Verdict] = []
    for start in range(0, len(listings), 256):
        out.extend(screener.screen(listings[start : start + 256]))
    return out


@pytest.fixture(scope="module")
def screened(
    tiny_bundle_path: Path, tiny_data: tuple[list[BlocklistEntry], list[Listing]]
) -> Screened:
    return Screened(tiny_bundle_path, tiny_data)


def test_bf16_embeddings_are_within_cosine_0999_of_fp32(screened: Screened) -> None:
    cosines = np.sum(screened.vectors32 * screened.vectors16, axis=1)
    assert len(cosines) > 500
    assert cosines.min() >= 0.999, f"worst cosine {cosines.min():.5f}"


def test_bf16_makes_the_same_decisions_as_fp32(screened: Screened) -> None:
    d32 = [v.decision for v in screened.verdicts32]
    d16 = [v.decision for v in screened.verdicts16]
    flips = [(x.title, a, b) for x, a, b in zip(screened.listings, d32, d16, strict=True) if a != b]
    assert not flips, f"{len(flips)} decisions flip under bf16, e.g. {flips[:3]}"
    # Not vacuous: the evaluation data holds attacks that are caught and benign listings allowed.
    assert {"block", "review"} & set(d16) and "allow" in d16
    assert np.mean(screened.reach[screened.positive]) > 0.9


def test_cascade_loses_no_escalated_listing_and_decides_as_the_full_pipeline(
    screened: Screened,
) -> None:
    valid, test = screened.split == "valid", screened.split == "test"
    pick = lambda mask: [v for v, m in zip(screened.views, mask, strict=True) if m]  # noqa: E731
    gate = LexicalGate(screened.bf16.index)
    fit = fit_gate(
        gate,
        pick(valid),
        screened.reach[valid],
        pick(test),
        screened.reach[test],
        ~screened.positive[test],
    )
    assert fit.test.reviewed > 50
    assert fit.test.missed == 0
    assert fit.test.cleared_fraction > 0.3, "the gate must clear a real share to be worth it"

    cascade = CascadeScreener(screened.bf16, threshold=fit.selection.threshold)
    test_listings = [x for x, m in zip(screened.listings, test, strict=True) if m]
    full = [v for v, m in zip(screened.verdicts16, test, strict=True) if m]
    fast = _screen(cascade, test_listings)
    assert [v.decision for v in fast] == [v.decision for v in full]
    assert cascade.cleared > 0 and cascade.escalated > 0
    # Escalated listings get the full pipeline's answer. bf16 sums may differ in the last bits
    # when a batch holds other listings (oneDNN blocks a pass by its size), so the verdict's
    # probability gets a tolerance. Lesser candidates are not compared one by one: a near-tie
    # at the cut of the top k (cosines equal to the 4th decimal) can swap, which moves the rank
    # feature of its neighbours.
    for a, b in zip(fast, full, strict=True):
        if a.candidates:
            assert len(a.candidates) == len(b.candidates)
            assert abs(a.probability - b.probability) <= 0.01
            if b.match is not None:
                assert b.match.entry_id in {c.entry_id for c in a.candidates}
        else:
            assert a.decision == "allow" and b.decision == "allow"


def test_served_pipeline_decides_as_fp32_on_the_validation_split(screened: Screened) -> None:
    # What every entry point runs (bf16 where native, the bundle's calibrated gate) against the
    # plain fp32 pipeline, listing by listing.
    served = make_screener(screened.bf16)
    assert served.gate is not None
    valid = screened.split == "valid"
    listings = [x for x, m in zip(screened.listings, valid, strict=True) if m]
    reference = [v.decision for v, m in zip(screened.verdicts32, valid, strict=True) if m]
    decisions = [v.decision for v in _screen(served, listings)]
    assert len(listings) > 300 and served.cleared > 0
    flips = [(x.title, a, b) for x, a, b in zip(listings, reference, decisions, strict=True)
             if a != b]  # fmt: skip
    assert not flips, f"{len(flips)} decisions differ from fp32, e.g. {flips[:3]}"


def test_fast_fp32_path_matches_sentence_transformers_encode(screened: Screened) -> None:
    encoder = screened.fp32.encoder
    assert isinstance(encoder, SentenceTransformerEncoder)
    texts = [v.text for v in screened.views[:150]] + ["", "word " * 400, "ok"]
    # The fast path reads at most MAX_SEQ_TOKENS tokens (real titles are all shorter); compare
    # with sentence-transformers reading as many.
    full_length = encoder.model.max_seq_length
    encoder.model.max_seq_length = min(full_length, MAX_SEQ_TOKENS)
    try:
        plain = encoder.model.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
    finally:
        encoder.model.max_seq_length = full_length
    ours = encoder.encode(texts)
    assert ours.dtype == np.float32 and ours.shape == plain.shape
    assert np.sum(ours * plain, axis=1).min() > 0.99999
    # Texts within the cap are read whole: the same as sentence-transformers at full length.
    short = encoder.model.encode(texts[:150], normalize_embeddings=True, convert_to_numpy=True)
    assert np.sum(ours[:150] * short, axis=1).min() > 0.99999


def test_changed_weights_rebuild_the_fast_copy_and_clear_the_cache(tiny_bundle_path: Path) -> None:
    encoder = SentenceTransformerEncoder(
        str(tiny_bundle_path / "encoder"), precision="bf16", cache_size=100
    )
    texts = ["wooden bead stacking toy", "magnetic building tiles"]
    before = encoder.encode(texts)
    assert encoder.cache_stats().entries == 2
    import torch

    with torch.no_grad():  # what an optimiser step does: an in-place update of the fp32 weights
        next(encoder.model.parameters()).mul_(1.5)
    after = encoder.encode(texts)
    reference = encoder.model.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
    assert np.sum(after * reference, axis=1).min() >= 0.999
    assert np.sum(after * before, axis=1).min() < 0.999
    assert encoder.cache_stats().hits == 0
    # A parameter replaced by a new one (not updated in place) is a change too, and so is a
    # submodule replaced by another (what wrapping a layer for fine-tuning does).
    owner = next(m for m in encoder.model.modules() if "weight" in m._parameters)
    owner.weight = torch.nn.Parameter(owner.weight.detach() * 0.5)
    replaced = encoder.encode(texts)
    reference = encoder.model.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
    assert np.sum(replaced * reference, axis=1).min() >= 0.999
    assert np.sum(replaced * after, axis=1).min() < 0.999
    parent, name, old = next(
        (m, n, c)
        for m in encoder.model.modules()
        for n, c in m._modules.items()
        if isinstance(c, torch.nn.Linear)
    )
    new = torch.nn.Linear(old.in_features, old.out_features)
    with torch.no_grad():
        new.weight.copy_(old.weight * 0.5)
        new.bias.copy_(old.bias)
    setattr(parent, name, new)
    swapped = encoder.encode(texts)
    reference = encoder.model.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
    assert np.sum(swapped * reference, axis=1).min() >= 0.999
    assert np.sum(swapped * replaced, axis=1).min() < 0.999


def test_the_weights_key_sees_every_structural_change() -> None:
    import torch

    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    layout = _ModelLayout.of(model)
    key = layout.key()
    assert layout.current(model) and layout.key() == key
    with torch.no_grad():
        model[0].weight.add_(1.0)  # in place: same structure, new key
    assert layout.current(model) and layout.key() != key
    model[2] = torch.nn.Linear(4, 2)  # a replaced submodule
    assert not layout.current(model)
    layout = _ModelLayout.of(model)
    model.append(torch.nn.Linear(2, 2))  # an added one
    assert not layout.current(model)
    layout = _ModelLayout.of(model)
    before = layout.key()
    del model[0].bias  # a removed parameter: no KeyError, just a new listing
    assert not layout.current(model)
    assert len(_ModelLayout.of(model).key()) == len(before) - 1
    assert not layout.current(torch.nn.Sequential())  # another model


def test_serving_load_honours_the_precision_override(
    tiny_bundle_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECALLGUARD_PRECISION", "fp32")
    monkeypatch.setenv("RECALLGUARD_EMBEDDING_CACHE", "7")
    encoder = SentenceTransformerEncoder.load(tiny_bundle_path / "encoder")
    assert encoder.precision == "fp32" and encoder.cache.max_entries == 7
    monkeypatch.setenv("RECALLGUARD_PRECISION", "fp8")
    with pytest.raises(ValueError, match="RECALLGUARD_PRECISION"):
        SentenceTransformerEncoder.load(tiny_bundle_path / "encoder")


def test_cascade_without_a_selected_threshold_is_the_plain_screener(
    tiny_bundle: Bundle, screener: Screener
) -> None:
    # Builds now select a gate threshold; a bundle without one (older builds) must screen as before.
    assert tiny_bundle.config.cascade, "the build should have selected a gate threshold"
    ungated = replace(tiny_bundle, config=replace(tiny_bundle.config, cascade={}))
    cascade = CascadeScreener(ungated)
    assert cascade.gate is None
    listing = Listing(title="Hornby 2014 Catalogue", brand="Hornby")
    assert cascade.screen_one(listing) == screener.screen_one(listing)


def test_building_regating_and_retraining_embed_in_fp32_where_serving_takes_bf16(
    tiny_bundle_path: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # As on a CPU with bf16: serving takes it, the training arithmetic does not
    # (`encoder.training_encoder`), so whether the CPU has bf16 does not change the model.
    from model.matching import fast_encoder
    from training import build, gate
    from training.cli import main as cli_main
    from training.finetune import FinetuneConfig
    from training.train import TrainConfig, _encoder, load_base

    # The build records its arithmetic (the tiny bundle is built as `recallguard build` builds).
    training = json.loads((tiny_bundle_path / "config.json").read_text())["training"]
    assert training["embed_precision"] == "fp32"

    monkeypatch.setattr(fast_encoder, "native_bf16", lambda: True)
    monkeypatch.delenv("RECALLGUARD_PRECISION", raising=False)
    assert SentenceTransformerEncoder.load(tiny_bundle_path / "encoder").precision == "bf16"

    built: list[object] = []

    def stop(*args: object) -> None:  # `build.prepare`: what the build embeds with, then stop
        built.append(args[3])
        raise InterruptedError

    monkeypatch.setattr(build, "prepare", stop)
    with pytest.raises(InterruptedError):
        build.build_bundle([], [], BuildConfig())
    assert isinstance(built[0], SentenceTransformerEncoder) and built[0].precision == "fp32"

    regated: list[Bundle] = []

    def stop_regate(bundle: Bundle, *args: object) -> None:  # `gate.regate`: what it fits with
        regated.append(bundle)
        raise InterruptedError

    monkeypatch.setattr(gate, "regate", stop_regate)
    with pytest.raises(InterruptedError):
        cli_main(["gate", "--model", str(tiny_bundle_path), "--no-register"])
    assert isinstance(regated[0].encoder, SentenceTransformerEncoder)
    assert regated[0].encoder.precision == "fp32"

    keep = TrainConfig(finetune=FinetuneConfig(epochs=0))  # retraining without fine-tuning
    base = load_base(tiny_bundle_path)
    retrain, _ = _encoder(base, None, [], keep, tmp_path)  # type: ignore[arg-type]
    assert isinstance(retrain, SentenceTransformerEncoder) and retrain.precision == "fp32"
    assert retrain.name_or_path == str(tiny_bundle_path / "encoder")
