"""API keys (hash-only storage, roles, env keys, dev key) and the review CLI commands."""

from __future__ import annotations

import argparse
import hashlib
import json
import stat
from pathlib import Path

import pytest

from service.auth import KeyConfigError, KeyStore, Principal, parse_env_keys
from service.review import ReviewQueue
from service.review.cli import register
from tests.fakes import make_listing, make_verdict


def test_created_keys_are_stored_as_hashes_only(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys.json")
    key = store.create_key("reviewer", "alice")
    text = (tmp_path / "keys.json").read_text()
    assert key not in text
    assert hashlib.sha256(key.encode()).hexdigest() in text
    assert stat.S_IMODE((tmp_path / "keys.json").stat().st_mode) == 0o600
    assert store.authenticate(f"Bearer {key}") == Principal("alice", "reviewer")
    assert store.authenticate(key) == Principal("alice", "reviewer")
    assert store.authenticate("Bearer " + key[:-1]) is None
    assert store.authenticate("") is None and store.authenticate(None) is None
    with pytest.raises(KeyConfigError, match="exists already"):
        store.create_key("admin", "alice")
    with pytest.raises(KeyConfigError, match="role"):
        store.create_key("root", "bob")


def test_keys_made_elsewhere_are_picked_up(tmp_path: Path) -> None:
    serving = KeyStore(tmp_path / "keys.json")
    assert serving.authenticate("nope") is None
    key = KeyStore(tmp_path / "keys.json").create_key("admin", "ops")  # e.g. the CLI
    principal = serving.authenticate(key)
    assert principal is not None and principal.has("reviewer") and principal.has("screen")


def test_env_keys(tmp_path: Path) -> None:
    digest = hashlib.sha256(b"platform-secret").hexdigest()
    env = f"screen:platform:sha256:{digest}, reviewer:bob:bob-secret-123"
    store = KeyStore(tmp_path / "missing.json", env)
    platform = store.authenticate("Bearer platform-secret")
    assert platform == Principal("platform", "screen") and not platform.has("reviewer")
    assert store.authenticate("bob-secret-123") == Principal("bob", "reviewer")
    assert store.ensure_dev_key() is None  # keys exist: no dev key
    for bad in ("reviewer:bob", "boss:bob:x", "screen:p:sha256:xyz"):
        with pytest.raises(KeyConfigError):
            parse_env_keys(bad)


def test_dev_key_is_made_once_and_random(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "home" / "keys.json")
    path = store.ensure_dev_key()
    assert path is not None and stat.S_IMODE(path.stat().st_mode) == 0o600
    key = path.read_text().strip()
    assert len(key) > 30
    principal = store.authenticate(key)
    assert principal is not None and principal.role == "admin"
    assert store.ensure_dev_key() is None
    other = KeyStore(tmp_path / "elsewhere" / "keys.json").ensure_dev_key()
    assert other is not None and other.read_text() != path.read_text()


def run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="recallguard")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


def test_cli_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RECALLGUARD_DATA_HOME", str(tmp_path))
    monkeypatch.delenv("RECALLGUARD_KEYS_FILE", raising=False)
    monkeypatch.delenv("RECALLGUARD_API_KEYS", raising=False)
    assert run_cli(["keys", "create", "--role", "reviewer", "--name", "carol"]) == 0
    key = capsys.readouterr().out.strip()
    assert KeyStore(tmp_path / "keys.json").authenticate(key) == Principal("carol", "reviewer")
    assert run_cli(["keys", "list"]) == 0
    listing = capsys.readouterr().out
    assert "carol" in listing and key not in listing
    assert run_cli(["keys", "create", "--role", "reviewer", "--name", "carol"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("recallguard: error:") and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_cli_export_labels(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'review.sqlite3'}"
    queue = ReviewQueue(url)
    item_id, _ = queue.enqueue(make_listing(), make_verdict())
    queue.decide(item_id, "alice", "confirm")
    queue.close()
    out = tmp_path / "pairs.jsonl"
    assert run_cli(["export-labels", "--since", "2000-01-01", "--out", str(out), "--db", url]) == 0
    [row] = [json.loads(line) for line in out.read_text().splitlines()]
    assert row["label"] == 1 and row["entry"] == {"entry_id": "cpsc-10917"}
    missing = f"sqlite:///{tmp_path / 'nope.sqlite3'}"
    code = run_cli(["export-labels", "--since", "2025-01-01", "--out", str(out), "--db", missing])
    err = capsys.readouterr().err
    assert code == 2 and "no review database" in err and "Traceback" not in err
    assert not (tmp_path / "nope.sqlite3").exists()
    with pytest.raises(SystemExit) as bad_date:
        run_cli(["export-labels", "--since", "last tuesday", "--out", str(out)])
    assert bad_date.value.code == 2


def test_keys_expire_and_can_be_revoked(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    store = KeyStore(tmp_path / "keys.json")
    soon = datetime.now(UTC) + timedelta(seconds=2)
    key = store.create_key("reviewer", "temp", expires_at=soon)
    assert store.authenticate(key) == Principal("temp", "reviewer")
    record = next(r for r in store.records() if r.name == "temp")
    assert record.expires_at and record.status(soon + timedelta(seconds=1)) == "expired"
    with pytest.raises(KeyConfigError, match="not in the future"):
        store.create_key("reviewer", "past", expires_at=datetime(2000, 1, 1))
    rita = store.create_key("reviewer", "rita")
    serving = KeyStore(tmp_path / "keys.json")  # another process sees the revocation
    assert serving.authenticate(rita) is not None
    store.revoke("rita")
    assert serving.authenticate(rita) is None and store.authenticate(rita) is None
    with pytest.raises(KeyConfigError, match="no live key"):
        store.revoke("rita")
    rotated = store.create_key("reviewer", "rita")  # the name can get a new key
    assert serving.authenticate(rotated) == Principal("rita", "reviewer")
    env_store = KeyStore(tmp_path / "keys.json", "screen:platform:platform-secret")
    with pytest.raises(KeyConfigError, match="RECALLGUARD_API_KEYS"):
        env_store.revoke("platform")


def test_cli_keys_revoke_and_expiry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RECALLGUARD_DATA_HOME", str(tmp_path))
    monkeypatch.delenv("RECALLGUARD_KEYS_FILE", raising=False)
    monkeypatch.delenv("RECALLGUARD_API_KEYS", raising=False)
    argv = ["keys", "create", "--role", "screen", "--name", "shop", "--expires", "2999-01-31"]
    assert run_cli(argv) == 0
    key = capsys.readouterr().out.strip()
    assert KeyStore(tmp_path / "keys.json").authenticate(key) == Principal("shop", "screen")
    assert run_cli(["keys", "list"]) == 0
    listing = capsys.readouterr().out
    assert "2999-01-31" in listing and "live" in listing
    assert run_cli(["keys", "revoke", "shop"]) == 0
    assert KeyStore(tmp_path / "keys.json").authenticate(key) is None
    assert run_cli(["keys", "list"]) == 0
    assert "revoked" in capsys.readouterr().out
    assert run_cli(["keys", "revoke", "nobody"]) == 2
    assert "no live key" in capsys.readouterr().err
