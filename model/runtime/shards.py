"""A sharded catalogue index on Ray: shards built in parallel, each owned by an actor.

Listing ``id`` goes to shard ``id % n``. `build_shards` builds every shard's `VectorIndex` in
parallel as one Ray Data job (one task per shard reads its slice of the catalogue, trains and
writes ``shard-<i>.faiss`` in FAISS's own format) and writes ``manifest.json``: the structure,
each file's size, SHA-256 and vector count, and the catalogue `seq` the snapshot is complete
up to. `ShardedIndex` starts one actor per shard (each loads and verifies its file once) and
answers `search` like any `VectorIndex`: the queries fan out to every shard at once and the
per-shard top-k lists are merged into one, so `model.runtime.sweep` uses it unchanged and its
hits go to the same sweep feed (`SweepLog`).

Shards are a snapshot: listings written after the manifest's `seq` are not in them until the
next build (the single-machine `Catalog` index replays every write; README "Scaling out").
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from model.matching.vector_index import Hit, IndexSpec, VectorIndex, hits_of, merge_hits

MANIFEST_FILE = "manifest.json"
FORMAT = 1

# A source gives (ids, vectors, seq) for shard i of n; it must pickle (it runs in Ray tasks).
Source = Callable[[int, int], tuple[np.ndarray, np.ndarray, int]]


class ShardError(ValueError):
    """A shard folder that cannot be used: missing manifest or file, or a file that changed."""


@dataclass(frozen=True)
class ShardInfo:
    """One shard file as built.

    Its name, vector count, size in bytes, SHA-256 (hex), the structure it actually got (`kind`,
    `nlist`: a shard too small to train falls back to flat), and its build time in seconds.
    """

    file: str
    vectors: int
    bytes: int
    sha256: str
    kind: str
    nlist: int
    build_s: float


@dataclass(frozen=True)
class ShardManifest:
    """What `build_shards` wrote: read it back with `load`.

    `seq` is the catalogue write the snapshot is complete up to; `nprobe` the IVF search depth
    the actors use. Each file's SHA-256 is checked by the `ShardActor` that loads it.
    """

    dim: int
    seq: int
    nprobe: int
    shards: tuple[ShardInfo, ...]
    format: int = FORMAT

    @property
    def vectors(self) -> int:
        """Vectors over all shards (the catalogue's live listings at `seq`)."""
        return sum(s.vectors for s in self.shards)

    def save(self, root: Path) -> None:
        """Write ``manifest.json`` into the folder `root` (which must exist)."""
        data = {**asdict(self), "shards": [asdict(s) for s in self.shards]}
        (Path(root) / MANIFEST_FILE).write_text(json.dumps(data, indent=2))

    @classmethod
    def load(cls, root: Path) -> ShardManifest:
        """Read ``manifest.json`` from the folder `root`.

        :raises ShardError: there is none, or it is of another `format` than this code's.
        :raises ValueError: it is not JSON.
        :raises TypeError: its fields are not `ShardManifest`'s and `ShardInfo`'s.
        """
        path = Path(root) / MANIFEST_FILE
        if not path.is_file():
            raise ShardError(f"{root} has no {MANIFEST_FILE}; build shards first")
        data = json.loads(path.read_text())
        if data.get("format") != FORMAT:
            raise ShardError(f"{path}: format {data.get('format')}, this code reads {FORMAT}")
        shards = tuple(ShardInfo(**s) for s in data.pop("shards"))
        return cls(shards=shards, **data)


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file, read 1 MiB at a time (shard files run to gigabytes)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def shard_spec(n: int, base: IndexSpec | None) -> IndexSpec:
    """The structure for a shard of `n` vectors: `base` if given, else `IndexSpec.for_size`.

    A `base` the shard is too small to train is still returned: `VectorIndex.build` falls back
    to exact search for it.
    """
    if base is None:
        return IndexSpec.for_size(n)
    return base


@dataclass(frozen=True)
class _BuildShard:
    """Ray Data task: build and write shard ``row["id"]``; returns its manifest row."""

    source: Source
    root: str
    n: int
    spec: IndexSpec | None

    def __call__(self, row: dict[str, Any]) -> dict[str, Any]:
        from threadpoolctl import threadpool_limits

        i = int(row["id"])
        started = time.perf_counter()
        ids, vectors, seq = self.source(i, self.n)
        with threadpool_limits(limits=1, user_api="openmp"):  # one core per task
            index = VectorIndex.build(shard_spec(len(ids), self.spec), vectors, ids)
        path = Path(self.root) / f"shard-{i:04d}.faiss"
        index.save(path)
        built = index.spec
        info = ShardInfo(
            path.name,
            index.ntotal,
            path.stat().st_size,
            sha256_of(path),
            built.kind,
            built.nlist,
            round(time.perf_counter() - started, 2),
        )
        return {"id": i, "seq": seq, "info": json.dumps(asdict(info))}


def build_shards(
    source: Source,
    root: Path,
    n_shards: int,
    spec: IndexSpec | None = None,
    num_cpus: float = 1.0,
) -> ShardManifest:
    """Build `n_shards` shard files from `source` in parallel (Ray Data, `num_cpus` per task).

    Needs a running Ray (`ray.init()`); every node must see `root` (local disk on one machine,
    shared storage on a cluster). Writes the shard files and ``manifest.json`` and returns it.

    :raises ValueError: `n_shards` is below 1.
    :raises ShardError: the catalogue changed between the shards' reads (their `seq` differs);
        build again.
    """
    import ray.data

    if n_shards < 1:
        raise ValueError(f"n_shards must be at least 1, got {n_shards}")
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    rows = (
        ray.data.range(n_shards, override_num_blocks=n_shards)
        .map(_BuildShard(source, str(root), n_shards, spec), num_cpus=num_cpus)
        .take_all()
    )
    rows.sort(key=lambda r: r["id"])
    seqs = {int(r["seq"]) for r in rows}
    if len(seqs) != 1:
        raise ShardError(f"the catalogue changed while shards were built (seq {sorted(seqs)})")
    shards = tuple(ShardInfo(**json.loads(r["info"])) for r in rows)
    dim = VectorIndex.load(root / shards[0].file).dim
    nprobe = spec.nprobe if spec else IndexSpec.for_size(0).nprobe
    manifest = ShardManifest(dim=dim, seq=seqs.pop(), nprobe=nprobe, shards=shards)
    manifest.save(root)
    return manifest


@dataclass(frozen=True)
class CatalogSource:
    """Shard slices straight from a `Catalog` folder's database."""

    root: str
    dim: int

    def __call__(self, shard: int, shards: int) -> tuple[np.ndarray, np.ndarray, int]:
        """(ids, vectors (n, dim), seq) of the live listings with ``id % shards == shard``."""
        from model.runtime.catalog import live_vectors

        return live_vectors(Path(self.root), self.dim, shard, shards)


@dataclass(frozen=True)
class ArraySource:
    """Shard slices of a ``.npy`` matrix (n, dim) on disk; ids are row numbers (benchmarks)."""

    path: str

    def __call__(self, shard: int, shards: int) -> tuple[np.ndarray, np.ndarray, int]:
        """(row numbers ``i % shards == shard``, those rows as float32, seq 0)."""
        matrix = np.load(self.path, mmap_mode="r")
        ids = np.arange(shard, len(matrix), shards, dtype=np.int64)
        return ids, np.ascontiguousarray(matrix[ids], np.float32), 0


class ShardActor:
    """Owns one shard: loads and verifies its file once, then answers searches.

    FAISS runs `threads` OpenMP threads in this actor's process.

    :raises ShardError: the file's SHA-256 is not the manifest's `sha256`.
    """

    def __init__(self, path: str, sha256: str, nprobe: int, threads: int = 1) -> None:
        import faiss

        if sha256_of(Path(path)) != sha256:
            raise ShardError(f"{path} does not match its manifest (SHA-256 differs)")
        faiss.omp_set_num_threads(max(1, threads))
        self.index = VectorIndex.load(Path(path))
        self.index.set_nprobe(nprobe)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """FAISS's raw answer for this shard: cosines (n, k) and ids (n, k), -1 where none.

        Raw arrays rather than `Hit` lists: they cross the Ray object store cheaply.
        """
        return self.index.search_arrays(queries, k)

    def ntotal(self) -> int:
        """Vectors in this shard (also the readiness call `ShardedIndex` waits on)."""
        return self.index.ntotal


class ShardedIndex:
    """The shards of one manifest, one Ray actor each, searched as one index.

    Needs a running Ray. Blocks until every actor has loaded and verified its shard. `nprobe`
    overrides the manifest's; each actor reserves `num_cpus` and runs that many FAISS threads.

    :raises ShardError: no usable manifest, or a shard file is missing.
    :raises ray.exceptions.RayActorError: an actor failed to start (its cause names the shard,
        e.g. a `ShardError` for a file whose SHA-256 changed).
    """

    def __init__(self, root: Path, num_cpus: float = 1.0, nprobe: int | None = None) -> None:
        import ray

        self.root = Path(root)
        self.manifest = ShardManifest.load(self.root)
        for s in self.manifest.shards:
            if not (self.root / s.file).is_file():
                raise ShardError(f"{self.root / s.file} is missing")
        remote = ray.remote(num_cpus=num_cpus)(ShardActor)
        self.actors: list[Any] = [
            remote.remote(
                str(self.root / s.file),
                s.sha256,
                nprobe or self.manifest.nprobe,
                max(1, int(num_cpus)),
            )
            for s in self.manifest.shards
        ]
        ray.get([a.ntotal.remote() for a in self.actors])  # wait until every shard is loaded

    @property
    def dim(self) -> int:
        """Width of the stored vectors."""
        return self.manifest.dim

    @property
    def ntotal(self) -> int:
        """Vectors over all shards, as the manifest records them."""
        return self.manifest.vectors

    def search(self, vectors: np.ndarray, k: int) -> list[list[Hit]]:
        """Top-k hits per query (n, dim) over every shard: fan out, then merge."""
        import ray

        queries = np.ascontiguousarray(vectors, np.float32)
        ref = ray.put(queries)
        answers = ray.get([a.search.remote(ref, k) for a in self.actors])
        return merge_hits([hits_of(sims, ids) for sims, ids in answers], k)

    def close(self) -> None:
        """Kill the actors (freeing their memory and CPUs); the index cannot search after."""
        import ray

        for actor in self.actors:
            ray.kill(actor)
        self.actors = []
