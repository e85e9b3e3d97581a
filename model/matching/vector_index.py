"""The one FAISS abstraction: every vector search in RecallGuard goes through `VectorIndex`.

The blocklist (a few thousand entry texts, exact search), the live catalogue (millions of
listings, IVF) and each shard of a sharded catalogue (IVF-PQ at a billion) hold their vectors
in a `VectorIndex`, and every search answers with one result type, `Hit`: per query, up to `k`
(id, cosine) pairs, best first. Ids are the caller's int64 keys (row numbers for the blocklist,
SQLite row ids for the catalogue). The idea is MinishLab/vicinity's: one backend interface,
one result type, whatever structure sits underneath.

Structures (all inner product on unit vectors = cosine):

- ``flat``: exact search; no training. Used below `IVF_MIN` vectors.
- ``ivf``: ``IndexIVFFlat``, `nlist` lists searched `nprobe` deep. Supports ``add_with_ids``
  and ``remove_ids`` in place (a catalogue churns daily), which HNSW does not.
  ``benchmarks/sweep.py`` measured recall against exact search at 1M vectors and picked
  `DEFAULT_NPROBE`.
- ``ivfpq``: ``IndexIVFPQ`` with `pq_m` sub-quantisers of 8 bits: `pq_m` bytes per vector
  (+8 for the id) instead of 4 x dim, for shards of a billion-listing catalogue (README
  "Scaling out"). Its scores are approximate cosines.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import faiss
import numpy as np

IVF_MIN = 20_000
DEFAULT_NPROBE = 96  # 1M listings, 4096 lists: recall@100 ~0.96 in ~5 ms per entry
TRAIN_PER_LIST = 40  # k-means sample per list; FAISS warns below 39
TIE_MARGIN = 8  # rows past k kept through the exact search's partial sort (`_exact`)
DEFAULT_PQ_M = 48  # 384-d MiniLM / 48 = 8 dims per sub-quantiser: 48 bytes per vector


class Hit(NamedTuple):
    """One search result: the caller's id and its cosine to the query (higher is closer)."""

    id: int
    similarity: float


@dataclass(frozen=True)
class IndexSpec:
    """Which structure to build.

    `flat` (exact), `ivf` (`nlist` lists searched `nprobe` deep) or `ivfpq` (the same, with
    vectors compressed to `pq_m` bytes; 0 means `DEFAULT_PQ_M`).

    :raises ValueError: `kind` is none of the three.
    """

    kind: str
    nlist: int = 0
    nprobe: int = DEFAULT_NPROBE
    pq_m: int = 0

    def __post_init__(self) -> None:
        if self.kind not in ("flat", "ivf", "ivfpq"):
            raise ValueError(f"index kind must be flat, ivf or ivfpq, got {self.kind!r}")

    @classmethod
    def for_size(cls, n: int, nprobe: int = DEFAULT_NPROBE) -> IndexSpec:
        """Exact below `IVF_MIN` vectors, else IVF with ~4 sqrt(n) lists (1M -> 4096)."""
        nlist = lists_for(n)
        if n < IVF_MIN or n < TRAIN_PER_LIST * nlist:
            return cls("flat", 0, nprobe)
        return cls("ivf", nlist, nprobe)


def lists_for(n: int) -> int:
    """The usual IVF list count for `n` vectors: the power of two nearest 4 sqrt(n)."""
    return int(2 ** round(math.log2(4 * math.sqrt(max(n, 1)))))


def _as_matrix(vectors: np.ndarray, dim: int) -> np.ndarray:
    matrix = np.ascontiguousarray(vectors, dtype=np.float32)
    if matrix.ndim != 2 or matrix.shape[1] != dim:
        raise ValueError(f"expected vectors of shape (n, {dim}), got {matrix.shape}")
    return matrix


