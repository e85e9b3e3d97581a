"""Approximate nearest-neighbour structures for the catalogue, and writing them safely.

Why IVF (``IndexIVFFlat``, inner product on unit vectors = cosine): a marketplace catalogue
churns (listings are edited and delisted every day) and IVF supports ``add_with_ids`` and
``remove_ids`` in place, which HNSW does not; it trains in about a minute for a million vectors
on two cores; and ``nprobe`` trades recall for time. ``benchmarks/sweep.py`` measures recall
against exact search at one million vectors and picked `DEFAULT_NPROBE`. Below `IVF_MIN`
vectors exact search is fast enough and needs no training, so it is used instead.
"""

from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

IVF_MIN = 20_000
DEFAULT_NPROBE = 96  # 1M listings, 4096 lists: recall@100 ~0.96 in ~5 ms per entry
TRAIN_PER_LIST = 40  # k-means sample per list; FAISS warns below 39


@dataclass(frozen=True)
class IndexSpec:
    """Which structure to build: exact (`flat`) or IVF with `nlist` lists searched `nprobe` deep."""

    kind: str
    nlist: int = 0
    nprobe: int = DEFAULT_NPROBE

    @classmethod
    def for_size(cls, n: int, nprobe: int = DEFAULT_NPROBE) -> IndexSpec:
        nlist = 2 ** round(math.log2(4 * math.sqrt(max(n, 1))))  # ~4 sqrt(n): 1M -> 4096 lists
        if n < IVF_MIN or n < TRAIN_PER_LIST * nlist:
            return cls("flat", 0, nprobe)
        return cls("ivf", nlist, nprobe)


def build_index(spec: IndexSpec, dim: int, vectors: np.ndarray, ids: np.ndarray) -> faiss.Index:
    """A trained index holding `vectors` under `ids` (falls back to flat with too few to train)."""
    if spec.kind == "ivf" and len(vectors) >= TRAIN_PER_LIST * spec.nlist:
        quantizer = faiss.IndexFlatIP(dim)
        ivf = faiss.IndexIVFFlat(quantizer, dim, spec.nlist, faiss.METRIC_INNER_PRODUCT)
        sample = min(len(vectors), TRAIN_PER_LIST * spec.nlist)
        pick = np.sort(np.random.default_rng(0).choice(len(vectors), sample, replace=False))
        ivf.train(np.ascontiguousarray(vectors[pick], np.float32))
        ivf.nprobe = spec.nprobe
        index: faiss.Index = ivf
    else:
        index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
    if len(vectors):
        index.add_with_ids(np.ascontiguousarray(vectors, np.float32), ids.astype(np.int64))
    return index


def spec_of(index: faiss.Index, nprobe: int = DEFAULT_NPROBE) -> IndexSpec:
    """What an index actually is (a requested IVF may have fallen back to flat)."""
    if isinstance(index, faiss.IndexIVF):
        return IndexSpec("ivf", int(index.nlist), int(index.nprobe))
    return IndexSpec("flat", 0, nprobe)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_text(path: Path, text: str) -> None:
    """Write new, fsync, rename, fsync the folder: readers see the old file or the new one."""
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_index_atomic(index: faiss.Index, path: Path) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".index-", dir=path.parent)
    os.close(fd)
    try:
        faiss.write_index(index, tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        fsync_dir(path.parent)
    finally:
        Path(tmp).unlink(missing_ok=True)
