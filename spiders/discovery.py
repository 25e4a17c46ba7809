"""Finding article URLs in feeds, sitemaps and pages, without fetching the articles.

Pure functions over bytes, used by the spider and by `winnow discover`. XML is parsed
with entity resolution, DTD loading and network access off, so external entities (XXE)
are never read and entity bombs stop at libxml2's amplification limit. Broken XML is
read as far as it goes: the URLs before the break are yielded, then `DiscoveryError`
says what broke. Sitemaps are parsed incrementally and each element is freed once
read, so memory stays flat however many URLs a sitemap lists.
"""

from __future__ import annotations

import functools
import gzip
import io
import json
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

from lxml import etree
from lxml import html as lhtml

#: Decompressed size allowed for a gzipped sitemap.
MAX_SITEMAP_BYTES = 50 * 1024 * 1024

_XML_PARSER_ARGS = {
    "resolve_entities": False,
    "load_dtd": False,
    "no_network": True,
    "huge_tree": False,
    "recover": True,
}

# URL paths that are never articles: listing pages, accounts, media and feeds.
_NOT_ARTICLE = re.compile(
    r"/(tag|tags|category|categories|author|authors|search|login|signin|sign-in|register|account|"
    r"subscribe|newsletter|feed|rss|atom|wp-admin|wp-login|cart|privacy|terms|contact|about|page/\d+)(/|$|\?)"
    r"|[?&](s|q|query|search|replytocom|share)="
    r"|\.(jpe?g|png|gif|webp|svg|mp4|mp3|pdf|zip|css|js|xml|json|ico)(\?|$)",
    re.I,
)
_NETLOC_END = re.compile(r"[/?#]")
#: "/path" links that joining would not change: no "//" host, no dot segments, no tabs or newlines.
_ROOT_RELATIVE = re.compile(r"(?![^?#]*/\.)/(?!/)[^\t\r\n]*\Z")
_DATE_IN_PATH = re.compile(r"/(19|20)\d\d([/-])(0?[1-9]|1[0-2])(\2|/)")
#: A path that ends in a year, month or day and nothing after it: a date archive page
#: (WordPress's monthly archive widget links one per month from every page).
_DATE_ARCHIVE = re.compile(r"/(19|20)\d\d(/(0?[1-9]|1[0-2])(/(0?[1-9]|[12]\d|3[01]))?)?/?$")
_SLUG = re.compile(r"/[a-z0-9\u00c0-\uffff]+(?:-[a-z0-9\u00c0-\uffff]+){2,}/?(?:\.html?)?$", re.I)
_ID = re.compile(r"[/-](\d{5,})(?:\.html?)?/?$")


@dataclass(frozen=True, slots=True)
class Found:
    """A URL found by discovery: an article candidate, or another sitemap/feed to read."""

    url: str
    kind: str = "article"  # "article" or "sitemap"
    published: datetime | None = None


class DiscoveryError(ValueError):
    """The document is not a feed, sitemap or page we can read; the message says what it is."""


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    value = value.strip()
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            parsed = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    try:
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except OverflowError:  # year 1 in a zone east of UTC
        return None


def _absolute(base_url: str, href: str) -> str | None:
    """`href` resolved against the document's URL; None when it is not a usable URL.

    Absolute and root-relative links skip urljoin and a host part that cannot be
    refused skips urlsplit: a sitemap may list a million of them.
    """
    href = href.strip()
    try:
        if href.startswith(("http://", "https://")):
            url = href
        elif _ROOT_RELATIVE.match(href) and (origin := _origin(base_url)):
            url = origin + href
        else:
            url = urljoin(base_url, href)
        if not _plain_host(url):
            urlsplit(url).port  # noqa: B018 - raises ValueError for a bad host or port
    except ValueError:
        return None
    return url


