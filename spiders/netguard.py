"""Network safety: only http(s), and no loopback, private, link-local or multicast targets.

Checked twice: on the URL (IP literals and 'localhost', and every redirect target,
since redirects come back through the downloader middlewares) and at DNS resolution
(`GuardedResolver`), so a host name whose answer changes to a private address
between checks is refused too. `WINNOW_ALLOW_PRIVATE` (`--allow-private`) lifts it.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from scrapy.exceptions import IgnoreRequest
from scrapy.resolver import CachingThreadedResolver
from twisted.internet.error import DNSLookupError


class RefusedAddress(IgnoreRequest):
    """The request's target is not allowed (scheme or address)."""


def is_public(ip: str) -> bool:
    try:
        addr = ipaddress.ip_address(ip.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
        addr = addr.ipv4_mapped
    return not (
        addr.is_private
        or addr.is_loopback
        or addr.is_link_local
        or addr.is_multicast
        or addr.is_reserved
        or addr.is_unspecified
    )


def refusal(url: str, allow_private: bool) -> str | None:
    """Why `url` may not be fetched, or None when it may."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return f"scheme {parts.scheme or '(none)'!r} is not fetched (only http and https)"
    host = (parts.hostname or "").strip("[]")
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


class AddressGuardMiddleware:
    """Downloader middleware: refuses requests (and redirect targets) to non-public addresses."""

    def __init__(self, allow_private: bool) -> None:
        self.allow_private = allow_private

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler.settings.getbool("WINNOW_ALLOW_PRIVATE"))

    def process_request(self, request):
        why = refusal(request.url, self.allow_private)
        if why:
            raise RefusedAddress(why)
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
                raise DNSLookupError(f"{name} resolves to {ip}, a non-public address (refused)")
            return ip

        return d.addCallback(check)
