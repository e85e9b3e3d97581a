"""A bounded, thread-safe LRU cache of embeddings keyed by the (already normalised) text.

Marketplaces re-submit listings unchanged all day (price edits, stock updates, re-lists), and
the encoder is nearly all the cost of screening one, so a hit saves almost the whole request.
Keys are a 16-byte BLAKE2b digest of the text rather than the text itself, so memory is bounded
by `max_entries` alone (about 1.6 KB per 384-d entry) however long the titles are.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

DEFAULT_CACHE_ENTRIES = 20_000


def cache_key(text: str) -> bytes:
    """The cache key of one encoder input (a normalised listing text)."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


@dataclass(frozen=True)
class CacheStats:
    """Counters for monitoring: a low hit rate means the cache is not worth its memory."""

    entries: int
    max_entries: int
    hits: int
    misses: int

    @property
    def hit_rate(self) -> float:
        """Share of looked-up texts found, hits / (hits + misses), in [0, 1]; 0.0 before any."""
        total = self.hits + self.misses
        return self.hits / total if total else 0.0


class EmbeddingCache:
    """LRU map text → embedding row, at most `max_entries` rows, safe to share across threads."""

    def __init__(self, max_entries: int = DEFAULT_CACHE_ENTRIES) -> None:
        if max_entries < 0:
            raise ValueError(f"max_entries must be >= 0, got {max_entries}")
        self.max_entries = max_entries
        self._rows: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self._hits = 0
        self._misses = 0

    def __len__(self) -> int:
        return len(self._rows)

    def lookup(self, texts: Sequence[str]) -> tuple[list[np.ndarray | None], list[int]]:
        """(row or None per text, positions of the misses). Hits become most recently used."""
        keys = [cache_key(t) for t in texts]
        found: list[np.ndarray | None] = []
        misses: list[int] = []
        with self._lock:
            for i, key in enumerate(keys):
                row = self._rows.get(key)
                if row is None:
                    misses.append(i)
                else:
                    self._rows.move_to_end(key)
                found.append(row)
            self._hits += len(keys) - len(misses)
            self._misses += len(misses)
        return found, misses

    def store(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Remember one row per text, evicting the least recently used beyond the bound."""
        if self.max_entries == 0:
            return
        if len(texts) != len(vectors):
            raise ValueError(f"{len(texts)} texts but {len(vectors)} vectors")
        # Copies, read-only: a caller mutating its result must not corrupt later answers.
        rows = [np.array(v, dtype=np.float32, copy=True) for v in vectors]
        for row in rows:
            row.setflags(write=False)
        keys = [cache_key(t) for t in texts]
        with self._lock:
            for key, row in zip(keys, rows, strict=True):
                self._rows[key] = row
                self._rows.move_to_end(key)
            while len(self._rows) > self.max_entries:
                self._rows.popitem(last=False)

    def clear(self) -> None:
        """Drop every row (the encoder's weights changed); the hit and miss counters are kept."""
        with self._lock:
            self._rows.clear()

    def stats(self) -> CacheStats:
        """A consistent snapshot of size and counters, taken under the lock."""
        with self._lock:
            return CacheStats(len(self._rows), self.max_entries, self._hits, self._misses)
