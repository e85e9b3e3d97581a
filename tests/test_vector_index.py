"""The one FAISS abstraction: structures, one result type, merging shards, persistence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from model.matching.vector_index import Hit, IndexSpec, VectorIndex, merge_hits


def _unit(n: int, dim: int = 16, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_flat_search_is_exact_and_answers_hits_best_first() -> None:
    vectors = _unit(200)
    index = VectorIndex.build(IndexSpec("flat"), vectors, np.arange(1000, 1200))
    (hits,) = index.search(vectors[7:8], 5)
    assert all(isinstance(h, Hit) for h in hits)
    assert hits[0].id == 1007 and hits[0].similarity == pytest.approx(1.0, abs=1e-5)
    truth = np.argsort(-(vectors @ vectors[7]))[:5] + 1000
    assert [h.id for h in hits] == truth.tolist()
    assert [h.similarity for h in hits] == sorted((h.similarity for h in hits), reverse=True)


def test_merging_two_halves_equals_searching_the_whole() -> None:
    vectors, queries = _unit(300), _unit(20, seed=1)
    ids = np.arange(300)
    whole = VectorIndex.build(IndexSpec("flat"), vectors, ids)
    halves = [
        VectorIndex.build(IndexSpec("flat"), vectors[ids % 2 == i], ids[ids % 2 == i])
        for i in (0, 1)
    ]
    merged = merge_hits([h.search(queries, 10) for h in halves], 10)
    expected = whole.search(queries, 10)
    assert [[h.id for h in row] for row in merged] == [[h.id for h in row] for row in expected]


def test_ivf_and_ivfpq_train_search_and_round_trip(tmp_path: Path) -> None:
    vectors = _unit(4000, dim=32)
    for spec in (IndexSpec("ivf", 16, nprobe=16), IndexSpec("ivfpq", 16, nprobe=16, pq_m=8)):
        index = VectorIndex.build(spec, vectors, np.arange(4000) * 3)
        assert index.spec == spec
        found = index.search(vectors[:50], 10)
        # every list probed: IVF is exact, IVF-PQ finds the vector itself nearly always
        assert sum(row[0].id == 3 * i for i, row in enumerate(found)) >= 45
        index.save(tmp_path / f"{spec.kind}.faiss")
        again = VectorIndex.load(tmp_path / f"{spec.kind}.faiss")
        assert again.spec == spec and again.search(vectors[:50], 10) == found


def test_too_few_vectors_to_train_falls_back_to_exact() -> None:
    index = VectorIndex.build(IndexSpec("ivf", 64), _unit(100), np.arange(100))
    assert index.spec.kind == "flat"


def test_add_remove_and_shapes_are_checked() -> None:
    index = VectorIndex.empty(16)
    assert index.search(_unit(2), 3) == [[], []]
    index.add(_unit(10), np.arange(10, 20))
    assert index.remove(np.array([10, 11, 99])) == 2 and len(index) == 8
    with pytest.raises(ValueError, match=r"shape \(n, 16\)"):
        index.search(np.zeros((1, 8), np.float32), 3)
    positional = VectorIndex.build(IndexSpec("flat"), _unit(5))
    with pytest.raises(ValueError, match="continue its row numbers"):
        positional.add(_unit(1), np.array([9]))
    with pytest.raises(ValueError, match="flat, ivf or ivfpq"):
        IndexSpec("hnsw")


def test_positional_exact_search_answers_as_faiss_itself() -> None:
    # The blocklist's positional flat index is searched by one matrix product (`_exact`); it
    # must give FAISS's own answer: the same ids in the same order, cosines to float rounding.
    # Only where cosines tie (duplicate rows, equal to the last bit or two) may the order
    # differ: FAISS's own blocked BLAS does not give duplicates identical scores, so it has no
    # rule to copy; ours keeps the smaller ids of a tie and lists them larger id first.
    import faiss

    vectors = _unit(300, dim=32)
    duplicates = [3, 10, 50, 51, 120, 299]
    vectors[duplicates] = vectors[3]
    index = VectorIndex.build(IndexSpec("flat"), vectors)
    assert type(index.index) is faiss.IndexFlatIP  # positional: the matrix-product path
    queries = np.vstack([vectors[:40], _unit(60, dim=32, seed=2)])
    for k in (1, 4, 10, 40, 300, 400):
        sims, ids = index.search_arrays(queries, k)
        ref_sims, ref_ids = index.index.search(queries, min(k, 300))
        assert ids.dtype == np.int64 and ids.shape == ref_ids.shape
        assert np.abs(sims - ref_sims).max() < 1e-5
        differ = ids != ref_ids
        assert np.isin(ids[differ], duplicates).all() and np.isin(ref_ids[differ], duplicates).all()
        assert differ.mean() < 0.05, f"k={k}: only ties may differ"
    (row,) = index.search(vectors[3:4], 6)
    assert [h.id for h in row] == [299, 120, 51, 50, 10, 3]
    (row,) = index.search(vectors[3:4], 4)
    assert [h.id for h in row] == [51, 50, 10, 3]


def test_positional_exact_search_sees_vectors_added_after_a_search() -> None:
    vectors = _unit(50)
    index = VectorIndex.build(IndexSpec("flat"), vectors[:40])
    assert index.search(vectors[45:46], 1)[0][0].id != 45
    index.add(vectors[40:], np.arange(40, 50))
    (best,) = index.search(vectors[45:46], 1)[0]
    assert best.id == 45 and best.similarity == pytest.approx(1.0, abs=1e-5)
