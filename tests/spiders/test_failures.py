"""Failed downloads in the log: one line for the network's failures, a traceback for bugs."""

from __future__ import annotations

import logging
import sys

from twisted.internet import error as tx_errors

from spiders.failures import NetworkErrorLine
from tests.conftest import winnow_cmd
from tests.schedule.servers import free_port


def record_of(exc: BaseException) -> logging.LogRecord:
    try:
        raise exc
    except BaseException:
        info = sys.exc_info()
    return logging.LogRecord("x", logging.ERROR, __file__, 1, "Error downloading", None, info)


def wrapped(cause: BaseException) -> BaseException:
    """A download error as recent Scrapy raises it: its own exception, Twisted's as the cause."""
    try:
        try:
            raise cause
        except BaseException as inner:
            raise RuntimeError("download failed") from inner
    except RuntimeError as outer:
        return outer


def test_a_network_failure_logs_its_message_without_the_traceback() -> None:
    refused = record_of(wrapped(tx_errors.ConnectionRefusedError("111: Connection refused")))
    assert NetworkErrorLine().filter(refused) and refused.exc_info is None
    bug = record_of(wrapped(ValueError("a bug")))
    assert NetworkErrorLine().filter(bug) and bug.exc_info is not None


def test_a_crawl_of_a_dead_address_logs_lines_not_tracebacks(tmp_path) -> None:
    dead = f"http://127.0.0.1:{free_port()}/feed.xml"
    proc = winnow_cmd(
        "crawl", "--url", dead, "--warehouse", str(tmp_path / "wh"), "--allow-private", check=False
    )
    assert "Error downloading" in proc.stderr and "Connection refused" in proc.stderr
    assert "Traceback" not in proc.stderr
