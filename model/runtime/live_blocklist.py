"""The screener a running service uses, kept in step with the durable blocklist store.

Readers never wait: `screener` is one attribute read, and every `Screener` is immutable. A change
builds a whole new screener beside the old one (only the changed entries are embedded, with the
bundle's own encoder) and then replaces the reference in a single assignment, so a screen that
started on the old version finishes on it and the next one sees the new version. Rebuilds are
serialised by a lock, and a background thread polls the store so a change committed by another
process (the CLI, another worker) is live well within a second.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace

from model.matching.bundle import Bundle
from model.matching.cascade import make_screener
from model.matching.screener import Screener
from model.runtime.blocklist_store import BlocklistStore
from model.schema import BlocklistEntry

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SyncResult:
    """What one sync changed in the served blocklist (empty tuples when nothing)."""

    seq: int
    upserted: tuple[BlocklistEntry, ...] = ()
    removed: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        """Whether the sync added, updated or removed any entry."""
        return bool(self.upserted or self.removed)


Listener = Callable[[SyncResult], None]


class LiveBlocklist:
    """A bundle's screener with the store's run-time changes laid over its entries."""

    def __init__(self, bundle: Bundle, store: BlocklistStore) -> None:
        self.bundle = bundle
        self.store = store
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._seq = 0
        self._listeners: list[Listener] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._screener = make_screener(bundle)
        self.sync(force=True)

    @property
    def screener(self) -> Screener:
        """The current screener; hold on to it for the whole of one request."""
        return self._screener

    @property
    def seq(self) -> int:
        """The last store change this screener includes."""
        return self._seq

    def add_listener(self, listener: Listener) -> None:
        """Called after every sync that changed something (e.g. to sweep the catalogue)."""
        self._listeners.append(listener)

    def sync(self, force: bool = False) -> SyncResult:
        """Bring the screener up to the store's latest committed change."""
        with self._lock:
            stamp = self.store.stamp()
            if stamp == self._stamp and not force:
                return SyncResult(self._seq)
            state = self.store.state()
            current = self._screener.bundle.index
            target = {e.entry_id: e for e in state.overlay(self.bundle.index.entries)}
            served = {e.entry_id: e for e in current.entries}
            upserts = tuple(e for i, e in target.items() if served.get(i) != e)
            removals = tuple(i for i in served if i not in target)
            if upserts or removals:
                index = current.with_changes(upserts, removals, self.bundle.encoder)
                self._screener = make_screener(replace(self._screener.bundle, index=index))
                log.info("blocklist at change %d: %d added or updated, %d removed, %d entries",
                         state.seq, len(upserts), len(removals), len(index))  # fmt: skip
            self._stamp, self._seq = stamp, state.seq
            result = SyncResult(state.seq, upserts, removals)
        if result.changed:
            for listener in self._listeners:
                try:
                    listener(result)
                except Exception:  # a listener must never stop the blocklist from updating
                    log.exception("blocklist change listener failed")
        return result

    def start(self, interval: float = 0.2) -> None:
        """Poll the store in a daemon thread (changes from other processes)."""
        if self._thread is not None:
            return
        self._stop.clear()

        def run() -> None:
            while not self._stop.wait(interval):
                try:
                    self.sync()
                except Exception:  # keep serving the last good version; say why loudly
                    log.exception("could not apply blocklist changes; serving change %d",
                                  self._seq)  # fmt: skip

        self._thread = threading.Thread(target=run, name="blocklist-sync", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the poller started by `start` (waits up to 5 s for it)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
