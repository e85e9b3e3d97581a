"""The platform's live catalogue: listing embeddings in a FAISS index sized for millions.

SQLite (``catalog.sqlite3``) is the truth: one row per listing with its JSON, its embedding
(float32 bytes), whether it is still live, and ``seq``, the number of the write that last
touched it; identifiers found in listings sit in a side table for exact lookup. The FAISS index
(`model.runtime.ann`) is a cache of those rows, checkpointed to ``index-<seq>.faiss`` and named
by the pointer file ``index.json`` (both replaced atomically). On open, and before every search,
rows written after the index's ``seq`` (by this or any other process) are replayed into it, so a
crash loses no listing and writers never wait for a checkpoint.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model.matching.identifiers import canonical_id
from model.matching.normalise import fold
from model.matching.vector_index import Hit, IndexSpec, VectorIndex
from model.matching.views import ListingView
from model.runtime.ann import atomic_write_text, write_index_atomic
from model.runtime.private_files import create_private
from model.runtime.sqlite_wal import use_wal
from model.schema import Listing

DB_FILE = "catalog.sqlite3"
POINTER_FILE = "index.json"
_WORD = re.compile(r"[A-Za-z0-9]+")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS listings (
    id INTEGER PRIMARY KEY, listing_id TEXT NOT NULL UNIQUE, listing_json TEXT NOT NULL,
    vector BLOB NOT NULL, active INTEGER NOT NULL, seq INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS listings_seq ON listings (seq);
CREATE TABLE IF NOT EXISTS listing_ids (
    identifier TEXT NOT NULL, id INTEGER NOT NULL, PRIMARY KEY (identifier, id)) WITHOUT ROWID;
"""


class CatalogError(ValueError):
    """The catalogue cannot be used as asked (wrong encoder, missing listing id, ...)."""


