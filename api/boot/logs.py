"""Structured JSON logs (structlog) with the request id bound per request; never tokens."""

import contextlib
import logging
import sys
from typing import Any

import structlog


def configure_logging(level: str = "INFO") -> None:
    logging.basicConfig(stream=sys.stderr, level=level.upper(), format="%(message)s")
    # Chatty at INFO (their warnings stay); httpx and httpcore log every request line, whose
    # URL holds resource ids and search parameters (gateway mode) and endpoints' addresses.
    for noisy in ("faust", "mode", "aiokafka", "kafka", "httpx", "httpcore"):
        chosen = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        logging.getLogger(noisy).setLevel(max(logging.WARNING, chosen))
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        logger_factory=sturdy_logger_factory,
        cache_logger_on_first_use=True,
    )


class SturdyPrintLogger(structlog.PrintLogger):
    """A line that cannot be written (stderr is a pipe whose reader is gone, e.g. after the
    supervisor was killed, or a closed file) is dropped instead of raised into whatever was
    logging: a log call must never stop the work it reports on (a watchdog, a shutdown)."""

    def msg(self, message: str) -> None:
        with contextlib.suppress(OSError, ValueError):
            super().msg(message)

    log = debug = info = warn = warning = msg
    fatal = failure = err = error = critical = exception = msg


def sturdy_logger_factory(*_args: Any) -> SturdyPrintLogger:
    return SturdyPrintLogger(sys.stderr)
