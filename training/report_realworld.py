"""The real-listing part of the evaluation report: targets, per-kind tables, misses, false alarms.

It leads `report.md` and is what `recallguard evaluate --realworld-only` prints. Targets are the
ones issue 10 fixed before any result was seen ("Done when"); the test half is the one that
counts, since thresholds and design choices may be tuned on the tune half.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

from training.realworld import HALVES


@dataclass(frozen=True)
class RealTarget:
    """`path` into the real-listing result, compared with `bound` by `op` (">=" or "<=")."""

    key: str
    label: str
    path: tuple[str, ...]
    op: str
    bound: float

    def value(self, result: dict[str, Any]) -> float | None:
        node: Any = result
        for part in self.path:
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        return None if node is None else float(node)

    def met(self, value: float | None) -> bool | None:
        if value is None:
            return None
        return value >= self.bound if self.op == ">=" else value <= self.bound


REAL_TARGETS = (
    RealTarget("test_flagged", "dev test half: positives flagged (right recall in top 3)",
               ("dev", "halves", "test", "positives", "flagged", "rate"), ">=", 0.85),
    RealTarget("test_blocked", "dev test half: positives blocked (right recall)",
               ("dev", "halves", "test", "positives", "blocked", "rate"), ">=", 0.50),
    RealTarget("test_benign_blocked", "dev test half: benign blocked",
               ("dev", "halves", "test", "benign", "blocked", "rate"), "<=", 0.0),
    RealTarget("test_benign_reviewed", "dev test half: benign sent to review",
               ("dev", "halves", "test", "benign", "reviewed", "rate"), "<=", 0.10),
    RealTarget("all_flagged", "whole dev set: positives flagged",
               ("dev", "halves", "all", "positives", "flagged", "rate"), ">=", 0.90),
    RealTarget("all_blocked", "whole dev set: positives blocked",
               ("dev", "halves", "all", "positives", "blocked", "rate"), ">=", 0.60),
    RealTarget("amazon_blocked", "held-out Amazon UK listings blocked",
               ("amazon", "blocked", "rate"), "<=", 0.001),
    RealTarget("amazon_reviewed", "held-out Amazon UK listings sent to review",
               ("amazon", "reviewed", "rate"), "<=", 0.02),
)  # fmt: skip
SCOPE_LABELS = {"tune": "tune half", "test": "test half", "all": "whole set"}


def real_targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per target: label, value (None when not measured), bound, met."""
    rows = []
    for t in REAL_TARGETS:
        value = t.value(result)
        rows.append({"key": t.key, "label": t.label, "op": t.op, "bound": t.bound,
                     "value": value, "met": t.met(value)})  # fmt: skip
    return rows


def _esc(text: Any, width: int = 80) -> str:
    """Seller text is hostile: HTML-escaped, one line, pipes escaped, cut to `width`."""
    s = " ".join(str(text).split())
    s = s if len(s) <= width else s[: width - 1] + "…"
    return html.escape(s).replace("|", "\\|")


def _pct(rate: dict[str, Any] | None) -> str:
    if not rate or rate.get("rate") is None:
        return "–"
    return f"{100 * rate['rate']:.1f}% ({rate['hits']}/{rate['n']})"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return [*lines, *("| " + " | ".join(r) + " |" for r in rows), ""]


def targets_md(result: dict[str, Any]) -> list[str]:
    rows = []
    for r in real_targets(result):
        value = "not measured" if r["value"] is None else f"{r['value']:.4f}"
        status = {True: "**met**", False: "**NOT met**", None: "–"}[r["met"]]
        rows.append([r["label"], value, f"{r['op']} {r['bound']}", status])
    return _table(["target", "value", "bound", "status"], rows)


def positives_md(result: dict[str, Any]) -> list[str]:
    """Flagged and blocked per kind, for the tune half, the test half and the whole set."""
    halves = result["dev"]["halves"]
    kinds = [k for k, v in halves["all"]["per_kind"].items() if "flagged" in v]
    header = ["kind"]
    for scope in halves:
        header += [f"n ({SCOPE_LABELS[scope]})", "flagged", "blocked"]
    rows = []
    for kind in [*kinds, None]:
        row = ["**all positives**" if kind is None else kind]
        for summary in halves.values():
            node = summary["positives"] if kind is None else summary["per_kind"].get(kind)
            if node is None:
                row += ["0", "–", "–"]
                continue
            row += [str(node["n"]), _pct(node["flagged"]), _pct(node["blocked"])]
        rows.append(row)
    wrong = ", ".join(f"{SCOPE_LABELS[s]} {h['positives']['wrong_block']}"
                      for s, h in halves.items())  # fmt: skip
    return [*_table(header, rows), f"Blocked on a wrong recall: {wrong}.", ""]


