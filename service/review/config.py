"""Configuration of the reviewer queue: the review part of `model.settings.Settings`.

The variables (``RECALLGUARD_DATA_HOME``, ``RECALLGUARD_REVIEW_DB_URL``,
``RECALLGUARD_TAKEDOWN_WEBHOOK_URL``, ``RECALLGUARD_TAKEDOWN_WEBHOOK_TOKEN``,
``RECALLGUARD_REVIEW_LEASE_SECONDS``) are declared, defaulted and checked in `model.settings`;
the README's settings table lists them. PostgreSQL is the production database, e.g.
``postgresql+psycopg://recallguard:PASSWORD@db.internal/recallguard`` (psycopg 3 is a
dependency); claims then use ``SELECT ... FOR UPDATE SKIP LOCKED``. The schema comes from the
Alembic migrations: ``recallguard db upgrade``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from model.settings import DEFAULT_LEASE_SECONDS, Settings, SettingsError

__all__ = ["DEFAULT_LEASE_SECONDS", "ConfigError", "ReviewConfig", "default_data_home"]

# A setting with an unusable value; the message names the variable.
ConfigError = SettingsError


def default_data_home(env: Mapping[str, str] | None = None) -> Path:
    """`RECALLGUARD_DATA_HOME`, defaulted (see `model.settings`)."""
    return Settings.from_env(env).data_home


@dataclass(frozen=True)
class ReviewConfig:
    db_url: str
    data_home: Path
    webhook_url: str | None = None
    lease_seconds: int = DEFAULT_LEASE_SECONDS
    webhook_token: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ReviewConfig:
        return cls.from_settings(Settings.from_env(env))

    @classmethod
    def from_settings(cls, settings: Settings) -> ReviewConfig:
        return cls(
            db_url=settings.review_db_url,
            data_home=settings.data_home,
            webhook_url=settings.takedown_webhook_url,
            lease_seconds=settings.review_lease_seconds,
            webhook_token=settings.takedown_webhook_token,
        )
