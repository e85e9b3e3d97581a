"""`recallguard screen --workers N`: screener processes, one per core, answers in input order."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from model.matching.bundle import Bundle
from model.matching.cascade import GateStage, bundle_gate_threshold
from model.schema import Listing
from training import screen_pool
from training.cli import main


def _write(path: Path, listings: list[Listing]) -> Path:
    path.write_text("".join(json.dumps(x.to_dict()) + "\n" for x in listings))
    return path


@pytest.mark.slow
def test_worker_processes_write_what_one_process_writes(
    tiny_bundle_path: Path, amazon: list[Listing], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One torch thread here as in each worker, so both sides do the same arithmetic.
    monkeypatch.setenv("RECALLGUARD_TORCH_THREADS", "1")
    planted = Listing(title="TooyBing Wooden Bead Stacking Toys", listing_id="L-tooy")
    rows = [*amazon[:150], planted, *amazon[150:300]]
    source = _write(tmp_path / "in.jsonl", rows)
    outs = {}
    for workers in ("1", "2"):
        out = tmp_path / f"out-{workers}.jsonl"
        code = main(["screen", "--input", str(source), "--output", str(out), "--quiet",
                     "--model", str(tiny_bundle_path), "--batch-size", "40",
                     "--workers", workers])  # fmt: skip
        assert code == 0
        outs[workers] = out.read_text().splitlines()
    assert outs["1"] == outs["2"]  # every verdict, byte for byte, in input order
    verdicts = [json.loads(line) for line in outs["2"]]
    assert [v["listing_id"] for v in verdicts] == [x.listing_id for x in rows]
    assert verdicts[150]["decision"] != "allow"


def test_a_worker_screens_with_the_bundles_gated_pipeline(
    tiny_bundle_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # `_start` sets it; restored after the test
    screen_pool._start(str(tiny_bundle_path), 1)  # what each worker process runs first
    screener = screen_pool._SCREENER
    assert screener is not None and isinstance(screener.gate, GateStage)
    assert screener.gate.threshold == bundle_gate_threshold(Bundle.load(tiny_bundle_path))


def _pools() -> list[int]:
    from threadpoolctl import threadpool_info

    return [p["num_threads"] for p in threadpool_info()]


@pytest.mark.slow
def test_a_worker_keeps_every_thread_pool_to_its_share_of_the_cores(
    tiny_bundle_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Idle BLAS/OpenMP threads beyond a worker's share would spin beside torch's and the other
    # worker's. No thread variables set, as for a user running `recallguard screen`: the worker
    # sets its own before NumPy, torch or scikit-learn load (`_start`).
    for name in [k for k in os.environ if k.endswith("_NUM_THREADS")]:
        monkeypatch.delenv(name)
    with screen_pool.ScreenPool(str(tiny_bundle_path), 2) as pool:
        pools = pool._pool.submit(_pools).result()
    assert pools and set(pools) == {1}, pools


@pytest.mark.parametrize("workers", ["0", "-3"])
def test_workers_must_be_at_least_one(
    workers: str, tiny_bundle_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _write(tmp_path / "in.jsonl", [Listing(title="Lego Duplo Zoo")])
    code = main(["screen", "--input", str(source), "--output", str(tmp_path / "o.jsonl"),
                 "--model", str(tiny_bundle_path), "--workers", workers])  # fmt: skip
    assert code == 2
    assert f"--workers must be at least 1, got {workers}" in capsys.readouterr().err


@pytest.mark.slow
def test_a_damaged_bundle_is_named_before_workers_start(
    tiny_bundle_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    damaged = tmp_path / "bundle"
    shutil.copytree(tiny_bundle_path, damaged)
    (damaged / "config.json").write_text("{}")
    source = _write(tmp_path / "in.jsonl", [Listing(title=f"toy {i}") for i in range(3)])
    code = main(["screen", "--input", str(source), "--output", str(tmp_path / "o.jsonl"),
                 "--model", str(damaged), "--workers", "2"])  # fmt: skip
    assert code == 2
    assert "config.json" in capsys.readouterr().err
