"""A proper Bento: `bentoml build` packs the service with its declared bundle, and
`bentoml serve` of that Bento screens a listing offline, from outside the source tree."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import httpx
import pytest
import yaml

from tests.fakes import stop, wait_ready
from tests.test_serve import free_port

ROOT = Path(__file__).resolve().parents[1]
BENTOML = [sys.executable, "-m", "bentoml"]


@pytest.mark.unit
def test_bentofile_packages_are_pyprojects_dependencies() -> None:
    bentofile = yaml.safe_load((ROOT / "bentofile.yaml").read_text())
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    packages = bentofile["python"]["packages"]
    assert packages[0] == "torch==2.13.0"  # the CPU wheel, pinned, as the Makefile installs
    assert packages[1:] == [d for d in deps if not d.startswith("torch")]
    assert bentofile["service"] == "service.service:RecallGuard"
    assert bentofile["python"]["lock_packages"] is False  # builds with no network


@pytest.mark.slow
def test_built_bento_serves_its_packed_bundle_offline(
    tiny_bundle_path: Path, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "RECALLGUARD_BUNDLE")}
    env.update(
        BENTOML_HOME=str(tmp_path / "bentoml"),
        RECALLGUARD_DATA_HOME=str(tmp_path / "data"),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        BENTOML_DO_NOT_TRACK="true",
    )
    # Register the tiny bundle as the store's only (so latest) recallguard model.
    register = (
        "import shutil, sys, bentoml\n"
        "with bentoml.models.create('recallguard:tiny1') as m:\n"
        "    shutil.copytree(sys.argv[1], m.path + '/bundle')\n"
    )
    subprocess.run(
        [sys.executable, "-c", register, str(tiny_bundle_path)],
        env={**env, "PYTHONPATH": str(ROOT)},
        check=True,
        timeout=300,
    )
    built = subprocess.run(
        [*BENTOML, "build", "--output", "tag"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    tag = re.search(r"__tag__:(\S+)", built.stdout)
    assert tag, built.stdout
    info = yaml.safe_load(
        subprocess.run(
            [*BENTOML, "get", tag.group(1), "-o", "yaml"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    assert [m["tag"] for m in info["services"][0]["models"]] == ["recallguard:tiny1"]

    port = free_port()
    serve = [*BENTOML, "serve", tag.group(1), "--port", str(port), "--host", "127.0.0.1"]
    proc = subprocess.Popen(
        serve, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_ready(proc, base, 240)
        r = httpx.post(
            f"{base}/screen",
            timeout=60,
            json={"listing": {"title": "TooyBing Wooden Bead Stacking Toys"}},
        )
        assert r.status_code == 200, r.text
        assert r.json()["match"]["entry_id"] == "cpsc-10917"
        info = httpx.post(f"{base}/model_info", json={}, timeout=30).json()
        assert info["entries"] > 100
    finally:
        stop(proc)
