"""Why a download failed, as a reject reason: the errback's half of "every page is one row".

Recent Scrapy wraps Twisted's errors in its own (`DownloadTimeoutError`,
`CannotResolveHostError`, `DownloadCancelledError`, ...) and keeps the original as the
cause, so the whole cause chain is looked at, and both generations are recognised.
Middlewares that refuse a request say why with an exception type; Scrapy's own
refusals are told apart by their fixed messages, never by words that could come
from the URL.
"""

from __future__ import annotations

import logging

from scrapy import exceptions as scrapy_errors
from scrapy.exceptions import IgnoreRequest
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet import defer
from twisted.internet import error as tx_errors
from twisted.web._newclient import ResponseNeverReceived

from spiders.netguard import DNS_ERRORS, RefusedAddress, RefusedHost
from spiders.redirects import RedirectLoop


def _scrapy(*names: str) -> tuple[type[BaseException], ...]:
    return tuple(getattr(scrapy_errors, name) for name in names if hasattr(scrapy_errors, name))


TIMEOUTS = (tx_errors.TimeoutError, tx_errors.TCPTimedOutError, *_scrapy("DownloadTimeoutError"))
#: A download Scrapy cancelled: it does so when the body passes DOWNLOAD_MAXSIZE.
CANCELLED = (defer.CancelledError, *_scrapy("DownloadCancelledError"))
REFUSED_CONNECTION = (tx_errors.ConnectionRefusedError, *_scrapy("DownloadConnectionRefusedError"))
#: IgnoreRequest messages of Scrapy's RedirectMiddleware and RobotsTxtMiddleware.
MAX_REDIRECTS = "max redirections reached"
ROBOTS_FORBIDDEN = "Forbidden by robots.txt"
#: What HttpCompressionMiddleware's message says when a body inflates past the limit.
DECOMPRESSED_TOO_LARGE = "exceeded DOWNLOAD_MAXSIZE"


def _chain(exc: BaseException) -> list[BaseException]:
    """`exc` and the exceptions it was raised from, nearest first."""
    found: list[BaseException] = []
    while exc is not None and exc not in found and len(found) < 10:
        found.append(exc)
        exc = exc.__cause__ or exc.__context__
    return found


def failure_reason(failure) -> tuple[str, str]:
    """A reject reason and detail for a failed download (a Twisted Failure)."""
    exc = failure.value
    chain = _chain(exc)
    text = str(exc) or type(exc).__name__

    def first(*types: type[BaseException]) -> BaseException | None:
        return next((e for e in chain if isinstance(e, types)), None)

    if refused := first(RefusedAddress, RefusedHost):
        return "refused_address", str(refused)
    if first(RedirectLoop) or (isinstance(exc, IgnoreRequest) and text == MAX_REDIRECTS):
        return "redirect_loop", text
    if isinstance(exc, IgnoreRequest) and text == ROBOTS_FORBIDDEN:
        return "robots_txt", text
    if isinstance(exc, IgnoreRequest) and DECOMPRESSED_TOO_LARGE in text:
        return "too_large", text
    if first(*CANCELLED):
        if "max size" in text:
            return "too_large", text
        return "too_large", "download cancelled: the body passed the size limit (DOWNLOAD_MAXSIZE)"
    if first(*TIMEOUTS):
        return "timeout", text
    if first(*DNS_ERRORS):
        return "dns", text
    if isinstance(exc, HttpError):
        return "http_status", f"HTTP {exc.response.status}"
    if isinstance(exc, IgnoreRequest):
        return "ignored", text
    if first(*REFUSED_CONNECTION):
        return "download_error", f"connection refused: {text}"
    if first(ResponseNeverReceived):
        return "download_error", f"no response: {text}"
    return "download_error", f"{type(exc).__name__}: {text}"


#: Failures of the network itself: their message says all, a traceback adds Twisted's stack.
NETWORK_ERRORS = (
    *TIMEOUTS,
    *REFUSED_CONNECTION,
    *DNS_ERRORS,
    tx_errors.ConnectError,
    tx_errors.ConnectionLost,
    ResponseNeverReceived,
)
#: Loggers that print a traceback for a download that failed on the network.
TRACEBACK_LOGGERS = ("scrapy.downloadermiddlewares.robotstxt",)


class NetworkErrorLine(logging.Filter):
    """A download that failed on the network logs one line (Scrapy's message names the
    error), not forty lines of Twisted's machinery; other errors keep their traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None and any(isinstance(e, NETWORK_ERRORS) for e in _chain(exc)):
            record.exc_info = None
            record.exc_text = None
        return True


def quiet_network_tracebacks() -> None:
    """Install `NetworkErrorLine` on the loggers that need it (once per process)."""
    for name in TRACEBACK_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, NetworkErrorLine) for f in logger.filters):
            logger.addFilter(NetworkErrorLine())
