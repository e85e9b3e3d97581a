"""API keys with roles `screen`, `reviewer` and `admin` (admin may do everything).

Keys come from two places, both optional:

- the keys file (JSON; path from ``RECALLGUARD_KEYS_FILE``, default
  ``$RECALLGUARD_DATA_HOME/keys.json``, data home default ``~/.recallguard``). It stores only
  the SHA-256 of each key with its role and name, is written atomically with mode 0600, and is
  re-read when it changes, so ``recallguard keys create`` takes effect without a restart;
- ``RECALLGUARD_API_KEYS``: entries separated by commas or whitespace, each
  ``ROLE:NAME:SECRET`` where SECRET is the key itself or ``sha256:<64 hex digits>`` of it, e.g.
  ``screen:platform:sha256:9f86d0...,reviewer:alice:rg_xxxxxxxx``.

The name of a key is who the holder is (a reviewer's decisions are recorded under it), so give
each person their own key. Plaintext keys are returned once by `create_key` and never stored,
logged or echoed. A file key may carry an expiry time (``keys create --expires``) and is
switched off for good by ``recallguard keys revoke NAME`` (kept in the file, marked revoked, so
the name can be given a new key); both take effect without a restart.

Failed keys are rate limited per client address (`limits`' moving window, default
``RECALLGUARD_FAILED_KEY_LIMIT=20/minute``): past the limit every key from that address is
refused with 429 and ``Retry-After`` until the window clears, and one warning is logged with
the address, never the key.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import logging
import math
import re
import secrets
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, cast

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from model.runtime.private_files import write_private
from model.settings import DEFAULT_FAILED_KEY_LIMIT, Settings

Role = Literal["screen", "reviewer", "admin"]
ROLES: tuple[Role, ...] = ("screen", "reviewer", "admin")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,99}$")
HEX64_RE = re.compile(r"^[0-9a-f]{64}$")
MAX_KEY_CHARS = 512
DEV_KEY_NAME = "dev-admin"
DEV_KEY_FILE = "dev-admin.key"

log = logging.getLogger(__name__)


class KeyConfigError(ValueError):
    """The keys file or RECALLGUARD_API_KEYS cannot be used; the message says why."""


class TooManyFailedKeys(Exception):
    """This client sent too many bad keys; refuse it (429) for `retry_after` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed API keys; retry in {retry_after} s")
        self.retry_after = retry_after


class FailedKeyLimiter:
    """Counts failed keys per client in a moving window (`limits`, in memory, per worker)."""

    def __init__(self, limit: str = DEFAULT_FAILED_KEY_LIMIT) -> None:
        try:
            self.item: RateLimitItem = parse(limit)
        except ValueError:
            raise KeyConfigError(
                f"RECALLGUARD_FAILED_KEY_LIMIT must look like 20/minute, got {limit!r}"
            ) from None
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def check(self, client: str) -> None:
        """Raise `TooManyFailedKeys` while `client` is over the limit."""
        if not self._limiter.test(self.item, client):
            reset = self._limiter.get_window_stats(self.item, client).reset_time
            raise TooManyFailedKeys(max(1, math.ceil(reset - time.time())))

    def failed(self, client: str) -> None:
        if not self._limiter.hit(self.item, client) or not self._limiter.test(self.item, client):
            log.warning(
                "too many failed API keys from %s (limit %s); refusing keys from it for now",
                client, self.item,
            )  # fmt: skip


@dataclass(frozen=True)
class Principal:
    name: str
    role: Role

    def has(self, role: Role) -> bool:
        return self.role == "admin" or self.role == role


@dataclass(frozen=True)
class KeyRecord:
    name: str
    role: Role
    sha256: str
    created_at: str = ""
    origin: str = "file"  # file | env
    expires_at: str = ""  # ISO time in UTC; empty: never
    revoked_at: str = ""  # ISO time in UTC; empty: live

    def public(self) -> dict[str, str]:
        """What may be shown: never the hash in full."""
        return {
            "name": self.name,
            "role": self.role,
            "created_at": self.created_at,
            "origin": self.origin,
            "fingerprint": self.sha256[:8],
            "expires_at": self.expires_at,
            "status": self.status(datetime.now(UTC)),
        }

    def status(self, now: datetime) -> str:
        """live, expired or revoked."""
        if self.revoked_at:
            return "revoked"
        if self.expires_at and datetime.fromisoformat(self.expires_at) <= now:
            return "expired"
        return "live"

    def to_json(self) -> dict[str, str]:
        data = {"name": self.name, "role": self.role, "sha256": self.sha256,
                "created_at": self.created_at}  # fmt: skip
        if self.expires_at:
            data["expires_at"] = self.expires_at
        if self.revoked_at:
            data["revoked_at"] = self.revoked_at
        return data


