"""The embedding cache and the length batching: bounded, thread-safe, exact."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from model.matching.embedding_cache import EmbeddingCache
from model.matching.encoder import SentenceTransformerEncoder
from model.matching.fast_encoder import length_batches, padded

UNSEEN = "an unseen title"


def test_cache_is_bounded_and_evicts_the_least_recently_used() -> None:
    cache = EmbeddingCache(max_entries=2)
    cache.store(["a", "b"], np.eye(2, dtype=np.float32))
    cache.lookup(["a"])  # "a" is now the most recently used
    cache.store(["c"], np.ones((1, 2), dtype=np.float32))
    rows, misses = cache.lookup(["a", "b", "c"])
    assert misses == [1] and len(cache) == 2
    assert rows[0] is not None and rows[0].tolist() == [1.0, 0.0]
    stats = cache.stats()
    assert (stats.hits, stats.misses, stats.entries) == (3, 1, 2)


def test_cached_rows_cannot_be_corrupted_by_a_caller() -> None:
    cache = EmbeddingCache(4)
    vectors = np.ones((1, 3), dtype=np.float32)
    cache.store(["x"], vectors)
    vectors[0, 0] = 9.0
    row = cache.lookup(["x"])[0][0]
    assert row is not None and row.tolist() == [1.0, 1.0, 1.0]
    with pytest.raises(ValueError):
        row[0] = 5.0


def test_zero_size_cache_stores_nothing() -> None:
    cache = EmbeddingCache(0)
    cache.store(["x"], np.ones((1, 3), dtype=np.float32))
    assert len(cache) == 0


@pytest.mark.parametrize("max_rows,max_tokens", [(1, 8), (4, 64), (128, 4096)])
def test_length_batches_cover_every_row_once_within_budget(max_rows: int, max_tokens: int) -> None:
    lengths = np.random.default_rng(0).integers(3, 60, size=300)
    batches = list(length_batches(lengths, max_rows, max_tokens))
    seen = np.concatenate(batches)
    assert sorted(seen.tolist()) == list(range(300))
    for batch in batches:
        width = padded(int(lengths[batch].max()))
        assert len(batch) <= max_rows
        assert len(batch) == 1 or len(batch) * width <= max_tokens


def test_cached_encoder_is_exact_and_safe_across_threads(
    encoder: SentenceTransformerEncoder,
) -> None:
    cached = SentenceTransformerEncoder(encoder.name_or_path, cache_size=50)
    texts = [f"wooden toy number {i}" for i in range(40)]
    reference = cached.encode(texts)  # fills the cache
    fresh = SentenceTransformerEncoder(encoder.name_or_path, cache_size=0).encode(texts)
    np.testing.assert_array_equal(reference, fresh)
    row_of = {t: reference[i] for i, t in enumerate(texts)}
    results: list[tuple[list[str], np.ndarray]] = []
    errors: list[BaseException] = []

    def work(order: list[str]) -> None:
        batch = [*order, UNSEEN, *order[:3]]
        try:
            results.append((batch, cached.encode(batch)))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(texts[i:] + texts[:i],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(results) == 4
    unseen = results[0][1][40]
    for batch, out in results:
        assert out.shape == (44, cached.dim)
        for text, row in zip(batch, out, strict=True):
            np.testing.assert_array_equal(
                row, unseen if text == "an unseen title" else row_of[text]
            )
    assert cached.cache_stats().hits >= 4 * 43
    assert len(cached.cache) <= 50