@functools.lru_cache(maxsize=64)
def _origin(base_url: str) -> str | None:
    """'scheme://host[:port]' of a document's URL."""
    try:
        parts = urlsplit(base_url)
    except ValueError:
        return None
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def _plain_host(url: str) -> bool:
    """True for an http(s) URL whose host part urlsplit cannot refuse (the common case)."""
    scheme_end = url.find("://")
    if scheme_end < 0:
        return False
    netloc = _NETLOC_END.split(url[scheme_end + 3 :], 1)[0]
    if not netloc.isascii() or any(c in netloc for c in "[]@"):
        return False
    _host, _, port = netloc.partition(":")
    return not port or (port.isdigit() and int(port) <= 65535)


def maybe_gunzip(body: bytes, limit: int = MAX_SITEMAP_BYTES) -> bytes:
    """Decompress gzip bodies (sitemap.xml.gz), refusing more than `limit` bytes out."""
    if not body.startswith(b"\x1f\x8b"):
        return body
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(body)) as stream:
            out = stream.read(limit + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise DiscoveryError(f"broken gzip data: {exc}") from None
    if len(out) > limit:
        raise DiscoveryError(f"gzipped document decompresses to more than {limit} bytes")
    return out


def _local(tag: object) -> str:
    """An element's name without its namespace, lower-case ('' for comments and entities)."""
    return tag.rpartition("}")[2].lower() if isinstance(tag, str) else ""


def kind_of(body: bytes) -> str:
    """'rss', 'atom', 'rdf', 'sitemap', 'sitemapindex', 'jsonfeed' or 'html'."""
    head = body[:2048].lstrip()
    if head.startswith(b"{"):
        return "jsonfeed"
    match = re.search(rb"<(?![?!])([A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*)", head)
    root = match.group(2).lower() if match else b""
    mapping = {
        b"rss": "rss",
        b"feed": "atom",
        b"rdf": "rdf",
        b"urlset": "sitemap",
        b"sitemapindex": "sitemapindex",
    }
    return mapping.get(root, "html")


#: How libxml2 names the error that stops an entity bomb (billion laughs).
_ENTITY_BOMB = "entity amplification"


def _fatal(error_log: etree._ListErrorLog) -> str | None:
    """The first fatal error of a recovering parse, as a message; None if there was none."""
    for error in error_log:
        if error.level == etree.ErrorLevels.FATAL:
            return f"{error.message} (line {error.line})"
    return None


def parse_xml(body: bytes) -> tuple[etree._Element, str | None]:
    """The document's root (recovered as far as possible) and its first fatal error, if any."""
    parser = etree.XMLParser(**_XML_PARSER_ARGS)
    try:
        root = etree.fromstring(body, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise DiscoveryError(f"malformed XML: {exc}") from None
    if root is None:
        raise DiscoveryError(f"malformed XML: {_fatal(parser.error_log) or 'no root element'}")
    return root, _fatal(parser.error_log)


def _text(el: etree._Element, name: str) -> str | None:
    for child in el:
        if _local(child.tag) == name:
            return (child.text or "").strip() or None
    return None


def from_feed(body: bytes, base_url: str) -> Iterator[Found]:
    """Items of an RSS 2.0, RSS 1.0 (RDF), Atom or JSON Feed document."""
    kind = kind_of(body)
    if kind == "jsonfeed":
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise DiscoveryError(f"malformed JSON Feed: {exc}") from None
        items = data.get("items") if isinstance(data, dict) else None
        for item in items if isinstance(items, list) else []:
            if isinstance(item, dict) and isinstance(item.get("url"), str):
                url = _absolute(base_url, item["url"])
                published = item.get("date_published")
                if url:
                    yield Found(
                        url, published=_date(published if isinstance(published, str) else None)
                    )
        return
    root, broken = parse_xml(body)
    for el in root.iter():
        name = _local(el.tag)
        if name == "item":
            link = _text(el, "link") or (
                _text(el, "guid") if (_text(el, "guid") or "").startswith("http") else None
            )
            if link and (url := _absolute(base_url, link)):
                yield Found(url, published=_date(_text(el, "pubdate") or _text(el, "date")))
        elif name == "entry":
            href = None
            for child in el:
                if _local(child.tag) == "link" and child.get("rel", "alternate") == "alternate":
                    href = child.get("href")
                    break
            if href and (url := _absolute(base_url, href)):
                yield Found(url, published=_date(_text(el, "published") or _text(el, "updated")))
    if broken:
        raise DiscoveryError(f"malformed feed: {broken}; the items before it were read")


def from_sitemap(body: bytes, base_url: str) -> Iterator[Found]:
    """URLs of a sitemap (articles, with Google News publication dates) or a sitemap index.

    Parsed incrementally, so a sitemap with a million URLs never sits in memory whole.
    """
    body = maybe_gunzip(body)
    parser = etree.iterparse(
        io.BytesIO(body), events=("end",), tag=("{*}url", "{*}sitemap"), **_XML_PARSER_ARGS
    )
    # Each URL waits for the next element: libxml2 (2.14 and later) still ends the element
    # it stopped an entity bomb in, with the entity left out of its text ("/a/&lol9;"
    # became "/a/"), so the URL read last is only good if the parse did not end on a bomb.
    last: Found | None = None
    try:
        for _event, el in parser:
            name = _local(el.tag)
            loc = published = None
            for child in el.iterdescendants():
                cname = _local(child.tag)
                if cname == "loc" and loc is None:
                    loc = (child.text or "").strip()
                elif cname in ("publication_date", "lastmod") and (
                    published is None or cname == "publication_date"
                ):
                    published = _date(child.text)
            url = _absolute(base_url, loc) if loc else None
            if url:
                if last is not None:
                    yield last
                last = Found(url, "sitemap" if name == "sitemap" else "article", published)
            # Free the element and the already-read siblings the root still points to.
            el.clear(keep_tail=False)
            parent = el.getparent()
            while parent is not None and el.getprevious() is not None:
                del parent[0]
    except etree.XMLSyntaxError as exc:
        broken = str(exc)
        error = f"malformed sitemap: {broken}"
    else:
        broken = _fatal(parser.error_log)
        error = broken and f"malformed sitemap: {broken}; the URLs before it were read"
    if last is not None and not (broken and _ENTITY_BOMB in broken):
        yield last
    if error:
        raise DiscoveryError(error)


def from_robots(body: bytes, base_url: str) -> Iterator[Found]:
    """Sitemaps listed in robots.txt."""
    for line in body.decode("utf-8", "replace").splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() == "sitemap" and (url := _absolute(base_url, value)):
            yield Found(url, "sitemap")


def article_score(url: str) -> int:
    """How article-like a URL looks: dates, slugs and ids score; listing pages never do."""
    parts = urlsplit(url)
    if _NOT_ARTICLE.search(parts.path + ("?" + parts.query if parts.query else "")):
        return 0
    path = parts.path
    if _DATE_ARCHIVE.search(path):
        return 0
    score = 0
    if _DATE_IN_PATH.search(path):
        score += 2
    if _SLUG.search(path):
        score += 2
    if _ID.search(path):
        score += 1
    return score


def from_page(body: bytes, base_url: str, min_score: int = 2) -> Iterator[Found]:
    """Article-like links on a homepage or section page (same host only)."""
    try:
        tree = lhtml.fromstring(body, base_url=base_url)
    except (etree.ParserError, ValueError):
        return
    host = urlsplit(base_url).hostname
    seen: set[str] = set()
    for href in tree.xpath("//a/@href"):
        url = (_absolute(base_url, str(href)) or "").split("#", 1)[0]
        if (
            not url
            or url in seen
            or urlsplit(url).hostname != host
            or urlsplit(url).scheme not in ("http", "https")
        ):
            continue
        seen.add(url)
        if article_score(url) >= min_score:
            yield Found(url)


def discover(body: bytes, url: str) -> Iterator[Found]:
    """Whatever `body` is (feed, sitemap, index, robots.txt, page), the URLs it leads to."""
    if url.endswith("/robots.txt"):
        yield from from_robots(body, url)
        return
    body = maybe_gunzip(body)
    kind = kind_of(body)
    if kind in ("sitemap", "sitemapindex"):
        yield from from_sitemap(body, url)
    elif kind in ("rss", "atom", "rdf", "jsonfeed"):
        yield from from_feed(body, url)
    else:
        yield from from_page(body, url)
