"""The one Settings object: defaults, errors that name the variable, and the README table."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from model.settings import BUNDLED_DATA_DIR, TABLE_BEGIN, TABLE_END, Settings, SettingsError

ROOT = Path(__file__).resolve().parents[1]
ENV_NAME = re.compile(r"\bRECALLGUARD_[A-Z][A-Z0-9_]*[A-Z0-9]\b")


def test_defaults_from_an_empty_environment() -> None:
    s = Settings.from_env({})
    assert s.data_home == Path.home() / ".recallguard"
    assert s.keys_file == s.data_home / "keys.json"
    assert s.review_db_url.endswith("/.recallguard/review.sqlite3")
    assert s.review_db_url.startswith("sqlite:///")
    assert s.data_dir == BUNDLED_DATA_DIR == ROOT / "data"
    assert (s.bundle, s.precision, s.torch_threads, s.embedding_cache) == (
        None,
        "auto",
        None,
        20000,
    )
    assert (s.review_lease_seconds, s.takedown_webhook_url, s.port) == (300, None, 3000)
    assert s.max_body_bytes == 4 * 1024 * 1024


def test_data_home_moves_everything_under_it(tmp_path: Path) -> None:
    s = Settings.from_env(
        {"RECALLGUARD_DATA_HOME": str(tmp_path), "RECALLGUARD_TORCH_THREADS": "2"}
    )
    assert s.keys_file == tmp_path / "keys.json"
    assert s.review_db_url == f"sqlite:///{tmp_path.resolve() / 'review.sqlite3'}"
    assert s.torch_threads == 2
    # an explicit value wins over the data-home default; blank counts as unset
    s = Settings.from_env({"RECALLGUARD_KEYS_FILE": "/k.json", "RECALLGUARD_BUNDLE": "  "})
    assert (s.keys_file, s.bundle) == (Path("/k.json"), None)


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("RECALLGUARD_PRECISION", "fp8", "auto, bf16 or fp32"),
        ("RECALLGUARD_TORCH_THREADS", "two", "whole number"),
        ("RECALLGUARD_EMBEDDING_CACHE", "-1", "0 or more"),
        ("RECALLGUARD_REVIEW_LEASE_SECONDS", "0", "positive"),
        ("RECALLGUARD_REVIEW_LEASE_SECONDS", "5m", "whole number"),
        ("RECALLGUARD_TAKEDOWN_WEBHOOK_URL", "ftp://x", "http"),
        ("PORT", "eighty", "whole number"),
        ("RECALLGUARD_MAX_BODY_BYTES", "0", "positive"),
        ("RECALLGUARD_MAX_BODY_BYTES", "4MB", "whole number"),
    ],
)
def test_bad_values_name_the_variable_and_the_value(name: str, value: str, expected: str) -> None:
    with pytest.raises(SettingsError, match=rf"{name} must be .*{re.escape(expected)}") as err:
        Settings.from_env({name: value})
    assert value in str(err.value)


def test_secrets_stay_out_of_repr() -> None:
    s = Settings.from_env(
        {"RECALLGUARD_API_KEYS": "admin:a:hunter2", "RECALLGUARD_TAKEDOWN_WEBHOOK_TOKEN": "tok-9"}
    )
    assert s.api_keys == "admin:a:hunter2"
    assert "hunter2" not in repr(s) and "tok-9" not in repr(s)


def test_readme_table_is_generated_from_settings() -> None:
    readme = (ROOT / "README.md").read_text()
    start, end = readme.index(TABLE_BEGIN), readme.index(TABLE_END) + len(TABLE_END)
    assert readme[start:end] == Settings.table(), "run `python -m model.settings` into README.md"


def test_every_variable_the_code_mentions_is_declared() -> None:
    declared = {env for _, env, _, _ in Settings.variables()}
    mentioned: dict[str, str] = {}
    for folder in ("model", "service", "training", "notebooks", "benchmarks"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in (".py", ".ipynb", ".yaml") and path.is_file():
                for name in ENV_NAME.findall(path.read_text(encoding="utf-8")):
                    mentioned.setdefault(name, str(path.relative_to(ROOT)))
    undeclared = {n: where for n, where in mentioned.items() if n not in declared}
    assert not undeclared, f"declare these in model/settings.py: {undeclared}"


def test_only_settings_reads_recallguard_variables() -> None:
    reader = re.compile(r"(environ(\.get)?|getenv)\(?\[?\s*[\"']RECALLGUARD_")
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("model", "service", "training")
        for path in (ROOT / folder).rglob("*.py")
        if path.name != "settings.py" and reader.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_service_declares_its_environment_instead_of_writing_it() -> None:
    source = (ROOT / "service" / "service.py").read_text()
    assert "os.environ" not in source
    from service.service import RecallGuard

    envs = {e.name: e.value for e in RecallGuard.envs}
    assert envs["OMP_NUM_THREADS"] == "1" and envs["RECALLGUARD_TORCH_THREADS"] == "1"
