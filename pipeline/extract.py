"""Article extraction: trafilatura for the body and metadata, plus page signals the filters use."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from lxml.html import HtmlElement
from trafilatura import bare_extraction
from trafilatura.utils import load_html

# trafilatura logs every discarded page at WARNING; winnow reports those as rejects instead.
logging.getLogger("trafilatura").setLevel(logging.CRITICAL)

_SPACE = re.compile(r"\s+")
_JS_NOTICE = re.compile(r"javascript|js\b", re.I)


@dataclass(slots=True)
class Extraction:
    """What extraction found on one page; `text` is newline-separated paragraphs."""

    text: str
    title: str | None = None
    author: str | None = None
    published: datetime | None = None
    sitename: str | None = None
    description: str | None = None
    tags: list[str] = field(default_factory=list)
    image: str | None = None
    canonical: str | None = None
    html_lang: str | None = None
    #: Normalised texts of the page's links: lines equal to one are link text.
    link_texts: frozenset[str] = frozenset()
    #: The page asks for JavaScript and has (almost) no text outside scripts.
    js_shell: bool = False


def squash(text: str) -> str:
    """Collapse runs of whitespace to one space and trim."""
    return _SPACE.sub(" ", text).strip()


def _parse_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _first(tree: HtmlElement, xpath: str) -> str | None:
    found = tree.xpath(xpath)
    return squash(str(found[0])) or None if found else None


def _is_js_shell(tree: HtmlElement) -> bool:
    notice = " ".join(tree.xpath("//noscript//text()"))
    if not _JS_NOTICE.search(notice):
        return False
    body = tree.find("body")
    if body is None:
        return True
    visible = [
        t
        for t in body.xpath(
            ".//text()[not(ancestor::script or ancestor::style or ancestor::noscript)]"
        )
        if t.strip()
    ]
    return sum(len(t.split()) for t in visible) < 40


def parse_html(html: str) -> HtmlElement | None:
    """Parse decoded HTML the way trafilatura does (with its repairs); None if it is not HTML."""
    try:
        return load_html(html)
    except (ValueError, TypeError):
        return None


def extract(tree: HtmlElement, url: str) -> Extraction:
    """Run trafilatura (comments excluded, tables kept) and collect metadata and page signals."""
    link_texts = frozenset(s for a in tree.iter("a") if (s := squash(a.text_content()).casefold()))
    canonical = _first(tree, "//link[@rel='canonical']/@href") or _first(
        tree, "//meta[@property='og:url']/@content"
    )
    html_lang = _first(tree, "/html/@lang")
    js_shell = _is_js_shell(tree)
    doc = bare_extraction(
        tree,
        url=url,
        with_metadata=True,
        include_comments=False,
        include_tables=True,
        deduplicate=False,
    )
    if doc is None:
        return Extraction(
            text="",
            link_texts=link_texts,
            canonical=canonical,
            html_lang=html_lang,
            js_shell=js_shell,
        )
    tags = [t for t in (doc.tags or []) if t] or [t for t in (doc.categories or []) if t]
    return Extraction(
        text=doc.text or "",
        title=squash(doc.title) if doc.title else None,
        author=doc.author or None,
        published=_parse_date(doc.date),
        sitename=doc.sitename or None,
        description=doc.description or None,
        tags=tags,
        image=doc.image or None,
        canonical=canonical,
        html_lang=html_lang,
        link_texts=link_texts,
        js_shell=js_shell,
    )
