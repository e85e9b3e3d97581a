"""Promotion through the CLI, on real bundles in the (session's throw-away) BentoML store:
training never changes what is served, a worse bundle is refused on the validation gate,
`--force` overrides it, and the service's default `resolve()` follows the promotion."""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import bentoml
import pytest

from model.matching.bundle import Bundle
from model.matching.candidates import CandidateSearch
from model.runtime import registry
from model.schema import Listing
from training.cli import main
from training.make_pairs import make_pairs, split_pairs
from training.pairs import write_pairs


@pytest.fixture
def clean_store() -> Iterator[None]:
    """Leave the shared session store as it was: no new bundles, no promotion record."""
    before = {str(m.tag) for m in bentoml.models.list()}
    promotion = registry._promotion_path()
    saved = promotion.read_bytes() if promotion.exists() else None
    yield
    for model in bentoml.models.list():
        if str(model.tag) not in before:
            bentoml.models.delete(model.tag)
    if saved is None:
        promotion.unlink(missing_ok=True)
    else:
        promotion.write_bytes(saved)


def _bundle_dir(tag: str) -> Path:
    return Path(bentoml.models.get(tag).path_of(registry.BUNDLE_SUBDIR))


def test_promotion_gate(
    clean_store: None,
    tmp_path: Path,
    tiny_bundle: Bundle,
    tiny_bundle_path: Path,
    amazon: list[Listing],
    capsys: pytest.CaptureFixture[str],
) -> None:
    search = CandidateSearch(tiny_bundle.encoder, tiny_bundle.index, tiny_bundle.config.search_k)
    train, valid = split_pairs(
        make_pairs(search, amazon[2300:2450], per_entry=1, seed=2), (0.6, 0.4)
    )
    # A worse bundle, honestly made: the same pairs with their labels shuffled.
    labels = [p.label for p in train]
    random.Random(0).shuffle(labels)
    relabelled = [replace(p, label=y) for p, y in zip(train, labels, strict=True)]
    shuffled = write_pairs(tmp_path / "shuffled.jsonl", relabelled)
    valid_file = write_pairs(tmp_path / "valid.jsonl", valid)

    base_tag = registry.register(tiny_bundle)
    capsys.readouterr()
    args = ["--valid", str(valid_file), "--base", str(tiny_bundle_path), "--epochs", "0"]
    assert (
        main(["train", "--pairs", str(shuffled), *args, "--synthetic", "0", "--no-progress"]) == 0
    )
    out = capsys.readouterr().out
    worse_tag = re.search(r"registered as (\S+)", out).group(1)  # type: ignore[union-attr]
    assert f"pinned {base_tag}" in out
    # Registering made the new bundle "latest", but the served one is still the base.
    assert registry.resolve() == _bundle_dir(base_tag)

    assert main(["promote", worse_tag, "--valid", str(valid_file)]) == 1
    captured = capsys.readouterr()
    assert (
        "promotion refused" in captured.err
        and "recall at the precision target fell" in captured.err
    )
    assert registry.resolve() == _bundle_dir(base_tag)

    # Without --valid the stored metrics cannot compare them (the base has no pairs metrics).
    assert main(["promote", worse_tag]) == 2
    assert "pass --valid FILE" in capsys.readouterr().err

    assert main(["promote", worse_tag, "--force"]) == 0
    assert registry.resolve() == _bundle_dir(worse_tag)
    assert registry.promotion_record()["history"][-1]["forced"] is True

    assert main(["models"]) == 0
    listing = capsys.readouterr().out
    assert re.search(rf"^\* {re.escape(worse_tag)} .*recall@p=.* cascade=none ", listing, re.M)
    # The tiny build's gate, as the bundle carries it.
    gate = "{gate}@{threshold:.4f}".format(**tiny_bundle.config.cascade)
    assert re.search(rf"^  {re.escape(base_tag)} .* cascade={re.escape(gate)} ", listing, re.M)

    # Going back to the better bundle passes the gate without --force.
    assert main(["promote", base_tag, "--valid", str(valid_file)]) == 0
    assert "promoted" in capsys.readouterr().out
    assert registry.resolve() == _bundle_dir(base_tag)


def test_promote_unknown_tag_is_a_clear_error(
    clean_store: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["promote", "recallguard:does-not-exist"]) == 2
    err = capsys.readouterr().err
    assert "no bundle 'recallguard:does-not-exist'" in err and "Traceback" not in err


def test_models_shows_a_gate_version_this_code_would_not_use_as_none(tiny_bundle: Bundle) -> None:
    recorded = registry.gate_label(tiny_bundle)
    assert recorded.startswith(f"{tiny_bundle.config.cascade['gate']}@")
    assert registry.shown_gate(recorded) == recorded
    assert registry.shown_gate("none") == "none"
    # A version dropped from cascade.GATE_TEXTS is screened ungated (cascade.bundle_gate).
    old = replace(
        tiny_bundle, config=replace(tiny_bundle.config, cascade={"gate": "x-v0", "threshold": 0.3})
    )
    assert registry.gate_label(old) == "none"
    assert registry.shown_gate("x-v0@0.3000") == "none (x-v0@0.3000 unknown)"
