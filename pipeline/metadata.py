"""Page metadata from what the page declares: meta tags, JSON-LD and the document head.

News pages state their title, author, publication date, site name, description, tags
and main image in Open Graph / article:* meta tags and schema.org JSON-LD. Reading
those directly costs a fraction of a millisecond, where trafilatura's metadata pass
(which also hunts for dates in the text) costs about as much as the extraction itself.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from lxml.html import HtmlElement

_SPACE = re.compile(r"\s+")
_TITLE_SEPARATORS = re.compile(r"\s+[|–—·•:»-]\s+")
_ARTICLE_TYPES = {
    "newsarticle",
    "article",
    "blogposting",
    "reportagenewsarticle",
    "analysisnewsarticle",
    "opinionnewsarticle",
    "report",
}
MAX_TAGS = 25
_BREAK_TAGS = re.compile(r"<(?:/p|br|/div|/h[1-6]|/li)\b[^>]*>", re.I)
_TAG = re.compile(r"<[^>]{0,2000}>")


def squash(text: str | None) -> str:
    """Collapse runs of whitespace to one space and trim."""
    return _SPACE.sub(" ", text or "").strip()


@dataclass(slots=True)
class Metadata:
    title: str | None = None
    #: Every form of the title the page shows (og:title, <h1>, <title> and its parts):
    #: a body line equal to one of them is the title repeated.
    title_forms: frozenset[str] = frozenset()
    author: str | None = None
    published: datetime | None = None
    sitename: str | None = None
    description: str | None = None
    tags: list[str] = field(default_factory=list)
    image: str | None = None
    canonical: str | None = None
    html_lang: str | None = None
    #: The article's text as the page's JSON-LD states it (`articleBody`), one line per
    #: paragraph: what extraction falls back on when the markup hides the article.
    article_body: str | None = None


def parse_date(value: str | None) -> datetime | None:
    """An ISO 8601 date or date-time, as UTC; None when it is not one."""
    value = squash(value)
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            parsed = datetime.fromisoformat(value[:10])
        except ValueError:
            return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _meta(tree: HtmlElement) -> dict[str, str]:
    found: dict[str, str] = {}
    for el in tree.iter("meta"):
        key = (el.get("property") or el.get("name") or el.get("itemprop") or "").strip().lower()
        content = el.get("content")
        if key and content and key not in found:
            found[key] = squash(content)
    return found


def _json_ld(tree: HtmlElement) -> dict:
    """The page's schema.org article object from its JSON-LD, or {}.

    An article type (NewsArticle, BlogPosting, ...) wins over a WebPage that came first.
    """
    page: dict = {}
    for script in tree.xpath("//script[@type='application/ld+json']"):
        try:
            data = json.loads(script.text or "")
        except (ValueError, TypeError):
            continue
        stack = [data]
        while stack:
            item = stack.pop(0)
            if isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, dict):
                kinds = item.get("@type", "")
                kinds = {str(k).lower() for k in (kinds if isinstance(kinds, list) else [kinds])}
                if kinds & _ARTICLE_TYPES:
                    return item
                if not page and "webpage" in kinds:
                    page = item
                stack.extend(v for k, v in item.items() if k == "@graph")
    return page


def _name(value: object) -> str | None:
    if isinstance(value, list):
        names = [n for v in value if (n := _name(v))]
        return "; ".join(names) or None
    if isinstance(value, dict):
        return _name(value.get("name"))
    return squash(str(value)) or None if value else None


def _article_body(value: object) -> str | None:
    """JSON-LD `articleBody` as plain lines (some CMSes put HTML in it)."""
    if not isinstance(value, str) or not value.strip():
        return None
    if "<" in value:
        value = _TAG.sub(" ", _BREAK_TAGS.sub("\n", value))
    lines = (squash(line) for line in html.unescape(value).splitlines())
    return "\n".join(line for line in lines if line) or None


def _first(tree: HtmlElement, xpath: str) -> str | None:
    found = tree.xpath(xpath)
    return squash(str(found[0])) or None if found else None


def page_metadata(tree: HtmlElement) -> Metadata:
    """Everything the page declares about itself."""
    meta = _meta(tree)
    ld = _json_ld(tree)
    h1s = [t for h in tree.iter("h1") if (t := squash(h.text_content()))]
    head_title = _first(tree, "//title/text()")
    og_title = meta.get("og:title") or meta.get("twitter:title")
    title = (
        og_title or _name(ld.get("headline")) or (h1s[0] if len(h1s) == 1 else None) or head_title
    )
    forms = {t for t in (og_title, _name(ld.get("headline")), head_title, *h1s[:2]) if t}
    if head_title:
        forms.update(p for p in _TITLE_SEPARATORS.split(head_title) if len(p.split()) >= 3)
    author = (
        meta.get("author")
        or _name(ld.get("author"))
        or meta.get("article:author")
        or meta.get("dc.creator")
    )
    if author and author.startswith("http"):
        author = _name(ld.get("author"))
    published = (
        parse_date(meta.get("article:published_time"))
        or parse_date(_name(ld.get("datePublished")))
        or parse_date(
            meta.get("og:published_time")
            or meta.get("date")
            or meta.get("pubdate")
            or meta.get("publish-date")
            or meta.get("dc.date.issued")
            or meta.get("dc.date")
        )
        or parse_date(_first(tree, "//time/@datetime"))
    )
    tags = [
        t for el in tree.xpath("//meta[@property='article:tag']/@content") if (t := squash(str(el)))
    ]
    if not tags and meta.get("keywords"):
        tags = [t for t in (squash(k) for k in meta["keywords"].split(",")) if t]
    return Metadata(
        title=title,
        title_forms=frozenset(forms),
        author=author,
        published=published,
        sitename=meta.get("og:site_name")
        or _name((ld.get("publisher") or {}) if isinstance(ld.get("publisher"), dict) else None)
        or meta.get("application-name"),
        description=meta.get("description") or meta.get("og:description"),
        tags=tags[:MAX_TAGS],
        image=meta.get("og:image")
        or meta.get("twitter:image")
        or _name(ld.get("image") if isinstance(ld.get("image"), str) else None),
        canonical=_first(tree, "//link[@rel='canonical']/@href") or meta.get("og:url"),
        html_lang=_first(tree, "/html/@lang"),
        article_body=_article_body(ld.get("articleBody")),
    )
