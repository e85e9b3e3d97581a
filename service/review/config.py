"""Configuration of the reviewer queue, read once from the environment.

Environment variables (all optional):

- ``RECALLGUARD_DATA_HOME``: the service's data directory (default ``~/.recallguard``).
- ``RECALLGUARD_REVIEW_DB_URL``: any SQLAlchemy URL. Default: SQLite in WAL mode at
  ``$RECALLGUARD_DATA_HOME/review.sqlite3``. PostgreSQL is the production choice, e.g.
  ``postgresql+psycopg://recallguard:PASSWORD@db.internal/recallguard`` (psycopg 3 is a
  dependency); claims then use ``SELECT ... FOR UPDATE SKIP LOCKED``. The schema comes from
  the Alembic migrations: ``recallguard db upgrade``.
- ``RECALLGUARD_TAKEDOWN_WEBHOOK_URL``: where confirmed takedowns are POSTed (unset: they wait
  in the outbox, visible at ``GET /review/api/takedowns``, and are sent once a URL is set).
- ``RECALLGUARD_TAKEDOWN_WEBHOOK_TOKEN``: optional bearer token sent to the webhook.
- ``RECALLGUARD_REVIEW_LEASE_SECONDS``: how long a claim lasts before the item returns (300).
- ``RECALLGUARD_KEYS_FILE``: the API keys file (default ``$RECALLGUARD_DATA_HOME/keys.json``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_LEASE_SECONDS = 300


class ConfigError(ValueError):
    """A setting has a value that cannot be used; the message names the variable."""


def default_data_home(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    raw = env.get("RECALLGUARD_DATA_HOME", "").strip()
    return Path(raw).expanduser() if raw else Path.home() / ".recallguard"


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path.expanduser().resolve()}"


@dataclass(frozen=True)
class ReviewConfig:
    db_url: str
    data_home: Path
    webhook_url: str | None = None
    lease_seconds: int = DEFAULT_LEASE_SECONDS
    keys_file: Path | None = None
    webhook_token: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ReviewConfig:
        env = os.environ if env is None else env
        data_home = default_data_home(env)
        db_url = env.get("RECALLGUARD_REVIEW_DB_URL", "").strip() or sqlite_url(
            data_home / "review.sqlite3"
        )
        raw_lease = env.get("RECALLGUARD_REVIEW_LEASE_SECONDS", "").strip()
        try:
            lease = int(raw_lease) if raw_lease else DEFAULT_LEASE_SECONDS
        except ValueError:
            raise ConfigError(
                f"RECALLGUARD_REVIEW_LEASE_SECONDS must be a whole number, got {raw_lease!r}"
            ) from None
        if lease <= 0:
            raise ConfigError(f"RECALLGUARD_REVIEW_LEASE_SECONDS must be positive, got {lease}")
        webhook = env.get("RECALLGUARD_TAKEDOWN_WEBHOOK_URL", "").strip() or None
        if webhook is not None and not webhook.startswith(("http://", "https://")):
            raise ConfigError(
                f"RECALLGUARD_TAKEDOWN_WEBHOOK_URL must be an http(s) URL, got {webhook!r}"
            )
        keys_raw = env.get("RECALLGUARD_KEYS_FILE", "").strip()
        keys_file = Path(keys_raw).expanduser() if keys_raw else data_home / "keys.json"
        token = env.get("RECALLGUARD_TAKEDOWN_WEBHOOK_TOKEN", "").strip() or None
        return cls(
            db_url=db_url,
            data_home=data_home,
            webhook_url=webhook,
            lease_seconds=lease,
            keys_file=keys_file,
            webhook_token=token,
        )