def benign_md(result: dict[str, Any]) -> list[str]:
    halves = result["dev"]["halves"]
    rows = []
    for scope, summary in halves.items():
        b = summary["benign"]
        rows.append([SCOPE_LABELS[scope], str(b["n"]), _pct(b["blocked"]), _pct(b["reviewed"]),
                     _pct(b["allowed"])])  # fmt: skip
    return _table(["benign look-alikes", "n", "blocked", "reviewed", "allowed"], rows)


def amazon_md(result: dict[str, Any]) -> list[str]:
    a = result.get("amazon")
    if not a:
        return ["Held-out Amazon listings: not measured in this run.", ""]
    lines = [
        f"{a['n']} held-out real Amazon UK toy listings (the bundle's test split, never trained "
        f"on): blocked {_pct(a['blocked'])}, sent to review {_pct(a['reviewed'])}.",
        "",
    ]
    if a["flagged"]:
        rows = [[_esc(f["title"], 70), f["decision"], f"{f['probability']:.3f}",
                 _esc(f"{f['match']}: {f['match_name']}", 60)] for f in a["flagged"]]  # fmt: skip
        lines += _table(["held-out listing not allowed", "decision", "p", "match"], rows)
    return lines


def misses_md(result: dict[str, Any], scope: str = "test") -> list[str]:
    """Positives of `scope` not flagged, and benign cases of `scope` not allowed."""
    members = set(
        result["dev"]["split"].get(scope) or [c["case_id"] for c in result["dev"]["cases"]]
    )
    rows = []
    for c in result["dev"]["cases"]:
        if c["case_id"] not in members:
            continue
        bad = (c["expected"] and not c["flagged"]) or (
            not c["expected"] and c["decision"] in ("block", "review")
        )
        if bad:
            p = "-" if c["probability"] is None else f"{c['probability']:.3f}"
            rows.append([c["case_id"], c["kind"], str(c["decision"]), p,
                         ", ".join(c["expected"]) or "(benign)", ", ".join(c["shown"]) or "–",
                         _esc(c["title"], 70)])  # fmt: skip
    if not rows:
        return [f"No misses in the {SCOPE_LABELS[scope]}.", ""]
    header = ["case", "kind", "decision", "p", "expected", "shown (match, top 3)", "title"]
    return _table(header, rows)


def markdown(result: dict[str, Any]) -> list[str]:
    """The whole real-listing section (its own headings at level 2)."""
    dev = result["dev"]
    n_pos = dev["halves"]["all"]["positives"]["n"]
    n_ben = dev["halves"]["all"]["benign"]["n"]
    halves = ", ".join(
        f"{SCOPE_LABELS[h]} {dev['halves'][h]['positives']['n']} positives + "
        f"{dev['halves'][h]['benign']['n']} benign"
        for h in HALVES
    )
    return [
        "## Real listings first",
        "",
        f"`data/realworld-dev/`: {n_pos} listings of recalled products written the way sellers "
        f"really list them and {n_ben} benign look-alikes ({halves}; split by recall, "
        "`training/realworld.py`). Thresholds may be tuned on the tune half; the test half is "
        f"the figure that counts. Screened with `{result['screener']}` (what the service uses), "
        "scored by the rules of `data/realworld-dev/score.py`: *flagged* = block or review with "
        "an expected recall as the match or in the first 3 candidates; *blocked* = block with an "
        "expected recall as the match.",
        "",
        "### Targets on real listings",
        "",
        *targets_md(result),
        "### Positives per kind",
        "",
        *positives_md(result),
        "### Benign look-alikes",
        "",
        *benign_md(result),
        "### Held-out real Amazon listings",
        "",
        *amazon_md(result),
        "### Test-half misses and false alarms",
        "",
        *misses_md(result, "test"),
    ]
