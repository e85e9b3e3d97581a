"""The records of the blocklist store: change sets (who, when, why, what) and the overlay state.

Kept apart from the storage mechanics in `model.runtime.blocklist_store` so readers of the change
log (the CLI, the admin API) depend on plain frozen dataclasses only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from model.schema import BlocklistEntry

Op = Literal["add", "update", "remove"]
Status = Literal["active", "removed"]


@dataclass(frozen=True)
class Change:
    """One entry's change inside a change set; `fields` names what an update changed."""

    op: Op
    entry_id: str
    entry: BlocklistEntry | None = None
    fields: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """One JSON object for the change log (`entry` and `fields` only when set)."""
        out: dict[str, Any] = {"op": self.op, "entry_id": self.entry_id}
        if self.entry is not None:
            out["entry"] = self.entry.to_dict()
        if self.fields:
            out["fields"] = list(self.fields)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Change:
        """Inverse of `to_dict`.

        :raises KeyError: `op` or `entry_id` missing.
        :raises ValidationError: the nested entry is not a valid `BlocklistEntry`.
        """
        raw = data.get("entry")
        entry = None if raw is None else BlocklistEntry.from_dict(dict(raw))
        return cls(data["op"], data["entry_id"], entry, tuple(data.get("fields", ())))


@dataclass(frozen=True)
class ChangeSet:
    """One committed change: a sequence number, who made it, when, why, and what changed."""

    seq: int
    at: str
    actor: str
    reason: str
    changes: tuple[Change, ...]

    def to_dict(self) -> dict[str, Any]:
        """One line of the change log (JSON object)."""
        return {
            "seq": self.seq,
            "at": self.at,
            "actor": self.actor,
            "reason": self.reason,
            "changes": [c.to_dict() for c in self.changes],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ChangeSet:
        """Inverse of `to_dict`.

        :raises KeyError: a required key is missing.
        :raises ValueError: `seq` is not an integer.
        """
        changes = tuple(Change.from_dict(c) for c in data["changes"])
        return cls(int(data["seq"]), data["at"], data["actor"], data["reason"], changes)


@dataclass(frozen=True)
class Record:
    """The overlay's word on one entry id: its current entry, or that it was removed."""

    entry_id: str
    status: Status
    entry: BlocklistEntry | None
    seq: int
    at: str
    actor: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """The record as stored in the checkpoint (JSON object)."""
        return {
            "entry_id": self.entry_id,
            "status": self.status,
            "entry": None if self.entry is None else self.entry.to_dict(),
            "seq": self.seq,
            "at": self.at,
            "actor": self.actor,
            "reason": self.reason,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Record:
        """Inverse of `to_dict`.

        :raises KeyError: a required key is missing.
        """
        raw = data.get("entry")
        entry = None if raw is None else BlocklistEntry.from_dict(dict(raw))
        return cls(
            data["entry_id"], data["status"], entry, int(data["seq"]), data["at"],
            data["actor"], data["reason"],
        )  # fmt: skip


@dataclass(frozen=True)
class StoreState:
    """The overlay after change `seq`: one record per entry id ever touched at run time."""

    seq: int = 0
    records: Mapping[str, Record] = field(default_factory=dict)

    def apply(self, change_set: ChangeSet) -> StoreState:
        """A new state with `change_set` laid on this one (this one is not modified)."""
        records = dict(self.records)
        for c in change_set.changes:
            status: Status = "removed" if c.op == "remove" else "active"
            records[c.entry_id] = Record(
                c.entry_id, status, c.entry, change_set.seq, change_set.at, change_set.actor,
                change_set.reason,
            )  # fmt: skip
        return StoreState(change_set.seq, records)

    def active(self) -> list[BlocklistEntry]:
        """The entries added or updated at run time and not removed since, in record order."""
        return [r.entry for r in self.records.values() if r.status == "active" and r.entry]

    def overlay(self, base: Sequence[BlocklistEntry]) -> list[BlocklistEntry]:
        """The effective blocklist: `base` (a bundle's entries) with this overlay laid on top.

        Order is kept for base entries (replaced in place) and new entries follow sorted by id,
        so the same inputs always give the same list.
        """
        out: list[BlocklistEntry] = []
        for entry in base:
            record = self.records.get(entry.entry_id)
            if record is None:
                out.append(entry)
            elif record.status == "active" and record.entry is not None:
                out.append(record.entry)
        known = {e.entry_id for e in base}
        out.extend(sorted((e for e in self.active() if e.entry_id not in known),
                          key=lambda e: e.entry_id))  # fmt: skip
        return out


@dataclass(frozen=True)
class ApplyResult:
    """What a write did; `change_set` is None when nothing changed (an idempotent repeat)."""

    change_set: ChangeSet | None
    added: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()

    @property
    def seq(self) -> int | None:
        """The committed change's sequence number; None when nothing changed."""
        return None if self.change_set is None else self.change_set.seq


def changed_fields(old: BlocklistEntry, new: BlocklistEntry) -> tuple[str, ...]:
    """Names of the fields whose values differ between `old` and `new`, in field order."""
    a, b = old.to_dict(), new.to_dict()
    return tuple(k for k in b if a.get(k) != b[k])
