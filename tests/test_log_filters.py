"""A client's invalid request is logged as one WARNING line without its input (unit tests)."""

from __future__ import annotations

import logging

import pytest
from pydantic import BaseModel, ValidationError

from service.log_filters import BENTOML_REQUEST_LOGGER, ClientErrorFilter, install


class _Body(BaseModel):
    title: str
    price: int


def _record(exc: BaseException) -> logging.LogRecord:
    return logging.LogRecord(
        BENTOML_REQUEST_LOGGER, logging.ERROR, __file__, 1, "Exception on %s [%s]",
        ("/screen", "POST"), (type(exc), exc, exc.__traceback__),
    )  # fmt: skip


def test_a_validation_error_becomes_one_warning_line_without_the_input() -> None:
    with pytest.raises(ValidationError) as caught:
        _Body.model_validate({"title": ["<script>SELLER-TEXT</script>"], "price": "many"})
    record = _record(caught.value)
    assert ClientErrorFilter().filter(record)
    line = logging.Formatter("%(levelname)s %(message)s").format(record)
    assert line == "WARNING POST /screen: request refused with 400 (2 invalid field(s))"
    assert record.exc_info is None


def test_other_exceptions_keep_their_error_and_traceback() -> None:
    try:
        raise RuntimeError("a real server fault")
    except RuntimeError as exc:
        record = _record(exc)
    assert ClientErrorFilter().filter(record)
    text = logging.Formatter("%(levelname)s %(message)s").format(record)
    assert text.startswith("ERROR Exception on /screen [POST]")
    assert "Traceback" in text and "a real server fault" in text


def test_install_adds_the_filter_once() -> None:
    install()
    install()
    filters = logging.getLogger(BENTOML_REQUEST_LOGGER).filters
    assert sum(isinstance(f, ClientErrorFilter) for f in filters) == 1
