"""What the server logs about a client's mistake: one WARNING line, never the seller's text.

BentoML logs every request body its pydantic model rejects as an ERROR with the full traceback
(`bentoml._internal.server.http_app.log_exception`), and pydantic's message quotes the rejected
input (`input_value={'title': ...}`). The caller gets a clean 400 (`service.edge`); the server
log got an ERROR for something the server did right, and seller text, which is hostile, in its
log lines. `ClientErrorFilter` rewrites exactly those records: a pydantic `ValidationError` on
BentoML's request logger becomes one WARNING line naming the route, the method and how many
fields failed, without input or traceback. Every other record passes unchanged.
"""

from __future__ import annotations

import logging

from pydantic import ValidationError

# The logger BentoML's HTTP app reports request exceptions on.
BENTOML_REQUEST_LOGGER = "bentoml._internal.server.http_app"


class ClientErrorFilter(logging.Filter):
    """Turns a request-validation ERROR (with traceback and input) into a one-line WARNING."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, ValidationError):
            args = record.args if isinstance(record.args, tuple) else ()
            where = " ".join(str(a) for a in reversed(args))  # BentoML passes (path, method)
            record.msg = "%s: request refused with 400 (%d invalid field(s))"
            record.args = (where or "request", exc.error_count())
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.exc_info, record.exc_text = None, None
        return True


def install(logger_name: str = BENTOML_REQUEST_LOGGER) -> None:
    """Add the filter to BentoML's request logger, once per process."""
    logger = logging.getLogger(logger_name)
    if not any(isinstance(f, ClientErrorFilter) for f in logger.filters):
        logger.addFilter(ClientErrorFilter())
