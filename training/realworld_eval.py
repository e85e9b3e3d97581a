"""The bundle on real listings: the development set (both halves and the whole) and the held-out
real Amazon UK listings, screened through the screener the service uses (`make_screener`).

Two kinds of real listing, two questions:

- `data/realworld-dev/` (`training.realworld`): does a recalled product, listed the way sellers
  really list it, get flagged with the right recall? Scored by `training.realworld_score`, whose
  rules are those of the set's own `score.py`.
- the bundle's `test` split of the 10,000 Amazon UK toy listings (never trained on; the split is
  the bundle's own, see `training.heldout.in_split`): how many honest listings would be blocked or
  sent to review? Nothing in that sample is labelled recalled, so every block or review counts
  against the model (a recalled product hiding in it would make the rate look slightly worse,
  never better).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from training.realworld import HALVES, RealCase, load_cases, split_cases
from training.realworld_score import rate_of, score_verdicts, summarise

if TYPE_CHECKING:
    from model.matching.bundle import Bundle
    from model.matching.screener import Screener
    from model.schema import Listing

SCOPES = (*HALVES, "all")
BATCH = 64
SHOWN_ALARMS = 15


def screen_all(screener: Screener, listings: Sequence[Listing]) -> list[dict[str, Any]]:
    """Verdicts as dicts (the `Verdict.to_dict()` shape), screened in batches of BATCH."""
    out: list[dict[str, Any]] = []
    for start in range(0, len(listings), BATCH):
        out += [v.to_dict() for v in screener.screen(listings[start : start + BATCH])]
    return out


def _case_rows(cases: Sequence[RealCase], verdicts: Sequence[dict[str, Any]]) -> list[dict]:
    """What the report lists for a miss or a false alarm (titles are shown escaped there)."""
    by_id = {v["listing_id"]: v for v in verdicts}
    rows = []
    for case, score in zip(cases, score_verdicts(cases, verdicts), strict=True):
        v = by_id.get(case.case_id) or {}
        rows.append(
            {
                "case_id": case.case_id,
                "kind": case.kind,
                "title": case.listing.title,
                "expected": list(case.expected),
                "decision": score.decision,
                "probability": score.probability,
                "match": score.match,
                "shown": list(score.shown),
                "flagged": score.flagged,
                "blocked": score.blocked,
                "wrong_block": score.wrong_block,
                "top_probability": (v.get("candidates") or [{}])[0].get("probability"),
            }
        )
    return rows


def evaluate_cases(screener: Screener, cases: Sequence[RealCase] | None = None) -> dict[str, Any]:
    """Screen every dev case once; summarise the tune half, the test half and the whole set.

    Returns ``{"halves": {"tune": summary, "test": summary, "all": summary}, "cases": [...],
    "split": {"tune": [case ids], "test": [...]}, "seconds": float}`` where each summary is
    `training.realworld_score.summarise`'s.
    """
    cases = load_cases() if cases is None else list(cases)
    clock = time.perf_counter()
    verdicts = screen_all(screener, [c.listing for c in cases])
    seconds = time.perf_counter() - clock
    scores = {s.case_id: s for s in score_verdicts(cases, verdicts)}
    halves = split_cases(cases)
    members = {**{h: [c.case_id for c in halves[h]] for h in HALVES},
               "all": [c.case_id for c in cases]}  # fmt: skip
    return {
        "halves": {scope: summarise(scores[i] for i in members[scope]) for scope in SCOPES},
        "split": {h: members[h] for h in HALVES},
        "cases": _case_rows(cases, verdicts),
        "seconds": round(seconds, 2),
    }


def heldout_amazon(bundle: Bundle, benign: Sequence[Listing]) -> list[Listing]:
    """The listings of `benign` in the bundle's own `test` split (never trained on)."""
    from training.heldout import build_config, in_split

    config = build_config(bundle.config.training)
    return in_split([], benign, config, "test")[1]


def evaluate_amazon(screener: Screener, listings: Sequence[Listing]) -> dict[str, Any]:
    """Block and review rates on held-out real listings, and the highest-scored ones."""
    clock = time.perf_counter()
    verdicts = screen_all(screener, listings)
    seconds = time.perf_counter() - clock
    n = len(verdicts)
    flagged = sorted(
        (v for v in verdicts if v["decision"] != "allow"), key=lambda v: -v["probability"]
    )
    titles = {x.listing_id: x.title for x in listings}
    return {
        "n": n,
        "blocked": rate_of(sum(v["decision"] == "block" for v in verdicts), n),
        "reviewed": rate_of(sum(v["decision"] == "review" for v in verdicts), n),
        "flagged": [
            {
                "listing_id": v["listing_id"],
                "title": titles.get(v["listing_id"], ""),
                "decision": v["decision"],
                "probability": v["probability"],
                "match": (v.get("match") or {}).get("entry_id"),
                "match_name": (v.get("match") or {}).get("product_name", ""),
            }
            for v in flagged[:SHOWN_ALARMS]
        ],
        "seconds": round(seconds, 2),
    }


def run_realworld(
    bundle: Bundle,
    benign: Sequence[Listing] | None = None,
    cases: Sequence[RealCase] | None = None,
    amazon: bool = True,
) -> dict[str, Any]:
    """The real-listing section of the evaluation report, screened with `make_screener(bundle)`.

    `benign`: the Amazon listings to take the held-out split from (default: the bundled
    10,000); `amazon=False` skips them (the dev set alone takes seconds).
    """
    from model.matching.cascade import make_screener

    screener = make_screener(bundle)
    out: dict[str, Any] = {
        "screener": type(screener).__name__,
        "dev": evaluate_cases(screener, cases),
    }
    if amazon:
        if benign is None:
            from training.loaders import load_amazon_listings

            benign = load_amazon_listings()
        out["amazon"] = evaluate_amazon(screener, heldout_amazon(bundle, benign))
    return out


def write_json(result: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2))
