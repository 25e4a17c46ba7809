"""Article extraction: trafilatura for the body and metadata, plus page signals the filters use."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

from lxml.html import HtmlElement
from trafilatura import bare_extraction
from trafilatura.utils import HTML_PARSER, load_html

from pipeline.metadata import Metadata, page_metadata
from pipeline.trailers import normalise_line

# trafilatura logs every discarded page at WARNING; winnow reports those as rejects instead.
logging.getLogger("trafilatura").setLevel(logging.CRITICAL)

_SPACE = re.compile(r"\s+")
#: libxml2 stops parsing at this element depth (without XML_PARSE_HUGE, which only
#: raises the limit): whatever follows is silently dropped.
MAX_DEPTH = 256
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]{0,200}\?>")
#: A page with more words than this is not a JavaScript app shell.
JS_SHELL_MAX_WORDS = 80
_JS_NOTICE = re.compile(r"javascript|js\b", re.I)
#: The page's JSON-LD `articleBody` replaces the extracted text when it holds at least
#: this many words and this many times the extracted ones: the markup hid the article
#: (a body rendered by script, a photo caption taken for the content).
BODY_FALLBACK_WORDS = 80
BODY_FALLBACK_RATIO = 3.0


@dataclass(slots=True)
class Extraction:
    """What extraction found on one page; `text` is newline-separated paragraphs."""

    text: str
    #: What the page declares about itself (title, author, dates, canonical URL, ...).
    meta: Metadata = field(default_factory=Metadata)
    #: Normalised texts of the page's links: lines equal to one are link text.
    link_texts: frozenset[str] = frozenset()
    #: The page asks for JavaScript and has (almost) no text outside scripts.
    js_shell: bool = False
    #: Where `text` came from: "markup" (trafilatura), "markup, favouring recall" (its
    #: second look) or "json-ld" (the stated articleBody).
    body_from: str = "markup"


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
    # lxml refuses text that declares an encoding; without the declaration the text is
    # always parsed by trafilatura's HTML_PARSER, whose error log cut_by_depth() reads.
    html = _XML_DECLARATION.sub("", html, count=1)
    try:
        return load_html(html)
    except (ValueError, TypeError):
        return None


def cut_by_depth() -> bool:
    """True when the last parse hit libxml2's depth limit, so the tree holds only part of the
    page. libxml2 says so in the parser's error log, which costs nothing to read, where
    measuring the tree's depth would walk every element of every page."""
    return any("Excessive depth" in entry.message for entry in HTML_PARSER.error_log)


def extract(tree: HtmlElement, url: str, recall: bool = False) -> Extraction:
    """Run trafilatura for the body (comments excluded, tables kept); metadata from the page's
    own declarations (pipeline/metadata.py), which costs far less than trafilatura's.

    `recall` runs trafilatura favouring recall: clean()'s second look at a page whose
    balanced extraction found (almost) nothing.
    """
    link_texts = frozenset(s for a in tree.iter("a") if (s := normalise_line(a.text_content())))
    meta = page_metadata(tree)
    doc = bare_extraction(
        tree,
        url=url,
        with_metadata=False,
        include_comments=False,
        include_tables=True,
        deduplicate=False,
        favor_recall=recall,
    )
    text = (doc.text or "") if doc is not None else ""
    words = len(text.split())
    if meta.article_body and _prefer_stated_body(words, len(meta.article_body.split())):
        return Extraction(meta.article_body, meta, link_texts, body_from="json-ld")
    return Extraction(
        text=text,
        meta=meta,
        link_texts=link_texts,
        # only a page with (almost) no text can be an app shell: skip the look otherwise
        js_shell=words < JS_SHELL_MAX_WORDS and _is_js_shell(tree),
        body_from="markup, favouring recall" if recall else "markup",
    )


def _prefer_stated_body(extracted_words: int, stated_words: int) -> bool:
    return stated_words >= BODY_FALLBACK_WORDS and stated_words >= BODY_FALLBACK_RATIO * max(
        extracted_words, 1
    )
