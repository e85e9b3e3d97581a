"""The reviewer queue: durable queue, takedown outbox, reviewer page, labels export."""

from .app import create_review_app
from .config import ReviewConfig
from .errors import (
    AlreadyDecidedError,
    ClaimedByOtherError,
    ConflictError,
    InvalidDecisionError,
    ItemNotFoundError,
    ReviewError,
)
from .labels import export_labels
from .notifier import TakedownNotifier, list_takedowns, retry_takedown
from .queue import ReviewQueue
from .records import AuditEntry, DecisionRecord, ReviewItem, TakedownRecord

__all__ = [
    "AlreadyDecidedError",
    "AuditEntry",
    "ClaimedByOtherError",
    "ConflictError",
    "DecisionRecord",
    "InvalidDecisionError",
    "ItemNotFoundError",
    "ReviewConfig",
    "ReviewError",
    "ReviewItem",
    "ReviewQueue",
    "TakedownNotifier",
    "TakedownRecord",
    "create_review_app",
    "export_labels",
    "list_takedowns",
    "retry_takedown",
]
