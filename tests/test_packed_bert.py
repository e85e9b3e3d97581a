"""The packed (padding-free) BERT pass: same vectors as the padded pass, bounded batches."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from model.matching import fast_encoder
from model.matching.encoder import SentenceTransformerEncoder
from model.matching.packed_bert import MAX_PACKED_TOKENS, ROWS_MULTIPLE, PackedBert, token_batches

TITLES = [
    "Melissa & Doug Wooden Stacking Rainbow Rings",
    "toy",
    "TooyBing 木制串珠叠叠乐玩具 TB-MZWJ",
    "Swagway X1 hoverboard - gold, with charger, 2015, pick up only " * 3,
    "",
    "LEGO Classic Creative Bricks 10696, 484 pieces, ages 4+",
    "Jetson Rogue Self-Balancing Hoverboard with Light-Up Wheels, 42V, Purple",
]


def test_token_batches_cover_every_text_once_within_their_bounds() -> None:
    lengths = np.random.default_rng(0).integers(2, 130, size=1000)
    lengths[17] = 5000  # one text over the token budget gets a batch of its own
    batches = list(token_batches(lengths, max_tokens=2048, max_rows=64))
    seen = np.concatenate(batches)
    assert sorted(seen.tolist()) == list(range(1000))
    for batch in batches:
        assert 1 <= len(batch) <= 64
        assert len(batch) == 1 or lengths[batch].sum() <= 2048
    assert [17] in [b.tolist() for b in batches]
    # Similar lengths share a batch: the concatenation is sorted by length.
    assert (np.diff(lengths[seen]) >= 0).all()


def _padded_path(model: Any, precision: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    with monkeypatch.context() as patch:
        patch.setattr(fast_encoder.PackedBert, "of", classmethod(lambda cls, m, d: None))
        path = fast_encoder.FastPath(model, precision)
    assert path.packed is None and path.transformer is not None
    return path


def test_packed_pass_gives_the_padded_pass_vectors(
    encoder: SentenceTransformerEncoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    packed = fast_encoder.FastPath(encoder.model, "fp32")
    assert isinstance(packed.packed, PackedBert)  # all-MiniLM-L6-v2 takes the packed pass
    padded = _padded_path(encoder.model, "fp32", monkeypatch)
    texts = TITLES * 40  # several batches, lengths mixed
    a, b = packed.encode(texts), padded.encode(texts)
    assert a.shape == b.shape == (len(texts), encoder.dim) and a.dtype == np.float32
    assert np.sum(a * b, axis=1).min() > 0.99999
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    # In bf16 the packed pass (fp32 residual stream) is at least as close to fp32 as padded.
    if fast_encoder.native_bf16():
        fp32 = b
        path16 = fast_encoder.FastPath(encoder.model, "bf16")
        # bf16 takes the scripted pass with prepacked weights and the fused GELU, no fallback.
        assert isinstance(path16.packed, PackedBert) and path16.packed.prepacked
        packed16 = path16.encode(texts)
        padded16 = _padded_path(encoder.model, "bf16", monkeypatch).encode(texts)
        worst_packed = np.sum(packed16 * fp32, axis=1).min()
        assert worst_packed >= 0.9999
        assert worst_packed >= np.sum(padded16 * fp32, axis=1).min() - 1e-5


def test_a_batch_over_the_token_budget_is_split(encoder: SentenceTransformerEncoder) -> None:
    path = fast_encoder.FastPath(encoder.model, "fp32")
    calls: list[int] = []
    original = path._packed

    def spy(rows: list[list[int]]) -> np.ndarray:
        calls.append(sum(len(r) for r in rows))
        return original(rows)

    path._packed = spy  # type: ignore[method-assign]
    texts = [f"wooden toy train number {i} with carriages and track" for i in range(400)]
    path.encode(texts)
    assert len(calls) > 1 and max(calls) <= MAX_PACKED_TOKENS


@pytest.mark.parametrize(
    "change",
    [
        {"model_type": "roberta"},
        {"position_embedding_type": "relative_key"},
        {"hidden_act": "relu"},
        {"pooling_mode": "cls"},
        {"include_prompt": False},
        {"extra": "Dense"},
    ],
)
def test_other_architectures_keep_the_padded_pass(change: dict[str, Any]) -> None:
    config = SimpleNamespace(
        model_type=change.get("model_type", "bert"),
        position_embedding_type=change.get("position_embedding_type", "absolute"),
        hidden_act=change.get("hidden_act", "gelu"),
    )
    transformer = SimpleNamespace(auto_model=SimpleNamespace(config=config))
    pooling = SimpleNamespace(
        pooling_mode=change.get("pooling_mode", "mean"),
        include_prompt=change.get("include_prompt", True),
    )
    extra = type(change.get("extra", "Normalize"), (), {})()
    assert PackedBert.of([transformer, pooling, extra], dtype=None) is None


def test_a_title_gets_the_same_vector_whatever_it_is_packed_with(
    encoder: SentenceTransformerEncoder,
) -> None:
    # Rows are padded to a multiple of ROWS_MULTIPLE and titles share attention rows: neither
    # the padding nor a neighbour may leak into a title's vector.
    path = fast_encoder.FastPath(encoder.model, "fp32")
    alone = np.vstack([path.encode([t]) for t in TITLES])
    together = path.encode(TITLES)
    shuffled = path.encode(TITLES[::-1])[::-1]
    assert np.abs(alone - together).max() < 1e-5
    assert np.abs(alone - shuffled).max() < 1e-5
    assert ROWS_MULTIPLE > 1 and sum(len(r) for r in path.tokenize(TITLES)) % ROWS_MULTIPLE
