"""Hostile and broken pages shared by the tests of this folder."""

from __future__ import annotations

from tests.sites import Story, article_html, stories_from_trailer_pages

PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n" + bytes(
    range(256)
)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + bytes(range(256))
JS_SHELL = b"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Courier</title>
<script defer src="/static/js/main.8a3f1c2e.js"></script></head>
<body><noscript>You need to enable JavaScript to run this app.</noscript><div id="root"></div>
<script src="/static/js/vendors.chunk.js"></script></body></html>"""


def story(lang: str) -> Story:
    """The real article prose of tests/trailer_pages in `lang`."""
    return stories_from_trailer_pages([lang])[0]


def page_html(lang: str, meta: str | None = "utf-8") -> str:
    """A real article page in `lang`; `meta` is what its <meta charset> claims (None: no tag)."""
    text = article_html(story(lang)).replace("{{BASE}}", "http://news.example")
    if meta is None:
        return text.replace('<meta charset="utf-8">', "")
    return text.replace('<meta charset="utf-8">', f'<meta charset="{meta}">')