def _utc_iso(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).replace(microsecond=0).isoformat()


def _file_time(item: dict[str, Any], key: str, where: str) -> str:
    raw = item.get(key, "")
    if raw in ("", None):
        return ""
    try:
        return _utc_iso(datetime.fromisoformat(str(raw)))
    except ValueError:
        raise KeyConfigError(f"{where}: {key} must be an ISO time, got {raw!r}") from None


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _check(role: str, name: str, where: str) -> Role:
    if role not in ROLES:
        raise KeyConfigError(f"{where}: role must be one of {', '.join(ROLES)}, got {role!r}")
    if not NAME_RE.match(name):
        raise KeyConfigError(
            f"{where}: name must be 1-100 characters of letters, digits and ._@+- "
            f"starting with a letter or digit, got {name!r}"
        )
    return cast(Role, role)


def parse_env_keys(raw: str) -> list[KeyRecord]:
    out: list[KeyRecord] = []
    for n, entry in enumerate(re.split(r"[,\s]+", raw.strip()), start=1):
        if not entry:
            continue
        parts = entry.split(":", 2)
        where = f"RECALLGUARD_API_KEYS entry {n}"
        if len(parts) != 3 or not parts[2]:
            raise KeyConfigError(f"{where}: expected ROLE:NAME:SECRET")
        role = _check(parts[0], parts[1], where)
        secret = parts[2]
        if secret.startswith("sha256:"):
            digest = secret[len("sha256:") :].lower()
            if not HEX64_RE.match(digest):
                raise KeyConfigError(f"{where}: sha256: must be followed by 64 hex digits")
        else:
            digest = hash_key(secret)
        out.append(KeyRecord(parts[1], role, digest, origin="env"))
    return out


