"""Probing entry points without crawling: what `winnow discover` and `winnow sources check` show.

Fetches one feed, sitemap, robots.txt or page (refusing private addresses unless
allowed, like the crawler) and lists what discovery finds in it.
"""

from __future__ import annotations

import urllib.error
from dataclasses import dataclass, field

from spiders.discovery import DiscoveryError, Found, discover, kind_of, maybe_gunzip
from spiders.netguard import RefusedAddress, open_url

MAX_BYTES = 50 * 1024 * 1024
USER_AGENT = "winnow-probe/0.1"


@dataclass
class Probe:
    url: str
    status: int | None = None
    kind: str = ""
    found: list[Found] = field(default_factory=list)
    error: str | None = None

    @property
    def articles(self) -> list[Found]:
        return [f for f in self.found if f.kind == "article"]

    @property
    def sitemaps(self) -> list[Found]:
        return [f for f in self.found if f.kind == "sitemap"]


def probe(url: str, allow_private: bool = False, timeout: float = 30) -> Probe:
    """Fetch `url` once and discover what it lists; errors are reported, not raised."""
    result = Probe(url)
    try:
        # Like the crawler: private addresses refused, also behind names and redirects.
        with open_url(url, allow_private, {"User-Agent": USER_AGENT}, timeout) as response:
            result.status = response.status
            body = response.read(MAX_BYTES)
    except RefusedAddress as exc:
        result.error = f"refused: {exc}"
        return result
    except urllib.error.HTTPError as exc:
        result.status, result.error = exc.code, f"HTTP {exc.code}"
        return result
    except (urllib.error.URLError, OSError, ValueError) as exc:
        result.error = f"fetch failed: {exc}"
        return result
    try:
        body = maybe_gunzip(body)
        result.kind = "robots.txt" if url.endswith("/robots.txt") else kind_of(body)
        for found in discover(body, url):  # broken XML: keep what precedes the break
            result.found.append(found)
    except DiscoveryError as exc:
        result.error = str(exc)
    return result
