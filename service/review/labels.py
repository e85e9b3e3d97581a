"""Reviewer decisions back to training as labelled pairs (JSONL, the retraining format).

confirm -> label 1 for the chosen entry; reject -> label 0 for every candidate that was shown;
unsure -> nothing (it is an escalation, not a label).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from .records import ReviewItem
from .store import QueueStore


def label_rows(item: ReviewItem) -> Iterator[dict[str, Any]]:
    decision = item.decision
    if decision is None or decision.decision == "unsure" or item.listing is None:
        return  # an unreadable stored listing (item.problem) is no training label
    if decision.decision == "confirm":
        entry_ids = [decision.entry_id] if decision.entry_id else []
        label = 1
    else:
        entry_ids = [c.entry_id for c in item.candidates]
        label = 0
    for entry_id in entry_ids:
        yield {
            "listing": item.listing.to_dict(),
            "entry": {"entry_id": entry_id},
            "label": label,
            "source": "review",
            "decided_at": decision.decided_at.isoformat(),
            "reviewer": decision.reviewer,
        }


def export_labels(queue: QueueStore, since: datetime, out: Path) -> int:
    """Write the pairs of every decision at or after `since` to `out` (replaced atomically).

    Returns the number of rows written.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            for item in queue.decided_since(since):
                for row in label_rows(item):
                    handle.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
                    count += 1
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return count