@dataclass(frozen=True)
class AddResult:
    """Counts of one `Catalog.add`: new listing ids, changed ones, and ones already identical."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0


def encoder_fingerprint(bundle_path: Path) -> str:
    """Identity of a bundle's encoder: 16 hex digits of a SHA-256 over its files' hashes.

    Catalogue vectors are only comparable with queries from the very same encoder. Read from the
    bundle's manifest.json (the `encoder/` entries), so nothing is re-hashed.

    :raises OSError: the bundle has no readable manifest.json.
    :raises ValueError: manifest.json is not JSON.
    :raises KeyError: it has no `files` map.
    """
    manifest = json.loads((Path(bundle_path) / "manifest.json").read_text())
    files = {k: v for k, v in manifest["files"].items() if k.startswith("encoder/")}
    return hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()[:16]


def listing_identifiers(listing: Listing) -> frozenset[str]:
    """Canonical identifiers to look a listing up by.

    Those the screener extracts or the platform gave, plus every run of 1-3 adjacent words with
    a digit joined ("aj0192 y3" -> AJ0192Y3), 4 to 30 characters long, since sellers split codes
    and the entry being swept is not known when the listing is indexed. Reads the brand and title
    and at most 2,000 characters of description (5,000 folded characters in all), bounding work.
    """
    found = set(ListingView.of(listing).identifiers)
    words = _WORD.findall(fold(f"{listing.text()} {listing.description[:2000]}")[:5000])
    for n in (1, 2, 3):
        for i in range(len(words) - n + 1):
            canon = canonical_id("".join(words[i : i + n]))
            if 4 <= len(canon) <= 30 and any(c.isdigit() for c in canon):
                found.add(canon)
    return frozenset(found)


class Catalog:
    """Listings by platform `listing_id`; internal integer ids key the FAISS index.

    Opening creates the folder and database if missing and replays rows written since the last
    checkpoint. Safe to share between threads and processes (SQLite WAL plus a file lock for
    checkpoints).

    :raises CatalogError: the folder was embedded by another encoder (`encoder_id`) or width.
    """

    def __init__(self, root: Path, dim: int, encoder_id: str) -> None:
        self.root = Path(root)
        self.dim = dim
        self.encoder_id = encoder_id
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        with self._db() as db:
            db.executescript(_SCHEMA)
            for key, value in (("dim", str(dim)), ("encoder_id", encoder_id)):
                db.execute("INSERT OR IGNORE INTO meta VALUES (?, ?)", (key, value))
            meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        if meta["dim"] != str(dim) or meta["encoder_id"] != encoder_id:
            raise CatalogError(
                f"the catalogue in {self.root} was embedded by encoder {meta['encoder_id']} "
                f"({meta['dim']}-d); this bundle's is {encoder_id} ({dim}-d): move that folder "
                "aside and re-index the catalogue (`recallguard catalog index FILE`)"
            )
        self._pointer_stamp: int | None = None
        self._seq = 0
        self.checkpoint_seq = 0
        self.index = VectorIndex.empty(dim)
        self.spec = IndexSpec("flat")
        self._load_checkpoint()
        self.refresh()

    # -- storage ------------------------------------------------------------------------------
    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(create_private(self.root / DB_FILE), timeout=30, isolation_level=None)
        try:
            use_wal(db)
            db.execute("PRAGMA synchronous=FULL")
            yield db
        finally:
            db.close()

    @contextmanager
    def _file_lock(self) -> Iterator[None]:
        with open(self.root / "lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def db_seq(self) -> int:
        """Number of the last committed write (0 for a new catalogue), by any process."""
        with self._db() as db:
            return self._read_seq(db)

    def __len__(self) -> int:
        with self._db() as db:
            return int(db.execute("SELECT count(*) FROM listings WHERE active = 1").fetchone()[0])

    # -- writing ------------------------------------------------------------------------------
    def unchanged(self, listings: Sequence[Listing]) -> list[bool]:
        """Which listings are already live exactly as given (no need to embed them again)."""
        out = []
        with self._db() as db:
            for listing in listings:
                row = db.execute(
                    "SELECT listing_json, active FROM listings WHERE listing_id = ?",
                    (listing.listing_id,),
                ).fetchone()
                same = row is not None and row[1] == 1 and row[0] == _dumps(listing)
                out.append(same)
        return out

    def add(self, listings: Sequence[Listing], vectors: np.ndarray) -> AddResult:
        """Insert or replace listings (by listing_id) with their embeddings, in one transaction.

        `vectors` is (n, dim) float32, row i for listings[i]. Listings already live with the
        same JSON are counted unchanged and not rewritten.

        :raises ValueError: listings and vectors differ in number.
        :raises CatalogError: wrong vector width, a missing listing_id, or one id twice.
        """
        if len(listings) != len(vectors):
            raise ValueError(f"{len(listings)} listings but {len(vectors)} vectors")
        if len(vectors) and vectors.shape[1] != self.dim:
            raise CatalogError(f"vectors are {vectors.shape[1]}-d; the catalogue holds {self.dim}")
        ids = [x.listing_id for x in listings]
        if any(not i for i in ids):
            raise CatalogError("every catalogue listing needs a listing_id")
        if len(set(ids)) != len(ids):
            raise CatalogError("the same listing_id appears twice in one batch")
        added = updated = same = 0
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            seq = self._next_seq(db)
            for listing, vector in zip(listings, vectors, strict=True):
                text = _dumps(listing)
                row = db.execute(
                    "SELECT id, listing_json, active FROM listings WHERE listing_id = ?",
                    (listing.listing_id,),
                ).fetchone()
                if row is not None and row[1] == text and row[2] == 1:
                    same += 1
                    continue
                blob = np.asarray(vector, np.float32).tobytes()
                if row is None:
                    cur = db.execute(
                        "INSERT INTO listings (listing_id, listing_json, vector, active, seq) "
                        "VALUES (?, ?, ?, 1, ?)",
                        (listing.listing_id, text, blob, seq),
                    )
                    rowid = int(cur.lastrowid or 0)
                    added += 1
                else:
                    rowid = int(row[0])
                    db.execute(
                        "UPDATE listings SET listing_json = ?, vector = ?, active = 1, seq = ? "
                        "WHERE id = ?",
                        (text, blob, seq, rowid),
                    )
                    db.execute("DELETE FROM listing_ids WHERE id = ?", (rowid,))
                    updated += 1
                db.executemany(
                    "INSERT OR IGNORE INTO listing_ids VALUES (?, ?)",
                    [(ident, rowid) for ident in listing_identifiers(listing)],
                )
            db.execute("COMMIT")
        self.refresh()
        return AddResult(added, updated, same)

    def remove(self, listing_ids: Sequence[str]) -> int:
        """Mark listings delisted; they stop being swept at once. Returns how many were live."""
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            seq = self._next_seq(db)
            n = 0
            for listing_id in listing_ids:
                n += db.execute(
                    "UPDATE listings SET active = 0, seq = ? WHERE listing_id = ? AND active = 1",
                    (seq, listing_id),
                ).rowcount
            db.execute("COMMIT")
        self.refresh()
        return n

    @staticmethod
    def _read_seq(db: sqlite3.Connection) -> int:
        row = db.execute("SELECT value FROM meta WHERE key = 'seq'").fetchone()
        return int(row[0]) if row else 0

    @classmethod
    def _next_seq(cls, db: sqlite3.Connection) -> int:
        seq = cls._read_seq(db) + 1
        db.execute("INSERT OR REPLACE INTO meta VALUES ('seq', ?)", (str(seq),))
        return seq

    # -- the FAISS index ----------------------------------------------------------------------
    def _load_checkpoint(self) -> None:
        pointer = self.root / POINTER_FILE
        if not pointer.exists():
            return
        info = json.loads(pointer.read_text())
        index = VectorIndex.load(self.root / info["file"])
        index.set_nprobe(int(info["nprobe"]))
        with self._lock:
            self.index = index
            self.spec = IndexSpec(info["kind"], int(info.get("nlist", 0)), int(info["nprobe"]))
            self._seq = self.checkpoint_seq = int(info["seq"])
            self._pointer_stamp = pointer.stat().st_mtime_ns

    def refresh(self) -> None:
        """Catch the in-memory index up with rows written since (by any process)."""
        pointer = self.root / POINTER_FILE
        stamp = pointer.stat().st_mtime_ns if pointer.exists() else None
        with self._lock:
            if stamp != self._pointer_stamp:
                self._load_checkpoint()  # another process re-built or checkpointed
            with self._db() as db:
                db.execute("BEGIN")
                top = self._read_seq(db)
                if top <= self._seq:
                    db.execute("COMMIT")
                    return
                where = "seq > ? AND seq <= ?"
                if self.index.ntotal:
                    stale = db.execute(f"SELECT id FROM listings WHERE {where}", (self._seq, top))
                    self.index.remove(np.asarray([r[0] for r in stale], np.int64))
                for ids, vectors in _batches(db, f"active = 1 AND {where}", (self._seq, top),
                                             self.dim):  # fmt: skip
                    self.index.add(vectors, ids)
                db.execute("COMMIT")
            self._seq = top

    def search(self, vectors: np.ndarray, k: int) -> list[list[Hit]]:
        """Top-k hits per query vector (n, dim): `Hit.id` is the internal listing id."""
        with self._lock:
            return self.index.search(vectors, k)

    def rows_since_checkpoint(self) -> int:
        """Rows a restart would replay; callers checkpoint when this grows large."""
        with self._db() as db:
            query = "SELECT count(*) FROM listings WHERE seq > ?"
            return int(db.execute(query, (self.checkpoint_seq,)).fetchone()[0])

    def checkpoint(self, spec: IndexSpec | None = None) -> IndexSpec:
        """Persist the index, re-building it first if needed; returns the spec now in force.

        A re-build happens when `spec` asks for another structure, or when the catalogue outgrew
        it (exact -> IVF at `IVF_MIN`, twice the lists at 4x the size, as `lists_for` grows
        with sqrt(n)).

        A re-build (minutes at a million listings) runs without the in-memory lock: searches
        and writes go on against the old index, and rows written meanwhile are replayed into
        the new one when it is swapped in.
        """
        with self._file_lock():
            for stale in self.root.glob(".index-*"):  # left by a checkpoint that was killed
                stale.unlink(missing_ok=True)
            self.refresh()
            current = self.spec
            wanted = spec or IndexSpec.for_size(self.index.ntotal, current.nprobe)
            outgrown = wanted.kind == "ivf" and (
                current.kind == "flat" or wanted.nlist >= 2 * current.nlist
            )
            if (spec is not None and spec != current) or outgrown:
                index, seq = self._build(wanted)
                with self._lock:
                    self.index, self._seq = index, seq
                    self.spec = _spec(index, wanted.nprobe)
                    self.refresh()
            with self._lock:
                if self.index.spec.kind != "flat":
                    self.index.set_nprobe(wanted.nprobe)
                    self.spec = self.index.spec
                name = f"index-{self._seq}.faiss"
                write_index_atomic(self.index.index, self.root / name)
                info = {"file": name, "seq": self._seq, "kind": self.spec.kind,
                        "nlist": self.spec.nlist, "nprobe": self.spec.nprobe}  # fmt: skip
                atomic_write_text(self.root / POINTER_FILE, json.dumps(info))
                self._pointer_stamp = (self.root / POINTER_FILE).stat().st_mtime_ns
                self.checkpoint_seq = self._seq
            for old in self.root.glob("index-*.faiss"):
                if old.name != name:
                    old.unlink(missing_ok=True)
            return self.spec

    def _build(self, spec: IndexSpec) -> tuple[VectorIndex, int]:
        """A new index over every live row, and the write `seq` it is complete up to."""
        with self._db() as db:
            db.execute("BEGIN")  # one consistent snapshot of rows and seq
            seq = self._read_seq(db)
            n = int(db.execute("SELECT count(*) FROM listings WHERE active = 1").fetchone()[0])
            ids = np.empty(n, np.int64)
            vectors = np.empty((n, self.dim), np.float32)
            at = 0
            for chunk_ids, chunk in _batches(db, "active = 1", (), self.dim):
                ids[at : at + len(chunk_ids)], vectors[at : at + len(chunk_ids)] = chunk_ids, chunk
                at += len(chunk_ids)
            db.execute("COMMIT")
        return VectorIndex.build(spec, vectors[:at], ids[:at]), seq

    # -- lookups ------------------------------------------------------------------------------
    def lookup(self, identifiers: frozenset[str]) -> set[int]:
        """Live listings carrying any of these canonical identifiers."""
        if not identifiers:
            return set()
        with self._db() as db:
            rows = db.execute(
                "SELECT DISTINCT l.id FROM listing_ids i JOIN listings l ON l.id = i.id "
                f"WHERE l.active = 1 AND i.identifier IN ({','.join('?' * len(identifiers))})",
                sorted(identifiers),
            ).fetchall()
        return {int(r[0]) for r in rows}

    def fetch(self, ids: Sequence[int]) -> tuple[list[int], list[Listing], np.ndarray]:
        """(ids still live, their listings, their stored embeddings), in the order of `ids`."""
        if not ids:
            return [], [], np.zeros((0, self.dim), np.float32)
        with self._db() as db:
            rows = db.execute(
                "SELECT id, listing_json, vector FROM listings "
                f"WHERE active = 1 AND id IN ({','.join('?' * len(ids))})",
                list(ids),
            ).fetchall()
        by_id = {int(r[0]): r for r in rows}
        found = [by_id[i] for i in ids if i in by_id]
        listings = [Listing.from_dict(json.loads(r[1])) for r in found]
        return [int(r[0]) for r in found], listings, _stack([r[2] for r in found], self.dim)


def live_vectors(
    root: Path, dim: int, shard: int = 0, shards: int = 1
) -> tuple[np.ndarray, np.ndarray, int]:
    """(ids (n,), vectors (n, dim), seq) of the live listings with ``id % shards == shard``.

    One shard's slice of a consistent snapshot, read straight from the catalogue database (no
    FAISS index is loaded), for building sharded indexes in parallel.

    :raises ValueError: `shard` is not in [0, shards).
    """
    if not 0 <= shard < shards:
        raise ValueError(f"shard must be in [0, {shards}), got {shard}")
    parts_ids, parts = [], []
    db = sqlite3.connect(Path(root) / DB_FILE, timeout=30, isolation_level=None)
    try:
        db.execute("BEGIN")
        seq = Catalog._read_seq(db)
        where = "active = 1 AND id % ? = ?"
        for ids, vectors in _batches(db, where, (shards, shard), dim):
            parts_ids.append(ids)
            parts.append(vectors)
        db.execute("COMMIT")
    finally:
        db.close()
    if not parts:
        return np.zeros(0, np.int64), np.zeros((0, dim), np.float32), seq
    return np.concatenate(parts_ids), np.vstack(parts), seq


def _spec(index: VectorIndex, nprobe: int) -> IndexSpec:
    """What an index is; an exact one keeps the asked-for `nprobe` for when it grows into IVF."""
    spec = index.spec
    return IndexSpec("flat", 0, nprobe) if spec.kind == "flat" else spec


def _dumps(listing: Listing) -> str:
    return json.dumps(listing.to_dict(), sort_keys=True, ensure_ascii=False)


def _batches(
    db: sqlite3.Connection, where: str, params: tuple[int, ...], dim: int, size: int = 50_000
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(ids, vectors) of the listings matching `where`, a bounded chunk at a time."""
    cursor = db.execute(f"SELECT id, vector FROM listings WHERE {where} ORDER BY id", params)
    while rows := cursor.fetchmany(size):
        yield np.asarray([r[0] for r in rows], np.int64), _stack([r[1] for r in rows], dim)


def _stack(blobs: Sequence[bytes], dim: int) -> np.ndarray:
    if not blobs:
        return np.zeros((0, dim), np.float32)
    return np.vstack([np.frombuffer(b, np.float32) for b in blobs])
