"""The durable blocklist overlay: entries added, changed or removed after a bundle was built.

A bundle is immutable, yet regulators publish recalls every week. Run-time changes therefore
live here, under the data home, and are laid over the bundle's entries whenever a screener is
built (and re-embedded with that bundle's encoder, so they also survive a model promotion).

Layout of the store folder (default ``$RECALLGUARD_DATA_HOME/blocklist``):

- ``changes.jsonl``: the append-only change log, one JSON line per committed change set with
  who, when and why. It is the truth; nothing in it is ever rewritten.
- ``state.json``: a checkpoint of the overlay after change ``seq`` and the log offset where
  later changes start, so loading does not replay years of history.
- ``lock``: writers (the CLI and every service worker) take an exclusive ``flock`` on it.

Commit protocol: append the change line and fsync (the commit point), then write the new
checkpoint to a temporary file, fsync it and rename it over the old one. A writer killed before
the fsync leaves at most a torn last line, which readers ignore and the next writer cuts off: the
previous version is intact. A writer killed after it leaves a committed change that readers
replay from the log even though the checkpoint is older.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import tempfile
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from model.runtime.ann import fsync_dir
from model.runtime.blocklist_changes import (
    ApplyResult,
    Change,
    ChangeSet,
    Op,
    Record,
    StoreState,
    changed_fields,
)
from model.schema import BlocklistEntry
from model.settings import Settings

LOG_FILE = "changes.jsonl"
STATE_FILE = "state.json"
LOCK_FILE = "lock"
FORMAT = 1
MAX_REASON_CHARS = 2000

log = logging.getLogger(__name__)


def _no_crash(step: str) -> None:
    """Test hook: the crash tests replace this to kill the writer between commit steps."""


crash_point: Callable[[str], None] = _no_crash


class UnknownEntryError(LookupError):
    """An entry id that is in neither the overlay nor the bundle."""


class StoreCorruptError(RuntimeError):
    """A committed line of the change log cannot be read; the store needs a person to look."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class BlocklistStore:
    """Read and write the overlay. Readers take no lock; writers serialise on `lock`."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> BlocklistStore:
        """The store under `$RECALLGUARD_DATA_HOME/blocklist` (see `model.settings`).

        :raises SettingsError: an environment variable has an unusable value.
        """
        return cls(Settings.from_env(env).data_home / "blocklist")

    @property
    def log_path(self) -> Path:
        """The append-only change log (JSON lines)."""
        return self.root / LOG_FILE

    # -- reading ------------------------------------------------------------------------------
    def stamp(self) -> tuple[int, int, int] | None:
        """Changes whenever a change is committed: a cheap poll for running services."""
        try:
            st = self.log_path.stat()
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    def _checkpoint(self) -> tuple[StoreState, int]:
        path = self.root / STATE_FILE
        if not path.exists():
            return StoreState(), 0
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            records = {k: Record.from_dict(v) for k, v in data["records"].items()}
            return StoreState(int(data["seq"]), records), int(data["log_offset"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            # The checkpoint is only a cache of the log: rebuild from the start rather than fail.
            log.warning("%s is unreadable (%s); replaying the whole change log", path, exc)
            return StoreState(), 0

    def _scan(self, offset: int) -> Iterator[tuple[ChangeSet, int]]:
        """Committed change sets from `offset`, each with the offset just after its line.

        A last line without its newline is a write that never committed and is skipped.
        """
        if not self.log_path.exists():
            return
        with open(self.log_path, "rb") as fh:
            fh.seek(offset)
            pos = offset
            for raw in fh:
                if not raw.endswith(b"\n"):
                    return  # torn tail
                pos += len(raw)
                try:
                    yield ChangeSet.from_dict(json.loads(raw)), pos
                except (ValueError, KeyError, TypeError) as exc:
                    raise StoreCorruptError(
                        f"{self.log_path}: committed change at byte {pos - len(raw)} is "
                        f"unreadable: {exc}"
                    ) from exc

    def _load(self) -> tuple[StoreState, int]:
        state, offset = self._checkpoint()
        for change_set, end in self._scan(offset):
            if change_set.seq > state.seq:
                state = state.apply(change_set)
            offset = end
        return state, offset

    def state(self) -> StoreState:
        """The overlay after the last committed change (checkpoint plus the log after it).

        :raises StoreCorruptError: a committed log line cannot be read.
        """
        return self._load()[0]

    def history(self, entry_id: str | None = None) -> list[ChangeSet]:
        """Every committed change set, oldest first; with `entry_id`, only that entry's part."""
        out = []
        for change_set, _ in self._scan(0):
            if entry_id is None:
                out.append(change_set)
                continue
            mine = tuple(c for c in change_set.changes if c.entry_id == entry_id)
            if mine:
                cs = change_set
                out.append(ChangeSet(cs.seq, cs.at, cs.actor, cs.reason, mine))
        return out

    # -- writing ------------------------------------------------------------------------------
    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / LOCK_FILE, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _cut_torn_tail(self, good_end: int) -> None:
        if self.log_path.exists() and self.log_path.stat().st_size > good_end:
            log.warning("%s: dropping an uncommitted partial change at byte %d",
                        self.log_path, good_end)  # fmt: skip
            with open(self.log_path, "r+b") as fh:
                fh.truncate(good_end)
                fh.flush()
                os.fsync(fh.fileno())

    def _commit(self, state: StoreState, offset: int, change_set: ChangeSet) -> None:
        line = (json.dumps(change_set.to_dict(), ensure_ascii=False) + "\n").encode("utf-8")
        with open(self.log_path, "ab") as fh:
            half = len(line) // 2
            fh.write(line[:half])
            fh.flush()
            crash_point("log-partial")
            fh.write(line[half:])
            fh.flush()
            os.fsync(fh.fileno())
        if offset == 0:
            fsync_dir(self.root)  # the log file itself may be new
        crash_point("log-committed")
        new_state = state.apply(change_set)
        payload = {
            "format": FORMAT,
            "seq": new_state.seq,
            "log_offset": offset + len(line),
            "records": {k: r.to_dict() for k, r in new_state.records.items()},
        }
        fd, tmp = tempfile.mkstemp(prefix=".state-", dir=self.root)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(payload, handle, ensure_ascii=False)
                handle.flush()
                os.fsync(handle.fileno())
            crash_point("checkpoint-written")
            os.replace(tmp, self.root / STATE_FILE)
            fsync_dir(self.root)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        crash_point("checkpoint-renamed")

    def _write(
        self, actor: str, reason: str, plan: Callable[[StoreState], tuple[list[Change], list[str]]]
    ) -> ApplyResult:
        if not isinstance(actor, str) or not actor.strip():
            raise ValueError("a change needs the name of who makes it (actor)")
        if not isinstance(reason, str) or len(reason) > MAX_REASON_CHARS:
            raise ValueError(f"reason must be a string of at most {MAX_REASON_CHARS} characters")
        with self._locked():
            state, offset = self._load()
            self._cut_torn_tail(offset)
            changes, unchanged = plan(state)
            if not changes:
                return ApplyResult(None, unchanged=tuple(unchanged))
            change_set = ChangeSet(state.seq + 1, _now(), actor.strip(), reason, tuple(changes))
            self._commit(state, offset, change_set)

        def ids(op: Op) -> tuple[str, ...]:
            return tuple(c.entry_id for c in changes if c.op == op)

        return ApplyResult(change_set, ids("add"), ids("update"), ids("remove"), tuple(unchanged))

    def upsert(
        self,
        entries: Iterable[BlocklistEntry],
        actor: str,
        reason: str = "",
        base: Mapping[str, BlocklistEntry] | None = None,
    ) -> ApplyResult:
        """Add or replace entries in one atomic change; identical ones are left alone.

        `base` (the served bundle's entries by id, when known) makes a re-import of an entry the
        bundle already holds unchanged a no-op instead of an overlay copy.
        """
        incoming = list(entries)
        ids = [e.entry_id for e in incoming]
        if len(set(ids)) != len(ids):
            dupes = sorted({i for i in ids if ids.count(i) > 1})
            raise ValueError(f"the same entry_id appears more than once: {dupes[:5]}")
        known = base or {}

        def plan(state: StoreState) -> tuple[list[Change], list[str]]:
            changes, same = [], []
            for entry in incoming:
                record = state.records.get(entry.entry_id)
                if record is not None:
                    current = record.entry if record.status == "active" else None
                else:
                    current = known.get(entry.entry_id)
                if current == entry:
                    same.append(entry.entry_id)
                elif current is None:
                    changes.append(Change("add", entry.entry_id, entry))
                else:
                    fields = changed_fields(current, entry)
                    changes.append(Change("update", entry.entry_id, entry, fields))
            return changes, same

        return self._write(actor, reason, plan)

    def remove(
        self, entry_ids: Iterable[str], actor: str, reason: str, known: Collection[str] = ()
    ) -> ApplyResult:
        """Remove entries (from the overlay or, by a tombstone, from the bundle) with a reason.

        Raises UnknownEntryError for an id that is neither in the overlay nor in `known` (the
        bundle's ids); removing an already removed entry is a no-op.
        """
        if not reason or not reason.strip():
            raise ValueError("removing an entry needs a reason")
        wanted = list(dict.fromkeys(entry_ids))

        def plan(state: StoreState) -> tuple[list[Change], list[str]]:
            changes, same = [], []
            for entry_id in wanted:
                record = state.records.get(entry_id)
                if record is not None and record.status == "removed":
                    same.append(entry_id)
                elif record is not None or entry_id in known:
                    changes.append(Change("remove", entry_id))
                else:
                    raise UnknownEntryError(f"no blocklist entry {entry_id!r}")
            return changes, same

        return self._write(actor, reason.strip(), plan)
