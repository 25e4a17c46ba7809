"""What the cleaning stage produces: an Article to keep or a Reject with its reason.

Every fetched page ends as exactly one of the two. Both are plain dataclasses; the
warehouse schema (warehouse/schema.py) maps their fields to Parquet columns.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

from pipeline.page import Page
from pipeline.urls import canonical_url

#: How much of a rejected page's text is kept, so a user can audit the rule.
REJECT_TEXT_SAMPLE = 2000


def record_id(url: str) -> str:
    """A stable id for a page: 16 hex chars of the SHA-256 of its canonical URL."""
    return hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]


@dataclass(slots=True)
class Article:
    """A clean article: the product."""

    id: str
    url: str
    canonical_url: str
    source: str
    site: str
    title: str
    text: str
    lang: str
    lang_score: float
    fetched_at: datetime
    content_hash: str
    word_count: int
    http_status: int = 200
    author: str | None = None
    published: datetime | None = None
    sitename: str | None = None
    description: str | None = None
    tags: list[str] = field(default_factory=list)
    image: str | None = None
    spin_score: float | None = None
    minhash: bytes | None = None
    skeleton_hash: bytes | None = None
    #: The URL first asked for, when redirects led to `url`.
    requested_url: str | None = None

    @property
    def kept(self) -> bool:
        return True


@dataclass(slots=True)
class Reject:
    """A page that is not an article, with a machine-readable reason.

    `reason` is the name of the filter that rejected it (`http_status`, `language`,
    `quality:too_short`, `duplicate_content`, ...); `detail` says why in words and
    `value` carries the filter's measured value when it has one.
    """

    id: str
    url: str
    source: str
    reason: str
    detail: str
    fetched_at: datetime
    http_status: int | None = None
    value: float | None = None
    title: str | None = None
    text: str | None = None
    lang: str | None = None
    lang_score: float | None = None
    duplicate_of: str | None = None
    similarity: float | None = None

    @property
    def kept(self) -> bool:
        return False

    def __post_init__(self) -> None:
        if self.text and len(self.text) > REJECT_TEXT_SAMPLE:
            self.text = self.text[:REJECT_TEXT_SAMPLE]


Record = Article | Reject


def reject_page(page: Page, reason: str, detail: str, **extra: object) -> Reject:
    """The Reject for a fetched page: its id, URL, source, fetch time and status filled in."""
    return Reject(
        id=record_id(canonical_url(page.url)),
        url=page.url,
        source=page.source,
        reason=reason,
        detail=detail,
        fetched_at=page.fetched_at,
        http_status=page.status,
        **extra,
    )
