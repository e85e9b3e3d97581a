"""Score verdicts on the real-listing development set by the rules of `data/realworld-dev/score.py`.

The rules (the set's own, so a figure here is the figure `score.py` prints for the same verdicts;
`tests/test_realworld.py` checks the two agree on a fixture):

- a positive is **flagged** when the decision is ``block`` or ``review`` and one of its expected
  entry ids is the verdict's ``match`` or one of its first ``TOP_K`` (3) ``candidates``;
- it is **blocked** when the decision is ``block`` and the ``match`` is an expected id;
- a ``block`` whose ``match`` is not an expected id is a **wrong block** (the seller would be shown
  the wrong recall);
- a positive with no verdict counts in its denominator and as a miss;
- benign cases give blocked / reviewed / allowed rates over the cases that got a verdict.

Verdicts are plain dicts in the shape `Verdict.to_dict()` and `recallguard screen --output` write,
so the same code scores a live screener's answers and a verdicts file.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from training.metrics import wilson
from training.realworld import RealCase

FLAG_DECISIONS = ("block", "review")
TOP_K = 3


@dataclass(frozen=True)
class CaseScore:
    """One case against its verdict (``decision`` is None when no verdict came back)."""

    case_id: str
    kind: str
    positive: bool
    decision: str | None
    probability: float | None
    match: str | None
    shown: tuple[str, ...]
    flagged: bool
    blocked: bool
    wrong_block: bool


def _entry_id(obj: object) -> str | None:
    return obj.get("entry_id") if isinstance(obj, Mapping) else None


def shown_ids(verdict: Mapping[str, Any]) -> tuple[str, ...]:
    """The verdict's match, then its first TOP_K candidates: entry ids, in order, deduplicated."""
    ids = [_entry_id(verdict.get("match"))]
    ids += [_entry_id(c) for c in (verdict.get("candidates") or [])[:TOP_K]]
    return tuple(dict.fromkeys(i for i in ids if i))


def score_case(case: RealCase, verdict: Mapping[str, Any] | None) -> CaseScore:
    if verdict is None:
        return CaseScore(case.case_id, case.kind, case.positive, None, None, None, (), False,
                         False, False)  # fmt: skip
    decision = verdict.get("decision")
    match = _entry_id(verdict.get("match"))
    shown = shown_ids(verdict)
    expected = set(case.expected)
    prob = verdict.get("probability")
    return CaseScore(
        case_id=case.case_id,
        kind=case.kind,
        positive=case.positive,
        decision=decision,
        probability=float(prob) if isinstance(prob, (int, float)) else None,
        match=match,
        shown=shown,
        flagged=case.positive and decision in FLAG_DECISIONS and bool(expected & set(shown)),
        blocked=case.positive and decision == "block" and match in expected,
        wrong_block=case.positive and decision == "block" and match not in expected,
    )


def rate_of(hits: int, n: int) -> dict[str, Any]:
    """``{hits, n, rate, ci95}``; rate is None when n is 0 (Wilson 95% interval)."""
    low, high = wilson(hits, n) if n else (0.0, 1.0)
    return {"hits": hits, "n": n, "rate": hits / n if n else None, "ci95": [low, high]}


def _positives(scores: Sequence[CaseScore]) -> dict[str, Any]:
    n = len(scores)
    return {
        "n": n,
        "flagged": rate_of(sum(s.flagged for s in scores), n),
        "blocked": rate_of(sum(s.blocked for s in scores), n),
        "wrong_block": sum(s.wrong_block for s in scores),
        "no_verdict": sum(s.decision is None for s in scores),
    }


def _benign(scores: Sequence[CaseScore]) -> dict[str, Any]:
    got = [s for s in scores if s.decision is not None]
    return {
        "n": len(scores),
        "blocked": rate_of(sum(s.decision == "block" for s in got), len(got)),
        "reviewed": rate_of(sum(s.decision == "review" for s in got), len(got)),
        "allowed": rate_of(sum(s.decision == "allow" for s in got), len(got)),
        "no_verdict": len(scores) - len(got),
    }


def summarise(scores: Iterable[CaseScore]) -> dict[str, Any]:
    """Per kind and overall, for positives and benign cases, plus every miss and false alarm."""
    scores = list(scores)
    pos = [s for s in scores if s.positive]
    ben = [s for s in scores if not s.positive]
    by_kind: dict[str, list[CaseScore]] = defaultdict(list)
    for s in scores:
        by_kind[s.kind].append(s)
    return {
        "positives": _positives(pos),
        "benign": _benign(ben),
        "per_kind": {
            kind: _positives(group) if group[0].positive else _benign(group)
            for kind, group in sorted(by_kind.items())
        },
        "misses": [s.case_id for s in pos if not s.flagged],
        "benign_not_allowed": [s.case_id for s in ben if s.decision in FLAG_DECISIONS],
    }


def score_verdicts(
    cases: Sequence[RealCase], verdicts: Iterable[Mapping[str, Any]]
) -> list[CaseScore]:
    """Join verdicts to cases on ``listing_id == case_id``; the last one wins, as in score.py."""
    by_id = {v.get("listing_id"): v for v in verdicts}
    return [score_case(c, by_id.get(c.case_id)) for c in cases]
