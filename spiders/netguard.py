"""Network safety: only http(s), and no loopback, private, link-local or multicast targets.

Checked twice: on the URL (IP literals and 'localhost', and every redirect target,
since redirects come back through the downloader middlewares) and at DNS resolution
(`GuardedResolver`), so a host name whose answer changes to a private address
between checks is refused too, and the connection goes to the address checked.
`WINNOW_ALLOW_PRIVATE` (`--allow-private`) lifts it.

Twisted's endpoint turns any failed resolution into "no results for hostname lookup",
so the resolver also notes each name it refused (`REFUSED_NAMES`); the middleware then
refuses that host's retry, or its failure, with the resolver's reason.
"""

from __future__ import annotations

import ipaddress
import socket
import urllib.request
from urllib.parse import urlsplit

from scrapy import exceptions as scrapy_errors
from scrapy.exceptions import IgnoreRequest
from scrapy.resolver import CachingThreadedResolver
from twisted.internet.error import DNSLookupError

#: What a failed resolution looks like by the time it reaches the middlewares.
DNS_ERRORS = (
    DNSLookupError,
    *(getattr(scrapy_errors, n) for n in ("CannotResolveHostError",) if hasattr(scrapy_errors, n)),
)


class RefusedAddress(IgnoreRequest):
    """The request's target is not allowed (scheme or address)."""


class RefusedHost(DNSLookupError):
    """A host name resolved to a non-public address: refused before connecting."""


#: IPv6 prefixes that carry an IPv4 address in their last 32 bits (NAT64, IPv4-compatible).
_EMBEDS_IPV4 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("::/96"))


def is_public(ip: str) -> bool:
    """True for a globally routable unicast address, also when it hides an IPv4 one.

    Refused: private, loopback, link-local (169.254.169.254, the cloud metadata
    address), shared (100.64/10), reserved, unspecified and multicast addresses, and
    IPv6 forms that embed one of them (::ffff:10.0.0.1, 2002:7f00:1::, 64:ff9b::7f00:1).
    """
    try:
        addr = ipaddress.ip_address(ip.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address):
        embedded = addr.ipv4_mapped or addr.sixtofour
        if embedded is None and any(addr in net for net in _EMBEDS_IPV4):
            embedded = ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
        if embedded is not None and not is_public(str(embedded)):
            return False
    return addr.is_global and not addr.is_multicast


def refusal(url: str, allow_private: bool) -> str | None:
    """Why `url` may not be fetched, or None when it may."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").strip("[]").rstrip(".")
    except ValueError as exc:
        return f"not a valid URL ({exc})"
    if parts.scheme not in ("http", "https"):
        return f"scheme {parts.scheme or '(none)'!r} is not fetched (only http and https)"
    if not host:
        return "no host in URL"
    if allow_private:
        return None
    if host == "localhost" or host.endswith(".localhost"):
        return f"{host} is a loopback name (use --allow-private to fetch it)"
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return None  # a name: checked again when it resolves
    if not is_public(host):
        return f"{host} is a private, loopback, link-local or multicast address (use --allow-private to fetch it)"
    return None


#: Host names the resolver refused in this process, with why.
REFUSED_NAMES: dict[str, str] = {}


def _host(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").rstrip(".")
    except ValueError:
        return ""


class AddressGuardMiddleware:
    """Downloader middleware: refuses requests (and redirect targets) to non-public addresses."""

    def __init__(self, allow_private: bool) -> None:
        self.allow_private = allow_private

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler.settings.getbool("WINNOW_ALLOW_PRIVATE"))

    def process_request(self, request):
        why = refusal(request.url, self.allow_private) or REFUSED_NAMES.get(_host(request.url))
        if why:
            raise RefusedAddress(why)
        return None

    def process_exception(self, request, exception):
        why = REFUSED_NAMES.get(_host(request.url))
        if why and isinstance(exception, DNS_ERRORS):
            raise RefusedAddress(why) from exception
        return None


class GuardedResolver(CachingThreadedResolver):
    """Scrapy's caching resolver, refusing names that resolve to non-public addresses."""

    allow_private = False

    @classmethod
    def from_crawler(cls, crawler, reactor):
        resolver = super().from_crawler(crawler, reactor)
        resolver.allow_private = crawler.settings.getbool("WINNOW_ALLOW_PRIVATE")
        return resolver

    def getHostByName(self, name, timeout=()):
        d = super().getHostByName(name, timeout)
        if self.allow_private:
            return d

        def check(ip: str) -> str:
            if not is_public(ip):
                why = (
                    f"{name} resolves to {ip}, a private, loopback, link-local or multicast "
                    "address (use --allow-private to fetch it)"
                )
                REFUSED_NAMES[name.lower().rstrip(".")] = why
                raise RefusedHost(why)
            return ip

        return d.addCallback(check)


def resolved_refusal(url: str, allow_private: bool) -> str | None:
    """`refusal`, plus the addresses the host name resolves to now (for one-off fetches)."""
    why = refusal(url, allow_private)
    if why or allow_private:
        return why
    host = (urlsplit(url).hostname or "").strip("[]")
    try:
        answers = socket.getaddrinfo(host, None)
    except OSError:
        return None  # the fetch fails with its own error
    for *_rest, sockaddr in answers:
        if not is_public(str(sockaddr[0])):
            return (
                f"{host} resolves to {sockaddr[0]}, a private, loopback, link-local or "
                "multicast address (use --allow-private to fetch it)"
            )
    return None


class _GuardedRedirects(urllib.request.HTTPRedirectHandler):
    def __init__(self, allow_private: bool) -> None:
        self.allow_private = allow_private

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        why = resolved_refusal(newurl, self.allow_private)
        if why:
            raise RefusedAddress(f"redirect to {newurl}: {why}")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def open_url(url: str, allow_private: bool, headers: dict[str, str], timeout: float):
    """urllib's urlopen for one-off fetches (`winnow discover`), under the crawler's rules:
    raises RefusedAddress for the URL or any redirect target the crawler would refuse."""
    why = resolved_refusal(url, allow_private)
    if why:
        raise RefusedAddress(why)
    opener = urllib.request.build_opener(_GuardedRedirects(allow_private))
    return opener.open(urllib.request.Request(url, headers=headers), timeout=timeout)
