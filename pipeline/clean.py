"""The cleaning stage: one page in, one Article or Reject out.

`clean` is a pure function of a page and read-only configuration: no Scrapy, no I/O.
Tests, benchmarks, `winnow extract` and the crawl's process pool all call it.
Steps, each its own module: decode -> extract (trafilatura) -> strip trailers ->
language -> quality rules. Each failure is a Reject whose reason is the name of the
step or rule that made it. A page whose extraction came out empty, too short or a
repeated menu gets a second extraction favouring recall (`SECOND_LOOK`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

from pipeline.config import DEFAULT_CONFIG, CleanConfig
from pipeline.decode import UndecodableError, decode_html, wide_text
from pipeline.extract import MAX_DEPTH, Extraction, cut_by_depth, extract, parse_html
from pipeline.fingerprints import add_fingerprints, content_hash
from pipeline.language import Guess, detect_language
from pipeline.page import Page
from pipeline.quality import Check, Doc, check_all, first_failure
from pipeline.record import Article, Record, record_id, reject_page
from pipeline.trailers import strip_trailers
from pipeline.urls import canonical_url, site_of

HTML_TYPES = frozenset(
    {"", "text/html", "application/xhtml+xml", "text/plain", "application/xml", "text/xml"}
)
#: Leading bytes of formats that are never HTML, whatever the Content-Type says.
BINARY_MAGIC = (
    b"%PDF",
    b"\xff\xd8\xff",
    b"\x89PNG",
    b"GIF8",
    b"PK\x03\x04",
    b"\x1f\x8b",
    b"BZh",
    b"\xfd7zXZ",
    b"RIFF",
    b"\x00\x00\x00",
    b"ID3",
    b"OggS",
    b"fLaC",
    b"\x7fELF",
    b"7z\xbc\xaf",
)
#: Rejects that mean trafilatura's balanced extraction missed the article (nothing or
#: a few words found, or a menu dumped whole): the page gets a second extraction that
#: favours recall, kept only if it makes an article (`Trace.body_from` says so).
SECOND_LOOK = frozenset({"empty", "quality:too_short", "quality:repetition"})


@dataclass
class Trace:
    """What `clean` did, for `winnow extract --explain`: filled in when passed."""

    encoding: str = ""
    extracted: str = ""
    #: Where the text came from: see pipeline.extract.Extraction.body_from.
    body_from: str = ""
    removed: list[tuple[str, str]] = field(default_factory=list)
    guess: Guess | None = None
    checks: list[Check] = field(default_factory=list)
    #: CPU seconds per step (decode, extract, strip, language, quality): benchmarks read it.
    cpu: dict[str, float] = field(default_factory=dict)
    _mark: float = field(default=0.0, repr=False)

    def lap(self, step: str) -> None:
        """Charge the CPU time since the previous lap to `step`."""
        now = time.process_time()
        if step:
            self.cpu[step] = self.cpu.get(step, 0.0) + now - self._mark
        self._mark = now


def looks_binary(body: bytes, content_type: str = "") -> bool:
    """True for bodies that are a known binary format or hold NUL bytes near the start
    (unless they are UTF-16/32 text, by BOM or Content-Type)."""
    head = body[:1024].lstrip()
    if head.startswith(BINARY_MAGIC):
        return True
    return b"\x00" in body[:1024] and wide_text(body, content_type) is None


def _canonical(page: Page, found: Extraction) -> str:
    if found.meta.canonical and site_of(found.meta.canonical) == site_of(page.url):
        return canonical_url(found.meta.canonical)
    return canonical_url(page.url)


def clean(page: Page, config: CleanConfig = DEFAULT_CONFIG, trace: Trace | None = None) -> Record:
    """Turn one fetched page into an Article, or a Reject that says why not."""
    if not 200 <= page.status < 300:
        return reject_page(page, "http_status", f"HTTP {page.status}")
    if len(page.body) > config.max_bytes:
        return reject_page(
            page,
            "too_large",
            f"{len(page.body)} bytes > limit {config.max_bytes}",
            value=float(len(page.body)),
        )
    if page.content_type not in HTML_TYPES:
        return reject_page(page, "not_html", f"Content-Type {page.content_type}")
    if not page.body.strip():
        return reject_page(page, "empty", "empty body")
    if looks_binary(page.body, page.headers.get("content-type", "")):
        return reject_page(
            page, "not_html", f"binary body served as {page.content_type or 'no type'}"
        )

    if trace is not None:
        trace.lap("")
    try:
        html, encoding = decode_html(page.body, page.headers.get("content-type", ""))
    except UndecodableError as exc:
        return reject_page(page, "encoding", str(exc))
    if trace is not None:
        trace.lap("decode")
    tree = parse_html(html)
    if tree is None:
        return reject_page(page, "empty", "the body does not parse as HTML")
    if cut_by_depth():
        return reject_page(
            page,
            "too_deep",
            f"markup nested {MAX_DEPTH}+ levels deep: the HTML parser stops there, the rest is unread",
        )
    if trace is not None:
        trace.encoding = encoding
    record = _judge(page, extract(tree, page.url), config, trace)
    if not record.kept and record.reason in SECOND_LOOK:
        record = _second_look(page, html, record, config, trace)
    return record


def _second_look(
    page: Page, html: str, first: Record, config: CleanConfig, trace: Trace | None
) -> Record:
    """Extract again favouring recall; keep that only if it makes an article."""
    tree = parse_html(html)
    if tree is None:
        return first
    saved = replace(trace) if trace is not None else None
    again = _judge(page, extract(tree, page.url, recall=True), config, trace)
    if again.kept:
        return again
    if trace is not None and saved is not None:  # explain the verdict returned
        for name in ("extracted", "body_from", "removed", "guess", "checks"):
            setattr(trace, name, getattr(saved, name))
    return first


def _judge(page: Page, found: Extraction, config: CleanConfig, trace: Trace | None) -> Record:
    """Strip, detect the language and run the quality rules on one extraction."""
    lines = [line.strip() for line in found.text.splitlines() if line.strip()]
    if trace is not None:
        trace.lap("extract")
        trace.extracted, trace.body_from = found.text, found.body_from
    if not lines:
        if found.js_shell:
            return reject_page(
                page,
                "quality:js_shell",
                "a JavaScript app shell: the page has no text without scripts",
                title=found.meta.title,
                value=1.0,
            )
        return reject_page(
            page, "empty", "the extractor found no article text", title=found.meta.title
        )

    stripped = strip_trailers(
        lines,
        {found.meta.title, *found.meta.title_forms} - {None},
        templates=config.templates,
        link_texts=found.link_texts,
    )
    text = "\n".join(stripped.lines)
    if trace is not None:
        trace.lap("strip")
        trace.removed = stripped.removed
    common = {"title": found.meta.title, "text": text or found.text}
    if not text:
        return reject_page(
            page,
            "quality:boilerplate_ratio",
            "every extracted line was a trailer",
            value=1.0,
            **common,
        )

    guess = detect_language(text, config.language_backend)
    if trace is not None:
        trace.lap("language")
        trace.guess = guess
    doc = Doc(
        text=text,
        lang=guess.lang,
        title=found.meta.title or "",
        link_texts=found.link_texts,
        js_shell=found.js_shell,
        raw_text=found.text,
        stripped_chars=sum(len(line) for line, why in stripped.removed if why != "title"),
    )
    failed = first_failure(doc, config.thresholds)
    if trace is not None:
        trace.lap("quality")
        trace.checks = check_all(doc, config.thresholds)
    lang_fields = {"lang": guess.lang or None, "lang_score": guess.score if guess.lang else None}
    if failed is not None:
        limit = f"{'<' if failed.minimum else '>'} {failed.threshold:g}"
        return reject_page(
            page,
            f"quality:{failed.rule}",
            f"{failed.rule} = {failed.value:.3g} ({limit})",
            value=failed.value,
            **common,
            **lang_fields,
        )
    if not guess.lang:
        return reject_page(page, "language", guess.detail, **common)
    if guess.score < config.lang_floor:
        return reject_page(
            page,
            "language",
            f"uncertain language: {guess.lang} at {guess.score:.2f} < {config.lang_floor}",
            value=guess.score,
            **common,
            **lang_fields,
        )
    if config.languages and guess.lang not in config.languages:
        return reject_page(
            page,
            "language",
            f"{guess.lang} is not wanted (wanted: {', '.join(config.languages)})",
            value=guess.score,
            **common,
            **lang_fields,
        )

    canonical = _canonical(page, found)
    article = Article(
        id=record_id(canonical),
        url=page.url,
        canonical_url=canonical,
        source=page.source,
        site=site_of(canonical),
        title=found.meta.title or lines[0][:300],
        text=text,
        lang=guess.lang,
        lang_score=round(guess.score, 4),
        fetched_at=page.fetched_at,
        content_hash=content_hash(text),
        word_count=doc.word_count,
        http_status=page.status,
        requested_url=page.requested_url,
        author=found.meta.author,
        published=found.meta.published,
        sitename=found.meta.sitename,
        description=found.meta.description,
        tags=found.meta.tags,
        image=found.meta.image,
    )
    return add_fingerprints(article)
