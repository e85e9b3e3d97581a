"""The queue's refusals, each carrying the HTTP status it maps to."""

from __future__ import annotations


class ReviewError(Exception):
    """Base of the queue's refusals; `status_code` is the HTTP status it maps to."""

    status_code = 400


class ItemNotFoundError(ReviewError, LookupError):
    status_code = 404


class ConflictError(ReviewError):
    status_code = 409


class AlreadyDecidedError(ConflictError):
    """The item has a decision already; decisions are final."""


class ClaimedByOtherError(ConflictError):
    """Another reviewer holds a live lease on the item."""


class InvalidDecisionError(ReviewError, ValueError):
    status_code = 400
