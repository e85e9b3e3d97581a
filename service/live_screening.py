"""The live screening state of a running service: the screener, hot blocklist changes, the
catalogue and sweeps.

One `LiveScreening` per service worker owns the live screener (`LiveBlocklist`: the bundle with
the durable store's changes laid over it), the catalogue and a sweeper thread. A change made here is
committed to the store, applied to this worker's screener before the call returns, and picked
up by every other worker (and from `recallguard blocklist import`) by the store poller within a
fraction of a second. Each added or changed entry is swept against the catalogue in the
background: `block` hits are recorded for the platform (``GET /admin/sweeps``), `review` hits go
to the reviewer queue.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from model.matching.bundle import Bundle
from model.matching.normalise import normalise
from model.matching.screener import Screener
from model.runtime.blocklist_store import BlocklistStore
from model.runtime.catalog import DB_FILE, AddResult, Catalog, CatalogError, encoder_fingerprint
from model.runtime.live_blocklist import LiveBlocklist, SyncResult
from model.runtime.sweep import SweepHit, UnknownEntry
from model.runtime.sweep_log import SweepLog
from model.schema import BlocklistEntry, Listing
from service.review import ReviewQueue

log = logging.getLogger("recallguard.admin")

CATALOG_DIR = "catalog"
SWEEPS_FILE = "sweeps.sqlite3"
MAX_LISTINGS_PER_BATCH = 1000
CHECKPOINT_ROWS = 20_000


@dataclass(frozen=True)
class ChangeOutcome:
    """The answer to an admin change: what changed, and that it is live."""

    seq: int | None
    added: tuple[str, ...]
    updated: tuple[str, ...]
    removed: tuple[str, ...]
    unchanged: tuple[str, ...]
    served_entries: int
    served_seq: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "added": list(self.added),
            "updated": list(self.updated),
            "removed": list(self.removed),
            "unchanged": list(self.unchanged),
            "served_entries": self.served_entries,
            "served_seq": self.served_seq,
        }


class LiveScreening:
    def __init__(
        self,
        bundle: Bundle,
        bundle_path: Path,
        data_home: Path,
        review_queue: ReviewQueue,
        poll_seconds: float = 0.2,
    ) -> None:
        self.store = BlocklistStore(Path(data_home) / "blocklist")
        self.live = LiveBlocklist(bundle, self.store)
        self.encoder_id = encoder_fingerprint(bundle_path)
        self.catalog_root = Path(data_home) / CATALOG_DIR
        self.sweeps = SweepLog(self.catalog_root / SWEEPS_FILE)
        self.review_queue = review_queue
        self._catalog: Catalog | None = None
        self._catalog_lock = threading.Lock()
        self._checkpointing = threading.Lock()
        self._jobs: queue.Queue[tuple[int, str] | None] = queue.Queue()
        self.live.add_listener(self._on_change)
        self._sweeper_thread = threading.Thread(
            target=self._sweeper, name="catalogue-sweeper", daemon=True
        )
        self._sweeper_thread.start()
        for job in self.sweeps.unfinished():  # claimed before a crash or restart
            self._jobs.put(job)
        try:
            for entry in self.store.state().active():  # added while no service was running
                self.request_sweep(entry.entry_id, entry=entry)
        except CatalogError as exc:  # e.g. embedded by another encoder: serve, sweep nothing
            log.error("catalogue unusable, no sweeps until it is re-indexed: %s", exc)
        self.live.start(poll_seconds)

    @property
    def screener(self) -> Screener:
        return self.live.screener

    # -- blocklist ----------------------------------------------------------------------------
    def _base(self) -> dict[str, BlocklistEntry]:
        return {e.entry_id: e for e in self.live.bundle.index.entries}

    def _outcome(self, result: Any) -> ChangeOutcome:
        self.live.sync()  # live in this worker before the caller hears back
        screener = self.screener
        return ChangeOutcome(
            result.seq, result.added, result.updated, result.removed, result.unchanged,
            len(screener.bundle.index), self.live.seq,
        )  # fmt: skip

    def upsert(self, entries: Sequence[BlocklistEntry], actor: str, reason: str) -> ChangeOutcome:
        return self._outcome(self.store.upsert(entries, actor, reason, base=self._base()))

    def remove(self, entry_ids: Sequence[str], actor: str, reason: str) -> ChangeOutcome:
        return self._outcome(self.store.remove(entry_ids, actor, reason, known=self._base()))

    def entry(self, entry_id: str) -> dict[str, Any] | None:
        """The served entry (if any), its overlay record and its change history."""
        index = self.screener.bundle.index
        position = index.position(entry_id)
        record = self.store.state().records.get(entry_id)
        history = self.store.history(entry_id)
        if position is None and record is None:
            return None
        return {
            "entry_id": entry_id,
            "served": position is not None,
            "entry": None if position is None else index.entries[position].to_dict(),
            "in_bundle": entry_id in self._base(),
            "record": None if record is None else record.to_dict(),
            "history": [c.to_dict() for c in history],
        }

    def records(self, status: str | None = None) -> list[dict[str, Any]]:
        state = self.store.state()
        return [
            r.to_dict()
            for r in sorted(state.records.values(), key=lambda r: r.entry_id)
            if status is None or r.status == status
        ]

    # -- catalogue ----------------------------------------------------------------------------
    def catalog(self, create: bool = False) -> Catalog | None:
        with self._catalog_lock:
            exists = (self.catalog_root / DB_FILE).exists()
            if self._catalog is None and (create or exists):
                dim = self.live.bundle.encoder.dim
                self._catalog = Catalog(self.catalog_root, dim, self.encoder_id)
            return self._catalog

    def add_listings(self, listings: Sequence[Listing]) -> AddResult:
        catalog = self.catalog(create=True)
        assert catalog is not None
        same = catalog.unchanged(listings)
        fresh = [x for x, s in zip(listings, same, strict=True) if not s]
        vectors = self.live.bundle.encoder.encode([normalise(x.text()) for x in fresh])
        result = catalog.add(fresh, vectors)
        if catalog.rows_since_checkpoint() >= CHECKPOINT_ROWS:
            self._checkpoint_soon(catalog)
        return AddResult(result.added, result.updated, result.unchanged + sum(same))

    def _checkpoint_soon(self, catalog: Catalog) -> None:
        """Persist (and maybe re-build) the index in the background, one at a time."""
        if not self._checkpointing.acquire(blocking=False):
            return

        def run() -> None:
            try:
                catalog.checkpoint()
            except Exception:
                log.exception("catalogue checkpoint failed; rows stay safe in SQLite")
            finally:
                self._checkpointing.release()

        threading.Thread(target=run, name="catalogue-checkpoint", daemon=True).start()

    def remove_listings(self, listing_ids: Sequence[str]) -> int:
        catalog = self.catalog()
        return 0 if catalog is None else catalog.remove(listing_ids)

    def catalog_info(self) -> dict[str, Any]:
        catalog = self.catalog()
        if catalog is None:
            return {"listings": 0, "index": None, "encoder_id": self.encoder_id}
        catalog.refresh()
        spec = catalog.spec
        return {"listings": len(catalog), "index": {"kind": spec.kind, "nlist": spec.nlist,
                "nprobe": spec.nprobe}, "encoder_id": self.encoder_id}  # fmt: skip

    # -- sweeps -------------------------------------------------------------------------------
    def _on_change(self, result: SyncResult) -> None:
        for entry in result.upserted:
            self.request_sweep(entry.entry_id, entry=entry)

    def request_sweep(
        self, entry_id: str, force: bool = False, entry: BlocklistEntry | None = None
    ) -> int | None:
        """Queue a sweep for a served entry; None when there is no catalogue or it is swept."""
        if self.catalog() is None:
            return None
        if entry is None:
            index = self.screener.bundle.index
            position = index.position(entry_id)
            if position is None:
                raise LookupError(f"{entry_id} is not in the served blocklist")
            entry = index.entries[position]
        sweep_id = self.sweeps.claim(entry, force=force)
        if sweep_id is not None:
            self._jobs.put((sweep_id, entry_id))
        return sweep_id

    def _route(self, hit: SweepHit) -> int | None:
        item_id, _ = self.review_queue.enqueue(hit.listing, hit.verdict)
        return int(item_id)

    def close(self, timeout: float = 10.0) -> None:
        """Stop polling the store and stop the sweeper after the sweep it is running.

        Sweeps still queued stay claimed in the sweep log and are run by the next start.
        """
        self.live.stop()
        with self._jobs.mutex:  # drop the queued jobs: the sweep log keeps them claimed
            self._jobs.queue.clear()
        self._jobs.put(None)
        self._sweeper_thread.join(timeout)

    def _sweeper(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            sweep_id, entry_id = job
            catalog = self.catalog()
            if catalog is None:
                self.sweeps.fail(sweep_id, "no catalogue is registered")
                continue
            try:
                record = self.sweeps.run(sweep_id, self.screener, catalog, entry_id, self._route)
                log.info("swept %s: %d candidates, %d block, %d review", entry_id,
                         record.candidates, record.blocks, record.reviews)  # fmt: skip
            except UnknownEntry:
                log.info("sweep %d skipped: %s was removed before it ran", sweep_id, entry_id)
            except Exception:
                log.exception("sweep %d for %s failed", sweep_id, entry_id)

    def sweep_status(self, entry_id: str) -> Mapping[str, Any] | None:
        record = self.sweeps.latest(entry_id)
        return None if record is None else record.to_dict()
