"""The import-linter layer contracts (pyproject.toml) hold, and `lint-imports` fails on a break.

`make lint` runs the same `lint-imports`; this test shows it is not a check that cannot fail by
breaking each layer in a throw-away copy of the packages.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
pytestmark = pytest.mark.skipif(not LINT_IMPORTS.exists(), reason="import-linter not installed")


def _copy(tmp_path: Path) -> Path:
    for pkg in ("model", "service", "training"):
        shutil.copytree(ROOT / pkg, tmp_path / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=root, env=env, capture_output=True, text=True
    )


def test_the_tree_keeps_its_layers(tmp_path: Path) -> None:
    done = _lint(_copy(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 kept, 0 broken" in done.stdout


@pytest.mark.parametrize(
    ("module", "bad_import", "contract"),
    [
        ("model/matching/verdict.py", "import training.loaders", "model imports neither"),
        ("model/runtime/sweep.py", "import service.auth", "model imports neither"),
        ("service/live_screening.py", "import training.importers.manual", "service never imports"),
        ("training/evaluate.py", "import service.schemas", "only the command line"),
    ],
)
def test_a_layer_break_fails(tmp_path: Path, module: str, bad_import: str, contract: str) -> None:
    root = _copy(tmp_path)
    path = root / module
    path.write_text(path.read_text() + f"\n{bad_import}  # noqa\n")
    done = _lint(root)
    assert done.returncode != 0
    assert f"{contract}" in done.stdout and "BROKEN" in done.stdout, done.stdout
