"""Logging never raises into the work it reports on, even when stderr is gone."""

import contextlib
import os

import structlog

from api.boot.logs import SturdyPrintLogger, configure_logging
from api.boot.pipeline_process import parent_watch


def test_a_line_to_a_pipe_without_reader_is_dropped_not_raised() -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)
    stream = os.fdopen(write_end, "w")
    logger = SturdyPrintLogger(stream)
    for method in (logger.info, logger.error, logger.exception, logger.critical, logger.msg):
        method('{"event": "x"}')  # BrokenPipeError inside: dropped
    with contextlib.suppress(BrokenPipeError):  # what is still buffered cannot go either
        stream.close()


def test_a_line_to_a_closed_file_is_dropped_not_raised() -> None:
    stream = open(os.devnull, "w")  # noqa: SIM115
    logger = SturdyPrintLogger(stream)
    stream.close()
    logger.error("after close")  # ValueError inside: dropped


def test_configured_logs_use_the_sturdy_logger() -> None:
    configure_logging("INFO")
    structlog.reset_defaults()
    configure_logging("INFO")
    assert isinstance(structlog.get_logger("x").bind()._logger, SturdyPrintLogger)


def test_the_parent_watch_stops_before_it_logs() -> None:
    stopped: list[bool] = []
    beat = parent_watch(os.getppid() + 1_000_000, lambda: stopped.append(True))
    beat()
    assert stopped == [True]
    parent_watch(os.getppid(), lambda: stopped.append(False))()
    assert stopped == [True]