class VectorIndex:
    """Vectors under int64 ids in one FAISS index; `search` answers `list[list[Hit]]`."""

    def __init__(self, index: faiss.Index) -> None:
        self.index = index
        # A positional exact index's vectors as one matrix (see `_exact`), copied on first search.
        self._rows: np.ndarray | None = None

    # -- construction ---------------------------------------------------------------------------
    @classmethod
    def empty(cls, dim: int) -> VectorIndex:
        """An exact index with nothing in it yet."""
        return cls(faiss.IndexIDMap2(faiss.IndexFlatIP(dim)))

    @classmethod
    def build(
        cls, spec: IndexSpec, vectors: np.ndarray, ids: np.ndarray | None = None, seed: int = 0
    ) -> VectorIndex:
        """A trained index holding `vectors` (n, dim) float32 under int64 `ids` (n,).

        Default ids are the row numbers, kept by position in a plain ``IndexFlatIP`` when exact.
        IVF kinds train on a fixed-seed sample of `TRAIN_PER_LIST` x `nlist` vectors, so the
        same input builds the same index; with too few vectors to train they fall back to flat.

        :raises ValueError: `ids` and `vectors` differ in length, or `pq_m` does not divide dim.
        """
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        dim = int(vectors.shape[1])
        positional = ids is None  # ids are row numbers: a plain flat index needs no id map
        ids = np.arange(len(vectors), dtype=np.int64) if ids is None else np.asarray(ids)
        if len(ids) != len(vectors):
            raise ValueError(f"{len(vectors)} vectors but {len(ids)} ids")
        index: faiss.Index
        if spec.kind in ("ivf", "ivfpq") and len(vectors) >= TRAIN_PER_LIST * spec.nlist > 0:
            quantizer = faiss.IndexFlatIP(dim)
            ivf: faiss.IndexIVF
            if spec.kind == "ivf":
                ivf = faiss.IndexIVFFlat(quantizer, dim, spec.nlist, faiss.METRIC_INNER_PRODUCT)
            else:
                m = spec.pq_m or DEFAULT_PQ_M
                if dim % m:
                    raise ValueError(f"pq_m={m} must divide the dimension {dim}")
                ivf = faiss.IndexIVFPQ(quantizer, dim, spec.nlist, m, 8, faiss.METRIC_INNER_PRODUCT)
            sample = min(len(vectors), TRAIN_PER_LIST * spec.nlist)
            pick = np.sort(np.random.default_rng(seed).choice(len(vectors), sample, replace=False))
            ivf.train(np.ascontiguousarray(vectors[pick]))
            ivf.nprobe = spec.nprobe
            index = ivf
        elif positional:
            index = faiss.IndexFlatIP(dim)
        else:
            index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        out = cls(index)
        out.add(vectors, ids)
        return out

    # -- what it is -----------------------------------------------------------------------------
    @property
    def dim(self) -> int:
        """Width of the stored vectors (384 for all-MiniLM-L6-v2)."""
        return int(self.index.d)

    @property
    def ntotal(self) -> int:
        """How many vectors the index holds."""
        return int(self.index.ntotal)

    def __len__(self) -> int:
        return self.ntotal

    @property
    def spec(self) -> IndexSpec:
        """What this index actually is (a requested IVF may have fallen back to flat)."""
        if isinstance(self.index, faiss.IndexIVFPQ):
            return IndexSpec(
                "ivfpq", int(self.index.nlist), int(self.index.nprobe), int(self.index.pq.M)
            )
        if isinstance(self.index, faiss.IndexIVF):
            return IndexSpec("ivf", int(self.index.nlist), int(self.index.nprobe))
        return IndexSpec("flat")

    def set_nprobe(self, nprobe: int) -> None:
        """How many IVF lists a query visits (no effect on exact indexes)."""
        if isinstance(self.index, faiss.IndexIVF):
            self.index.nprobe = int(nprobe)

    # -- changing it ----------------------------------------------------------------------------
    def add(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        """Add vectors (n, dim) under int64 `ids` (n,); IVF indexes must already be trained.

        :raises ValueError: `vectors` is not (n, dim), or this is a positional flat index and
            `ids` do not continue its row numbers (ntotal, ntotal + 1, ...).
        """
        if not len(ids):
            return
        matrix, ids = _as_matrix(vectors, self.dim), np.asarray(ids, np.int64)
        if isinstance(self.index, (faiss.IndexIDMap, faiss.IndexIVF)):
            self.index.add_with_ids(matrix, ids)
            return
        self._rows = None
        # A plain flat index keys vectors by position: only appending in order is possible.
        if not np.array_equal(ids, np.arange(self.ntotal, self.ntotal + len(ids))):
            raise ValueError("a positional index only takes ids that continue its row numbers")
        self.index.add(matrix)

    def remove(self, ids: np.ndarray) -> int:
        """Drop every vector stored under one of `ids`; returns how many were removed."""
        if not len(ids) or self.ntotal == 0:
            return 0
        self._rows = None
        return int(self.index.remove_ids(faiss.IDSelectorBatch(np.asarray(ids, np.int64))))

    # -- reading it -----------------------------------------------------------------------------
    def search_arrays(self, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The top `k` per query: (cosines (n, k) float32, ids (n, k) int64, -1 where none).

        Best first. On a positional exact index (`_exact`) a tie keeps the smaller ids and lists
        them larger id first.
        """
        matrix = _as_matrix(vectors, self.dim)
        if self.ntotal == 0 or k < 1:
            n = len(matrix)
            return np.zeros((n, 0), np.float32), np.zeros((n, 0), np.int64)
        if type(self.index) is faiss.IndexFlatIP:
            return self._exact(matrix, min(k, self.ntotal))
        sims, ids = self.index.search(matrix, min(k, self.ntotal))
        return sims, ids

    def _exact(self, matrix: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Exact top-k of a positional `IndexFlatIP` as one matrix product and a partial sort.

        The blocklist's index (a few thousand rows) is searched for every screened listing.
        FAISS's wheel runs that product in its bundled OpenBLAS 0.3.15 with its own OpenMP
        runtime: 0.27-0.34 ms per query (3,622 rows, batches of 256, k 10-100, 1 or 2 threads)
        against 0.04 ms in NumPy's BLAS on the reference Xeon (measured, issue 12). The stored
        vectors are the index's own (`reconstruct_n`), so the cosines are FAISS's to float
        rounding.
        """
        if self._rows is None:  # emptied by `add` and `remove`
            self._rows = self.index.reconstruct_n(0, self.ntotal)
        sims = matrix @ self._rows.T
        # A few rows past k are kept through the partial sort, so that equal cosines at the
        # cut (duplicate texts) are settled as FAISS settles them.
        wide = min(k + TIE_MARGIN, sims.shape[1])
        if wide < sims.shape[1]:
            top = np.argpartition(-sims, wide - 1, axis=1)[:, :wide]
        else:
            top = np.broadcast_to(np.arange(wide), sims.shape)
        best = np.take_along_axis(sims, top, axis=1)
        # FAISS's heap keeps the smaller ids of a tie and then lists a tie larger id first.
        kept = np.lexsort((top, -best), axis=1)[:, :k]
        top, best = np.take_along_axis(top, kept, axis=1), np.take_along_axis(best, kept, axis=1)
        order = np.lexsort((-top, -best), axis=1)
        ids = np.take_along_axis(top, order, axis=1).astype(np.int64)
        return np.take_along_axis(best, order, axis=1), ids

    def search(self, vectors: np.ndarray, k: int) -> list[list[Hit]]:
        """Up to `k` hits per query vector (n, dim), best first."""
        return hits_of(*self.search_arrays(vectors, k))

    def reconstruct(self, ids: np.ndarray) -> np.ndarray:
        """Stored vectors (n, dim) of `ids` (exact indexes; IVF-PQ would give approximations)."""
        ids = np.asarray(ids, np.int64)
        if not len(ids):
            return np.zeros((0, self.dim), np.float32)
        if isinstance(self.index, faiss.IndexFlat) and np.array_equal(ids, np.arange(self.ntotal)):
            return self.index.reconstruct_n(0, self.ntotal)
        return np.vstack([self.index.reconstruct(int(i)) for i in ids])

    # -- persistence (FAISS's own format) -------------------------------------------------------
    def save(self, path: Path) -> None:
        """Write the index to the file `path` in FAISS's own format (`faiss.write_index`)."""
        faiss.write_index(self.index, str(path))

    @classmethod
    def load(cls, path: Path, mmap: bool = False) -> VectorIndex:
        """Read an index file; `mmap` maps IVF lists from disk instead of reading them in.

        :raises RuntimeError: FAISS cannot read the file (missing, truncated, not an index).
        """
        flags = faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY if mmap else 0
        return cls(faiss.read_index(str(path), flags))


def hits_of(sims: np.ndarray, ids: np.ndarray) -> list[list[Hit]]:
    """FAISS's (cosines, ids) arrays as `Hit` lists, dropping the -1 padding."""
    return [
        [Hit(int(i), float(s)) for i, s in zip(row_ids, row_sims, strict=True) if i >= 0]
        for row_ids, row_sims in zip(ids, sims, strict=True)
    ]


def merge_hits(parts: list[list[list[Hit]]], k: int) -> list[list[Hit]]:
    """Top-`k` per query over several indexes' answers (shards hold disjoint ids).

    Ties are broken by id so the merge does not depend on which shard answered first.
    """
    if not parts:
        return []
    merged = []
    for rows in zip(*parts, strict=True):
        every = [hit for row in rows for hit in row]
        every.sort(key=lambda h: (-h.similarity, h.id))
        merged.append(every[:k])
    return merged
