"""The before/after check of a restructure (benchmarks/same_verdicts.py) on the tiny bundle.

Issue 14's "behaviour is unchanged" is measured by running that script once on the old code and
once on the new and comparing (README, the commit that records the comparison). Here the tool
itself is held to its contract: two runs of the same code write identical verdicts for the
held-out evaluation split and the real-listing set, on both the plain and the served screener,
and the comparison reports a changed verdict as a difference.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "same_verdicts.py"


@pytest.fixture(scope="module")
def tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("same_verdicts", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_two_runs_agree_and_a_changed_verdict_is_reported(
    tool: ModuleType, tiny_bundle_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    assert (
        tool.main(["--bundle", str(tiny_bundle_path), "--out", str(first), "--sample", "16"]) == 0
    )
    assert (
        tool.main(["--bundle", str(tiny_bundle_path), "--out", str(second), "--sample", "16"]) == 0
    )
    rows = [json.loads(line) for line in first.read_text().splitlines()]
    assert {r["path"] for r in rows} == {"plain", "served"}
    per_path = len(rows) // 2
    assert per_path > 121  # the held-out sample plus every real-listing case
    assert {r["decision"] for r in rows} >= {"allow", "block"}
    assert tool.main(["--compare", str(first), str(second)]) == 0
    assert f"{len(rows)} verdicts compared: 0 differ" in capsys.readouterr().out

    changed = [dict(r) for r in rows]
    flip = next(i for i, r in enumerate(changed) if r["decision"] == "allow")
    changed[flip]["decision"] = "block"
    second.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in changed))
    assert tool.main(["--compare", str(first), str(second)]) == 1
    assert "1 differ (1 in decision)" in capsys.readouterr().out