class KeyStore:
    def __init__(
        self,
        keys_file: Path | None,
        env_keys: str | None = None,
        *,
        failed_key_limit: str = DEFAULT_FAILED_KEY_LIMIT,
    ) -> None:
        self.keys_file = keys_file
        self.failures = FailedKeyLimiter(failed_key_limit)
        self._env = parse_env_keys(env_keys) if env_keys else []
        self._lock = threading.Lock()
        self._file_keys: list[KeyRecord] = []
        self._stamp: tuple[int, int, int] | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> KeyStore:
        return cls.from_settings(Settings.from_env(env))

    @classmethod
    def from_settings(cls, settings: Settings) -> KeyStore:
        return cls(
            settings.keys_file, settings.api_keys, failed_key_limit=settings.failed_key_limit
        )

    # -- reading ------------------------------------------------------------------------------
    def _read_file(self) -> list[KeyRecord]:
        if self.keys_file is None or not self.keys_file.exists():
            return []
        where = str(self.keys_file)
        try:
            data = json.loads(self.keys_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise KeyConfigError(f"{where}: cannot read keys file: {exc}") from None
        if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
            raise KeyConfigError(f'{where}: expected {{"version": 1, "keys": [...]}}')
        out = []
        for i, item in enumerate(data["keys"]):
            if not isinstance(item, dict) or not all(
                isinstance(item.get(k), str) for k in ("name", "role", "sha256")
            ):
                raise KeyConfigError(f"{where}: key {i} needs string name, role and sha256")
            role = _check(item["role"], item["name"], f"{where}: key {i}")
            if not HEX64_RE.match(item["sha256"]):
                raise KeyConfigError(f"{where}: key {i} sha256 is not 64 lowercase hex digits")
            at = f"{where}: key {i}"
            out.append(KeyRecord(
                item["name"], role, item["sha256"], str(item.get("created_at", "")),
                expires_at=_file_time(item, "expires_at", at),
                revoked_at=_file_time(item, "revoked_at", at),
            ))  # fmt: skip
        return out

    def _refresh(self) -> None:
        """Re-read the keys file when it changed; a broken file fails closed (logged)."""
        stamp: tuple[int, int, int] | None = None
        if self.keys_file is not None:
            try:
                st = self.keys_file.stat()
                stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
            except FileNotFoundError:
                stamp = None
        with self._lock:
            if stamp == self._stamp and (stamp is not None or not self._file_keys):
                return
            try:
                self._file_keys = self._read_file()
            except KeyConfigError as exc:
                log.error("%s; file keys disabled until it is fixed", exc)
                self._file_keys = []
            self._stamp = stamp

    def records(self) -> list[KeyRecord]:
        self._refresh()
        return [*self._file_keys, *self._env]

    def authenticate(self, header_value: str | None) -> Principal | None:
        """`Bearer <key>` or a bare key (X-API-Key) -> its principal; None when unknown."""
        if not header_value:
            return None
        value = header_value.strip()
        if value[:7].lower() == "bearer ":
            value = value[7:].strip()
        if not value or len(value) > MAX_KEY_CHARS:
            return None
        digest = hash_key(value).encode("ascii")
        now = datetime.now(UTC)
        found: KeyRecord | None = None
        for record in self.records():  # no early exit: every record is compared
            if hmac.compare_digest(digest, record.sha256.encode("ascii")) and found is None:
                found = record
        if found is None or found.status(now) != "live":
            return None
        return Principal(found.name, found.role)

    def check(self, header_value: str | None, client: str) -> Principal | None:
        """`authenticate`, rate limited per client: raises `TooManyFailedKeys` (429) once the
        client has sent too many bad keys; a bad key counts against it, a missing one not."""
        self.failures.check(client)
        principal = self.authenticate(header_value)
        if principal is None and header_value:
            self.failures.failed(client)
        return principal

    # -- writing ------------------------------------------------------------------------------
    @contextmanager
    def _file_lock(self) -> Iterator[Path]:
        if self.keys_file is None:
            raise KeyConfigError("no keys file is configured")
        path = self.keys_file
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, open(path.with_name(path.name + ".lock"), "a") as lock_handle:
            fcntl.flock(lock_handle, fcntl.LOCK_EX)
            try:
                yield path
            finally:
                fcntl.flock(lock_handle, fcntl.LOCK_UN)

    def _write(self, path: Path, records: list[KeyRecord]) -> None:
        data: dict[str, Any] = {"version": 1, "keys": [r.to_json() for r in records]}
        write_private(path, json.dumps(data, indent=2) + "\n", prefix=".keys-")

    def create_key(self, role: str, name: str, expires_at: datetime | None = None) -> str:
        """Make a new random key, store its hash; the plaintext is returned this once.

        A revoked key's name may be reused (that is how a key is rotated); `expires_at`
        (naive: UTC) must lie in the future.
        """
        checked = _check(role, name, "new key")
        now = datetime.now(UTC)
        expires = "" if expires_at is None else _utc_iso(expires_at)
        if expires and datetime.fromisoformat(expires) <= now:
            raise KeyConfigError(f"the expiry {expires} is not in the future")
        key = "rg_" + secrets.token_urlsafe(32)
        with self._file_lock() as path:
            existing = self._read_file()
            if any(r.name == name and not r.revoked_at for r in [*existing, *self._env]):
                raise KeyConfigError(f"a key named {name!r} exists already")
            record = KeyRecord(name, checked, hash_key(key), _utc_iso(now), expires_at=expires)
            self._write(path, [*existing, record])
        self._stamp = None
        return key

    def revoke(self, name: str) -> KeyRecord:
        """Switch the file key `name` off for good (it stays in the file, marked revoked)."""
        if any(r.name == name for r in self._env):
            raise KeyConfigError(
                f"{name!r} comes from RECALLGUARD_API_KEYS: remove it there and restart"
            )
        with self._file_lock() as path:
            existing = self._read_file()
            live = [r for r in existing if r.name == name and not r.revoked_at]
            if not live:
                raise KeyConfigError(f"no live key named {name!r}")
            stamp = _utc_iso(datetime.now(UTC))
            updated = [
                KeyRecord(r.name, r.role, r.sha256, r.created_at, r.origin, r.expires_at, stamp)
                if r in live else r
                for r in existing
            ]  # fmt: skip
            self._write(path, updated)
        self._stamp = None
        return next(r for r in updated if r.name == name and r.revoked_at == stamp)

    def ensure_dev_key(self) -> Path | None:
        """On a first start with no keys anywhere, create an admin key -> the file holding it.

        The key goes to `DEV_KEY_FILE` beside the keys file, created with mode 0600, never to
        the log (logs are collected and kept; a file has an owner).
        """
        if self._env:
            return None
        with self._file_lock() as path:
            if self._read_file():
                return None
            key = "rg_" + secrets.token_urlsafe(32)
            now = _utc_iso(datetime.now(UTC))
            secret = path.with_name(DEV_KEY_FILE)
            write_private(secret, key + "\n")
            self._write(path, [KeyRecord(DEV_KEY_NAME, "admin", hash_key(key), now)])
        self._stamp = None
        return secret


_default: KeyStore | None = None


def default_store() -> KeyStore:
    global _default
    if _default is None:
        _default = KeyStore.from_env()
    return _default


def create_key(role: str, name: str) -> str:
    return default_store().create_key(role, name)


def ensure_dev_key() -> Path | None:
    return default_store().ensure_dev_key()


def authenticate(header_value: str | None) -> Principal | None:
    return default_store().authenticate(header_value)
