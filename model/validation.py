"""The input rules every edge shares: HTTP (screening, review, admin), the CLI readers, stored rows.

One place decides what a valid text, number, identifier or JSON document is, so that the
screening edge, the review API, the admin API and the command line refuse the same inputs with
the same message:

- text must be a `str` of valid Unicode (no lone surrogates: they cannot be stored or encoded);
  C0/C1 control characters other than tab, newline and carriage return are removed (they are
  invisible and only ever arrive by accident or to confuse); a required text must keep at least
  one visible character (a letter, mark, number, punctuation or symbol after NFKC) after that;
- numbers must be finite (JSON's ``1e999`` parses to infinity, Python's json also reads ``NaN``);
- whole numbers (ids, offsets) must fit a signed 64-bit column;
- JSON documents may nest at most `MAX_JSON_DEPTH` levels.

Every refusal is a `ValidationError` (a `ValueError`) whose message names the field, says what
was expected and what came.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from typing import Any

MAX_JSON_DEPTH = 32
MAX_INT64 = 2**63 - 1
# C0 and C1 control characters except \t \n \r; DEL too.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_VISIBLE = frozenset("LMNPS")  # Unicode general categories a reader can see


class ValidationError(ValueError):
    """A record does not have the shape the matcher needs; the message says what and where."""


def has_visible(text: str) -> bool:
    """True when `text` holds a letter, mark, number, punctuation or symbol after NFKC."""
    return any(
        unicodedata.category(ch)[0] in _VISIBLE for ch in unicodedata.normalize("NFKC", text)
    )


def clean_text(value: Any, name: str, *, max_chars: int, required: bool = False) -> str:
    """`value` checked as text: control characters removed, surrogates and overlong refused.

    Raises `ValidationError` when `value` is not a string, holds a lone surrogate, is longer
    than `max_chars` characters, or (when `required`) has no visible character.
    """
    if not isinstance(value, str):
        raise ValidationError(f"{name} must be a string, got {type(value).__name__}")
    if len(value) > max_chars:
        raise ValidationError(
            f"{name} is {len(value)} characters; at most {max_chars} are accepted"
        )
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValidationError(
            f"{name} is not valid Unicode (a lone surrogate at character {exc.start})"
        ) from None
    text = _CONTROL.sub("", value)
    if required and not has_visible(text):
        raise ValidationError(f"{name} must contain a visible character, got {value!r}")
    return text


def finite_number(value: Any, name: str, *, minimum: float | None = None) -> float:
    """`value` as a finite float (ints accepted, bools not); `minimum` is inclusive."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValidationError(f"{name} must be a number, got {type(value).__name__}")
    try:
        number = float(value)
    except OverflowError:
        raise ValidationError(f"{name} is too large a number") from None
    if not math.isfinite(number):
        raise ValidationError(f"{name} must be a finite number, got {value!r}")
    if minimum is not None and number < minimum:
        raise ValidationError(f"{name} must be at least {minimum}, got {value!r}")
    return number


def int64(value: Any, name: str, *, minimum: int = 0) -> int:
    """`value` as an int in [minimum, 2**63 - 1]: the range every id column can hold."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{name} must be a whole number, got {type(value).__name__}")
    if not minimum <= value <= MAX_INT64:
        raise ValidationError(f"{name} must be from {minimum} to {MAX_INT64}, got {value}")
    return value


def parse_int64(text: str, name: str, *, minimum: int = 0) -> int:
    """A decimal string (query parameter, path segment) as an int64; refuses anything else."""
    if not text.isascii() or not text.isdigit() or len(text) > 19:
        raise ValidationError(f"{name} must be a whole number from {minimum}, got {text[:40]!r}")
    return int64(int(text), name, minimum=minimum)


def string_list(value: Any, name: str, *, max_items: int, max_chars: int) -> tuple[str, ...]:
    """A list of non-blank strings, each checked by `clean_text`."""
    if not isinstance(value, (list, tuple)):
        raise ValidationError(f"{name} must be a list of strings, got {type(value).__name__}")
    if len(value) > max_items:
        raise ValidationError(f"{name} has {len(value)} items; at most {max_items} are accepted")
    return tuple(
        clean_text(v, f"{name}[{i}]", max_chars=max_chars, required=True)
        for i, v in enumerate(value)
    )


def check_depth(data: Any, *, max_depth: int = MAX_JSON_DEPTH, name: str = "body") -> None:
    """Refuse JSON nested deeper than `max_depth` (iterative: no recursion to exhaust)."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > max_depth:
            raise ValidationError(f"{name} is nested more than {max_depth} levels deep")
        stack.extend((child, depth + 1) for child in children)


def loads(text: str | bytes, name: str = "body", *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse JSON strictly: finite numbers only, at most `max_depth` levels, valid UTF-8.

    ``NaN``/``Infinity`` (which Python's json accepts) and numbers that overflow to infinity
    (``1e999``) are refused, as is nesting deep enough to exhaust the parser's recursion.
    """

    def constant(token: str) -> Any:
        raise ValidationError(f"{name} is not valid JSON: {token} is not a number JSON allows")

    def number(token: str) -> float:
        value = float(token)
        if not math.isfinite(value):
            raise ValidationError(f"{name} holds a number too large to be finite: {token[:40]}")
        return value

    try:
        data = json.loads(text, parse_constant=constant, parse_float=number)
    except ValidationError:
        raise
    except RecursionError:
        raise ValidationError(f"{name} is nested more than {max_depth} levels deep") from None
    except UnicodeDecodeError as exc:
        raise ValidationError(f"{name} is not valid UTF-8: {exc.reason}") from None
    except ValueError as exc:  # JSONDecodeError, or an integer of more than 4300 digits
        raise ValidationError(f"{name} is not valid JSON: {exc}") from None
    check_depth(data, max_depth=max_depth, name=name)
    return data
