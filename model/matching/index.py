"""The blocklist index: FAISS inner-product search over normalised entry texts.

Plus an exact identifier lookup (model numbers and GTINs, canonicalised), so a listing that only
names a model number is still found. On disk it is a folder of `index.faiss` (the vectors),
`entries.jsonl` (one entry per line) and `rows.json` (the entry position of each vector row).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Collection, Sequence
from pathlib import Path

import numpy as np

from model.matching.encoder import Encoder
from model.matching.identifiers import canonical_id
from model.matching.normalise import normalise
from model.matching.vector_index import Hit, IndexSpec, VectorIndex
from model.schema import BlocklistEntry

INDEX_FILE = "index.faiss"
ENTRIES_FILE = "entries.jsonl"
ROWS_FILE = "rows.json"


def entry_identifiers(entry: BlocklistEntry) -> frozenset[str]:
    """Canonical identifiers of an entry: the structured ones, already extracted by the loaders."""
    ids = {canonical_id(m) for m in entry.model_numbers} | {canonical_id(g) for g in entry.gtins}
    return frozenset(i for i in ids if len(i) >= 3)


def entry_texts(entry: BlocklistEntry) -> list[str]:
    """The normalised texts embedded for an entry (several phrasings, one row each)."""
    seen: dict[str, None] = {}
    for text in entry.texts():
        seen.setdefault(normalise(text), None)
    return [t for t in seen if t]


class BlocklistIndex:
    """Entries, their embedded text rows, and an identifier → entries map."""

    def __init__(
        self, entries: Sequence[BlocklistEntry], rows: Sequence[int], index: VectorIndex
    ) -> None:
        if index.ntotal != len(rows):
            raise ValueError(f"index has {index.ntotal} vectors but {len(rows)} row labels")
        if rows and max(rows) >= len(entries):
            raise ValueError("row labels point past the end of the entry list")
        self.entries = list(entries)
        self.rows = np.asarray(rows, dtype=np.int64)
        self.index = index
        self.by_identifier: dict[str, list[int]] = defaultdict(list)
        for i, entry in enumerate(self.entries):
            for ident in entry_identifiers(entry):
                self.by_identifier[ident].append(i)
        self.by_identifier = dict(self.by_identifier)
        self.identifiers = [entry_identifiers(e) for e in self.entries]

    @property
    def dim(self) -> int:
        """Width of the stored vectors; query vectors must have the same."""
        return self.index.dim

    def __len__(self) -> int:
        return len(self.entries)

    @classmethod
    def from_entries(cls, entries: Sequence[BlocklistEntry], encoder: Encoder) -> BlocklistIndex:
        """Embed every entry's texts (`entry_texts`: up to three rows each) into an exact index.

        Exact (flat) search: a blocklist is thousands of rows, where a scan is cheap (one query,
        one thread, 384-d: 0.4 ms at 5,000 rows, 1.5 ms at 20,000) and an approximate index
        would only lose recall.

        :raises ValueError: two entries share an `entry_id`.
        """
        ids = [e.entry_id for e in entries]
        if len(set(ids)) != len(ids):
            raise ValueError("entry_id values must be unique")
        texts: list[str] = []
        rows: list[int] = []
        for i, entry in enumerate(entries):
            for text in entry_texts(entry):
                texts.append(text)
                rows.append(i)
        vectors = encoder.encode(texts) if texts else np.zeros((0, encoder.dim), np.float32)
        return cls(entries, rows, VectorIndex.build(IndexSpec("flat"), vectors))

    def with_changes(
        self,
        upserts: Sequence[BlocklistEntry],
        removals: Collection[str],
        encoder: Encoder,
    ) -> BlocklistIndex:
        """A new index with `upserts` added or replaced and `removals` dropped.

        Copy-on-write: this index is never touched, so screens running on it finish unharmed
        while the caller swaps in the new one. Only the changed entries are embedded; the rows
        of every other entry are copied as they are (a blocklist is thousands of rows, so the
        copy costs milliseconds). Unknown ids in `removals` are ignored.

        :raises ValueError: two upserts share an `entry_id`, or `encoder` gives vectors of a
            different width than this index holds.
        """
        ids = [e.entry_id for e in upserts]
        if len(set(ids)) != len(ids):
            raise ValueError("entry_id values in one change must be unique")
        drop = set(removals) | set(ids)
        keep = [i for i, e in enumerate(self.entries) if e.entry_id not in drop]
        position = np.full(len(self.entries), -1, dtype=np.int64)
        position[keep] = np.arange(len(keep))
        kept_rows = position[self.rows]
        mask = kept_rows >= 0
        old = self.index.reconstruct(np.arange(self.index.ntotal))
        texts: list[str] = []
        rows: list[int] = [int(r) for r in kept_rows[mask]]
        for j, entry in enumerate(upserts):
            for text in entry_texts(entry):
                texts.append(text)
                rows.append(len(keep) + j)
        new = encoder.encode(texts) if texts else np.zeros((0, self.dim), np.float32)
        if new.shape[1] != self.dim:
            raise ValueError(f"encoder gives {new.shape[1]}-d vectors; the index holds {self.dim}")
        vectors = np.vstack([old[mask], new]).astype(np.float32, copy=False)
        index = VectorIndex.build(IndexSpec("flat"), vectors)
        entries = [self.entries[i] for i in keep] + list(upserts)
        return BlocklistIndex(entries, rows, index)

    def position(self, entry_id: str) -> int | None:
        """Where an entry sits in this index (positions change between versions)."""
        for i, entry in enumerate(self.entries):
            if entry.entry_id == entry_id:
                return i
        return None

    def search(self, vectors: np.ndarray, k: int) -> list[list[Hit]]:
        """Top-k distinct entries per query vector, best first.

        `vectors` is (n, dim) float32, unit rows; the answer has n lists of at most `k` hits.
        `Hit.id` is the entry's position in `entries`, `Hit.similarity` the cosine of the entry's
        best text row. FAISS is asked for 4k rows, since one entry owns up to three rows.

        :raises ValueError: `vectors` is not (n, dim).
        """
        # Ask for more rows than entries wanted: one entry owns up to three rows.
        sims, idx = self.index.search_arrays(vectors, k * 4)
        out: list[list[Hit]] = []
        for row_sims, row_idx in zip(sims, idx, strict=True):
            best: dict[int, float] = {}
            for sim, r in zip(row_sims, row_idx, strict=True):
                if r < 0:
                    continue
                e = int(self.rows[r])
                if e not in best:
                    best[e] = float(sim)
                    if len(best) == k:
                        break
            out.append([Hit(e, s) for e, s in best.items()])
        return out

    def lookup_identifiers(self, identifiers: frozenset[str]) -> set[int]:
        """Positions of entries naming any of `identifiers` (already `canonical_id` form).

        Exact matches only; identifiers shorter than 3 characters were never indexed.
        """
        found: set[int] = set()
        for ident in identifiers:
            found.update(self.by_identifier.get(ident, ()))
        return found

    def vectors_of(self, entry: int) -> np.ndarray:
        """The stored embeddings of one entry's texts (one row per text)."""
        return self.index.reconstruct(np.flatnonzero(self.rows == entry))

    def similarity(self, vector: np.ndarray, entry: int) -> float:
        """Cosine between a query and an entry's best row (for entries found by identifier only)."""
        return float(np.max(self.vectors_of(entry) @ vector))

    def save(self, path: Path) -> None:
        """Write the folder `path` (created if missing): index.faiss, entries.jsonl, rows.json."""
        path.mkdir(parents=True, exist_ok=True)
        self.index.save(path / INDEX_FILE)
        with open(path / ENTRIES_FILE, "w", encoding="utf-8") as fh:
            for entry in self.entries:
                fh.write(json.dumps(entry.to_dict(), ensure_ascii=False) + "\n")
        (path / ROWS_FILE).write_text(json.dumps(self.rows.tolist()))

    @classmethod
    def load(cls, path: Path) -> BlocklistIndex:
        """Read a folder written by `save`.

        :raises OSError: a file is missing or unreadable.
        :raises ValueError: an entry line or rows.json is not valid JSON, an entry fails
            `BlocklistEntry.from_dict` (ValidationError), or the row labels do not fit the
            vectors and entries.
        :raises RuntimeError: FAISS cannot read index.faiss (truncated or not an index).
        """
        entries = [
            BlocklistEntry.from_dict(json.loads(line))
            for line in (path / ENTRIES_FILE).read_text(encoding="utf-8").splitlines()
            if line.strip()
        ]
        rows = json.loads((path / ROWS_FILE).read_text())
        return cls(entries, rows, VectorIndex.load(path / INDEX_FILE))
