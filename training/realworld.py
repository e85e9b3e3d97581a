"""The real-listing development set (`data/realworld-dev/`) and its fixed tuning/test split.

121 listings written from public reports of how recalled products were really sold (89
positives over 44 recalls, 32 benign look-alikes); see `data/realworld-dev/SOURCE.md`. It is a
*development* set: thresholds and design choices may be tuned on the ``tune`` half, figures are
reported on the ``test`` half, and no case is ever used as training data.

The split is by recall: positives whose expected entry ids overlap form one group (a recall and
its repeat notices), and a group never straddles the halves. Groups are taken in the order of a
stable hash of their smallest entry id and each goes to the half with fewer positives so far, so
the halves stay balanced and the split depends on neither file order nor a random seed. Benign
cases are dealt alternately within each kind, in the same hashed order.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from model.schema import Listing

REALWORLD_DIR = Path(__file__).resolve().parents[1] / "data" / "realworld-dev"
CASES_FILE = REALWORLD_DIR / "cases.jsonl"
HALVES = ("tune", "test")


@dataclass(frozen=True)
class RealCase:
    """One development case: a listing and every blocklist entry id that is the same product.

    ``expected`` is empty for benign cases. ``kind`` is the set's own label (``seller-title``,
    ``translated``, ``benign-lookalike`` …).
    """

    case_id: str
    listing: Listing
    expected: tuple[str, ...]
    kind: str
    source: str

    @property
    def positive(self) -> bool:
        return bool(self.expected)


def load_cases(path: Path = CASES_FILE) -> list[RealCase]:
    """Read ``cases.jsonl``. Raises ``ValueError`` naming the line of a malformed case."""
    cases = []
    with open(path, encoding="utf-8-sig") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                src = row["listing"]
                listing = Listing(
                    title=src["title"],
                    listing_id=row["case_id"],
                    brand=src.get("brand") or "",
                    description=src.get("description") or "",
                    identifiers=tuple(str(i) for i in src.get("identifiers") or ()),
                )
                cases.append(
                    RealCase(
                        case_id=row["case_id"],
                        listing=listing,
                        expected=tuple(row["expected"]),
                        kind=row["kind"],
                        source=row.get("source", ""),
                    )
                )
            except (KeyError, TypeError, ValueError) as exc:
                raise ValueError(f"{path}:{n}: malformed case: {exc}") from exc
    return cases


def _hashed(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def recall_groups(cases: Sequence[RealCase]) -> list[list[RealCase]]:
    """Positives grouped so that cases sharing any expected entry id fall in one group."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    for case in cases:
        for other in case.expected[1:]:
            parent[find(other)] = find(case.expected[0])
    groups: dict[str, list[RealCase]] = defaultdict(list)
    for case in cases:
        if case.positive:
            groups[find(case.expected[0])].append(case)
    return list(groups.values())


def split_cases(cases: Sequence[RealCase]) -> dict[str, list[RealCase]]:
    """``{"tune": [...], "test": [...]}``: by recall group for positives, by case for benign."""
    out: dict[str, list[RealCase]] = {h: [] for h in HALVES}
    groups = sorted(
        recall_groups(cases), key=lambda g: _hashed(min(e for c in g for e in c.expected))
    )
    for group in groups:
        half = min(HALVES, key=lambda h: len(out[h]))
        out[half].extend(group)
    benign: dict[str, list[RealCase]] = defaultdict(list)
    for case in cases:
        if not case.positive:
            benign[case.kind].append(case)
    for kind_cases in benign.values():
        for i, case in enumerate(sorted(kind_cases, key=lambda c: _hashed(c.case_id))):
            out[HALVES[i % 2]].append(case)
    for half in HALVES:
        out[half].sort(key=lambda c: c.case_id)
    return out
