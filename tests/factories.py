"""Plain records for tests: articles and rejects with sensible defaults."""

from __future__ import annotations

from datetime import UTC, datetime

from pipeline.fingerprints import content_hash
from pipeline.record import Article, Reject, record_id
from pipeline.urls import canonical_url, site_of

DAY = datetime(2026, 11, 3, 9, 30, tzinfo=UTC)


def make_article(
    url: str = "http://news.example/2026/11/03/story",
    text: str = "A story about things. " * 20,
    lang: str = "en",
    **kw,
) -> Article:
    canonical = canonical_url(url)
    fields = dict(
        id=record_id(canonical),
        url=url,
        canonical_url=canonical,
        source="example",
        site=site_of(url),
        title="A story",
        text=text,
        lang=lang,
        lang_score=0.99,
        fetched_at=DAY,
        content_hash=content_hash(text),
        word_count=len(text.split()),
    )
    fields.update(kw)
    return Article(**fields)


def make_reject(
    url: str = "http://news.example/tag/x", reason: str = "quality:not_prose", **kw
) -> Reject:
    fields = dict(
        id=record_id(url), url=url, source="example", reason=reason, detail="test", fetched_at=DAY
    )
    fields.update(kw)
    return Reject(**fields)
