"""SQLAlchemy Core tables of the reviewer queue. Rows are only ever inserted or updated.

Times are stored as naive UTC datetimes (portable across SQLite and PostgreSQL).
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

ITEM_STATES = ("pending", "claimed", "decided")
DECISION_KINDS = ("confirm", "reject", "unsure")
TAKEDOWN_STATES = ("pending", "delivered", "failed")

items = Table(
    "review_items",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dedup_key", String(128), nullable=False, unique=True),
    Column("source", String(16), nullable=False),  # screen | manual
    Column("listing_id", String(200), nullable=False, default=""),
    Column("listing_json", Text, nullable=False),
    Column("candidates_json", Text, nullable=False),
    Column("probability", Float, nullable=True),
    Column("model_version", String(200), nullable=False, default=""),
    Column("screen_decision", String(16), nullable=True),
    Column("state", String(16), nullable=False, default="pending"),
    Column("claimed_by", String(200), nullable=True),
    Column("claimed_at", DateTime, nullable=True),
    Column("lease_expires_at", DateTime, nullable=True),
    Column("created_by", String(200), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Index("ix_review_items_state_created", "state", "created_at"),
)

decisions = Table(
    "review_decisions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("item_id", Integer, ForeignKey("review_items.id"), nullable=False, unique=True),
    Column("decision", String(16), nullable=False),
    Column("entry_id", String(200), nullable=True),
    Column("note", Text, nullable=False, default=""),
    Column("reviewer", String(200), nullable=False),
    Column("seconds_taken", Float, nullable=True),
    Column("decided_at", DateTime, nullable=False, index=True),
)

audit_log = Table(
    "review_audit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("item_id", Integer, ForeignKey("review_items.id"), nullable=False, index=True),
    Column("from_state", String(16), nullable=True),
    Column("to_state", String(16), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("at", DateTime, nullable=False),
    Column("detail", Text, nullable=False, default=""),
)

takedown_outbox = Table(
    "takedown_outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("item_id", Integer, ForeignKey("review_items.id"), nullable=False, unique=True),
    Column("payload_json", Text, nullable=False),
    Column("status", String(16), nullable=False, default="pending"),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text, nullable=True),
    Column("last_attempt_at", DateTime, nullable=True),
    Column("next_attempt_at", DateTime, nullable=False),
    Column("delivered_at", DateTime, nullable=True),
    Column("created_at", DateTime, nullable=False),
    Index("ix_takedown_outbox_status_next", "status", "next_attempt_at"),
)
