"""Discovery of article URLs in every format the spider reads."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime

import pytest

from spiders.discovery import article_score, discover

BASE = "http://news.example"

RSS = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>x</title>
<item><title>A</title><link>http://news.example/2026/11/03/a-story-here/</link><pubDate>Tue, 03 Nov 2026 08:00:00 GMT</pubDate></item>
<item><title>B</title><guid>http://news.example/2026/11/04/b-story-here/</guid></item>
</channel></rss>"""
ATOM = b"""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>x</title>
<entry><title>A</title><link rel="alternate" href="/2026/11/03/a-story-here/"/><updated>2026-11-03T08:00:00Z</updated></entry>
<entry><title>B</title><link href="http://news.example/b"/><published>2026-11-04T08:00:00+01:00</published></entry>
</feed>"""
JSONFEED = json.dumps(
    {
        "version": "https://jsonfeed.org/version/1.1",
        "items": [
            {"id": "1", "url": "http://news.example/j1", "date_published": "2026-11-05T10:00:00Z"},
            {"id": "2"},
        ],
    }
).encode()
SITEMAP = b"""<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<url><loc>http://news.example/s1</loc><lastmod>2026-11-01</lastmod></url><url><loc>http://news.example/s2</loc></url></urlset>"""
NEWS_SITEMAP = b"""<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
<url><loc>http://news.example/n1</loc><news:news><news:publication><news:name>N</news:name><news:language>en</news:language></news:publication>
<news:publication_date>2026-11-06T09:30:00+00:00</news:publication_date><news:title>T</news:title></news:news></url></urlset>"""
INDEX = b"""<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<sitemap><loc>http://news.example/sitemap-1.xml.gz</loc></sitemap><sitemap><loc>http://news.example/sitemap-news.xml</loc></sitemap></sitemapindex>"""


def urls(body: bytes, url: str = BASE + "/feed") -> list[tuple[str, str, datetime | None]]:
    return [(f.url, f.kind, f.published) for f in discover(body, url)]


def test_rss_items_with_dates() -> None:
    assert urls(RSS) == [
        (
            "http://news.example/2026/11/03/a-story-here/",
            "article",
            datetime(2026, 11, 3, 8, tzinfo=UTC),
        ),
        ("http://news.example/2026/11/04/b-story-here/", "article", None),
    ]


def test_atom_entries_resolve_relative_links() -> None:
    assert urls(ATOM) == [
        (
            "http://news.example/2026/11/03/a-story-here/",
            "article",
            datetime(2026, 11, 3, 8, tzinfo=UTC),
        ),
        ("http://news.example/b", "article", datetime(2026, 11, 4, 7, tzinfo=UTC)),
    ]


def test_json_feed() -> None:
    assert urls(JSONFEED) == [
        ("http://news.example/j1", "article", datetime(2026, 11, 5, 10, tzinfo=UTC))
    ]


def test_sitemap_and_gzipped_sitemap() -> None:
    expected = [
        ("http://news.example/s1", "article", datetime(2026, 11, 1, tzinfo=UTC)),
        ("http://news.example/s2", "article", None),
    ]
    assert urls(SITEMAP, BASE + "/sitemap.xml") == expected
    assert urls(gzip.compress(SITEMAP), BASE + "/sitemap.xml.gz") == expected


def test_news_sitemap_gives_publication_dates() -> None:
    assert urls(NEWS_SITEMAP, BASE + "/news.xml") == [
        ("http://news.example/n1", "article", datetime(2026, 11, 6, 9, 30, tzinfo=UTC))
    ]


def test_sitemap_index_lists_sitemaps_gzipped_or_not() -> None:
    assert [(u, k) for u, k, _ in urls(gzip.compress(INDEX), BASE + "/sitemap_index.xml.gz")] == [
        ("http://news.example/sitemap-1.xml.gz", "sitemap"),
        ("http://news.example/sitemap-news.xml", "sitemap"),
    ]


def test_robots_txt_sitemaps() -> None:
    body = b"User-agent: *\nDisallow: /private/\nSitemap: http://news.example/sitemap.xml\nsitemap: /news.xml\n"
    assert urls(body, BASE + "/robots.txt") == [
        ("http://news.example/sitemap.xml", "sitemap", None),
        ("http://news.example/news.xml", "sitemap", None),
    ]


def test_homepage_links_are_scored_as_article_like() -> None:
    page = b"""<html><body>
    <a href="/2026/11/03/council-approves-budget/">story</a>
    <a href="/world/europe/france-strikes-paralyse-rail-network-12345678">story</a>
    <a href="/tag/politics/">tag</a><a href="/category/world/">cat</a><a href="/author/jane-doe/">author</a>
    <a href="/search?q=x">search</a><a href="/login">login</a><a href="/feed/">feed</a><a href="/photo.jpg">img</a>
    <a href="http://elsewhere.example/2026/11/03/other-site-story/">other host</a><a href="/about">about</a>
    <a href="/2026/11/">November 2026</a><a href="/2026/10/">October 2026</a>
    </body></html>"""
    assert [u for u, _, _ in urls(page, BASE + "/")] == [
        "http://news.example/2026/11/03/council-approves-budget/",
        "http://news.example/world/europe/france-strikes-paralyse-rail-network-12345678",
    ]


@pytest.mark.parametrize(
    "url",
    [
        "http://x.example/tag/a-b-c/",
        "http://x.example/2026/11/03/story?replytocom=4",
        "http://x.example/a/b/c.pdf",
        "http://x.example/2026/11/",
        "http://x.example/2026/",
        "http://x.example/news/2026/11/04/",
        "http://x.example/2026/11/04",
    ],
)
def test_listing_and_media_urls_never_score(url: str) -> None:
    assert article_score(url) == 0
