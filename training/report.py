"""Write an evaluation report folder: report.json, report.md and PNG plots (matplotlib Agg).

The Markdown is the human page (targets first, then the side-by-side comparison, per tactic,
the worst misses); report.json holds every number; the plots are what the notebook shows.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

PLOTS = ("pr_curves.png", "reliability.png", "per_tactic.png")
LABELS = {
    "model": "RecallGuard model",
    "exact_match": "exact normalised match",
    "rapidfuzz": "rapidfuzz token_set_ratio",
    "minilm_faiss": "plain MiniLM + FAISS",
}


def _cell(text: Any, width: int = 80) -> str:
    s = " ".join(str(text).split()).replace("|", "\\|")
    return s if len(s) <= width else s[: width - 1] + "…"


def _pct(rate: dict[str, Any]) -> str:
    return f"{rate['rate']:.3f}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return [*lines, ""]


def _targets(report: dict[str, Any]) -> list[str]:
    rows = []
    for row in report["targets"]["model"]:
        rows.append(
            [
                row["label"],
                f"{row['value']:.4f}",
                f"{row['op']} {row['bound']}",
                "**met**" if row["met"] else "**NOT met**",
            ]
        )
    met = sum(r["met"] for r in report["targets"]["model"])
    head = [f"Model meets {met} of {len(report['targets']['model'])} targets.", ""]
    return head + _table(["target", "value", "bound", "status"], rows)


def _systems(report: dict[str, Any]) -> list[str]:
    rows = []
    for name, s in report["systems"].items():
        met = sum(r["met"] for r in report["targets"][name])
        a, b = s["attacked"], s["benign"]
        rows.append(
            [
                LABELS.get(name, name),
                _pct(a["recall_review"]),
                _pct(a["recall_block"]),
                _pct(a["review_same_product"]),
                _pct(a["review_in_candidates"]),
                _pct(b["fpr_block"]),
                _pct(b["flagged_review_or_block"]),
                f"{s['pr_auc']:.3f}",
                f"{s['brier']:.4f}",
                f"{s['ece']:.4f}",
                f"{s['thresholds']['block']:.3f} / {s['thresholds']['review']:.3f}",
                f"{met}/{len(report['targets'][name])}",
            ]
        )
    header = [
        "system", "recall @review", "recall @block", "@review, repeat notices ok",
        "@review, in candidates", "benign FPR @block",
        "benign reaching review", "PR-AUC", "Brier", "ECE", "block / review cut", "targets met",
    ]  # fmt: skip
    return _table(header, rows)


def _tactics(report: dict[str, Any]) -> list[str]:
    systems = report["systems"]
    model = systems["model"]["per_tactic"]
    others = [n for n in systems if n != "model"]
    rows = []
    for tactic, r in model.items():
        row = [tactic, str(r["recall_review"]["n"]), _pct(r["recall_block"]),
               _pct(r["recall_review"]), _pct(r["review_in_candidates"])]  # fmt: skip
        row += [_pct(systems[n]["per_tactic"][tactic]["recall_review"]) for n in others]
        rows.append(row)
    header = ["tactic", "n", "model @block", "model @review", "model @review, in candidates"]
    header += [f"{LABELS.get(n, n)} @review" for n in others]
    return _table(header, rows)


def _misses(report: dict[str, Any]) -> list[str]:
    rows = [
        [
            m["tactic"],
            _cell(m["title"], 70),
            _cell(f"{m['true_entry']}: {m['true_name']}", 60),
            _cell(f"{m['top_entry']}: {m['top_name']}", 60) if m["top_entry"] else "(none)",
            f"{m['p_true']:.3f}",
            f"{m['p_top']:.3f}",
        ]
        for m in report["worst_misses"]
    ]
    header = ["tactic", "listing", "true recall", "model's top match", "p(true)", "p(top)"]
    return _table(header, rows) if rows else ["No misses.", ""]


def _alarms(report: dict[str, Any]) -> list[str]:
    rows = [
        [
            _cell(a["title"], 70),
            _cell(f"{a['top_entry']}: {a['top_name']}", 60),
            f"{a['p_top']:.3f}",
            a["decision"],
        ]
        for a in report["false_alarms"]
    ]
    return _table(["benign listing", "top match", "p", "decision"], rows)


def markdown(report: dict[str, Any]) -> str:
    from training.report_realworld import markdown as realworld_markdown

    c = report["counts"]
    real = report.get("realworld")
    lines = [
        f"# Evaluation report: bundle {report['bundle']['version']}",
        "",
        *(realworld_markdown(real) if real else ["Real listings: not measured in this run.", ""]),
        "## Synthetic attack suite",
        "",
        f"Created {report['created']} on held-out data only: {c['attacked_listings']} attacked "
        f"listings of {c['test_entries']} test-split recalls (every tactic, attack seed "
        f"{report['attack_seed']}; the build used seed {report['build_seed']}) and "
        f"{c['benign_listings']} test-split real Amazon listings as benign negatives"
        + (f" (sampled: about {report['sample']} of each kind)." if report["sample"] else "."),
        "A hit needs the correct recall as the top match. Baseline cut-offs were tuned on "
        f"{c['tuning_listings']} validation-split listings with the model's own threshold rule.",
        "",
        "### Targets (synthetic suite)",
        "",
        *_targets(report),
        "### Model vs baselines (same listings, same run)",
        "",
        *_systems(report),
        "### Recall per tactic (correct recall)",
        "",
        *_tactics(report),
        "### Plots",
        "",
        *[f"![{p}]({p})" for p in PLOTS],
        "",
        f"### Worst misses (model, {len(report['worst_misses'])} shown)",
        "",
        *_misses(report),
        "### Highest-scored benign listings (model)",
        "",
        *_alarms(report),
        "### Definitions",
        "",
        "- recall @block / @review: share of attacked listings whose top candidate is the "
        "recall they disguise and whose score reaches that threshold.",
        "- @review, repeat notices ok: as recall @review, but the top match may also be another "
        "notice for the identical product (same normalised brand and product name; "
        f"{c['entries_with_repeat_notices']} of {c['blocklist_entries']} blocklist entries have "
        "one). Secondary only: the targets use the strict count.",
        "- @review, in candidates: the listing reaches review and the true recall is among the "
        "(up to 5) candidates the verdict lists for the reviewer.",
        "- benign reaching review: share of benign listings at review *or* block (the stricter "
        "reading of the 5% target); the share at review only is in report.json.",
        "- PR curve: listings ranked by top score; a flag on the wrong recall counts as a false "
        "positive, and recall is over all attacked listings.",
        "- Brier and ECE use outcome = top candidate is the correct recall; ECE over 15 "
        "equal-width bins weighted by count. Baseline scores are raw similarities, not "
        "probabilities, so their Brier/ECE only show they are uncalibrated.",
        f"- Timings (s): {report['timings_s']}; model {report['model_listings_per_s']} "
        "listings/s including candidate search.",
        "",
    ]
    return "\n".join(lines)


def _plot_pr(report: dict[str, Any], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(6, 5))
    for k, (name, s) in enumerate(report["systems"].items()):
        curve = s["pr_curve"]
        label = f"{LABELS.get(name, name)} (AP {s['pr_auc']:.3f})"
        # Start at recall 0 with the first precision, as step plots of PR curves do.
        recall = [0.0, *curve["recall"]]
        precision = curve["precision"][:1] + curve["precision"]
        ax.step(recall, precision, where="pre", label=label, color=f"C{k}")
        for point, marker in (("block", "s"), ("review", "o")):
            op = s["operating_points"][point]
            ax.plot(op["recall"], op["precision"], marker, color=f"C{k}", mfc="white")
    ax.set(xlabel="recall (correct recall)", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02))
    ax.set_title("Precision-recall, held out (square: block, circle: review)", fontsize=10)
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _plot_reliability(report: dict[str, Any], path: Path) -> None:
    bins = report["systems"]["model"]["reliability"]
    fig, (ax, hist) = plt.subplots(2, 1, figsize=(6, 6), height_ratios=(3, 1), sharex=True)
    filled = [b for b in bins if b["count"]]
    ax.plot([0, 1], [0, 1], "k--", lw=1, label="perfect calibration")
    ax.plot([b["mean_confidence"] for b in filled], [b["observed_rate"] for b in filled], "o-",
            label=f"model (ECE {report['systems']['model']['ece']:.4f})")  # fmt: skip
    ax.set(ylabel="observed share correct", ylim=(0, 1))
    ax.set_title(f"Reliability diagram ({len(bins)} equal-width bins)")
    ax.legend(loc="upper left", fontsize=8)
    width = bins[0]["upper"] - bins[0]["lower"]
    hist.bar([b["lower"] for b in bins], [b["count"] for b in bins], width=width, align="edge")
    hist.set(xlabel="stated probability", ylabel="listings", yscale="log", xlim=(0, 1))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _plot_tactics(report: dict[str, Any], path: Path) -> None:
    systems = report["systems"]
    tactics = list(systems["model"]["per_tactic"])
    fig, ax = plt.subplots(figsize=(11, 5.5))
    width = 0.8 / (len(systems) + 1)
    for k, (name, s) in enumerate(systems.items()):
        values = [s["per_tactic"][t]["recall_review"]["rate"] for t in tactics]
        ax.bar([i + k * width for i in range(len(tactics))], values, width,
               label=f"{LABELS.get(name, name)} @review")  # fmt: skip
    block = [systems["model"]["per_tactic"][t]["recall_block"]["rate"] for t in tactics]
    ax.bar([i + len(systems) * width for i in range(len(tactics))], block, width,
           label="RecallGuard model @block", hatch="//", color="white", edgecolor="C0")  # fmt: skip
    ax.axhline(0.95, color="k", ls="--", lw=1, label="review target 0.95")
    ax.axhline(0.85, color="grey", ls=":", lw=1, label="block target 0.85")
    ax.set_xticks([i + 0.4 for i in range(len(tactics))], tactics, rotation=35, ha="right")
    ax.set(ylabel="recall (correct recall)", ylim=(0, 1.05))
    ax.set_title("Recall of attacked variants per tactic")
    ax.legend(fontsize=7, ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.32))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_report(report: dict[str, Any], out: Path) -> Path:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=2))
    (out / "report.md").write_text(markdown(report))
    _plot_pr(report, out / PLOTS[0])
    _plot_reliability(report, out / PLOTS[1])
    _plot_tactics(report, out / PLOTS[2])
    return out
