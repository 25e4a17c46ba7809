"""Small generated news sites for crawl tests: article pages plus a sitemap and an RSS feed."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from pathlib import Path

TRAILER_PAGES = Path(__file__).resolve().parent / "trailer_pages"


@dataclass
class Story:
    slug: str
    title: str
    paragraphs: list[str]
    lang: str = "en"


def stories_from_trailer_pages(langs: list[str] | None = None) -> list[Story]:
    """Real article prose, one story per language page in tests/trailer_pages."""
    out = []
    for path in sorted(TRAILER_PAGES.glob("*.json")):
        data = json.loads(path.read_text("utf-8"))
        if langs is None or data["lang"] in langs:
            out.append(
                Story(
                    f"2026/11/03/story-{data['lang']}",
                    data["title"],
                    data["paragraphs"],
                    data["lang"],
                )
            )
    return out


def site_chrome(links: int) -> str:
    """Navigation and a sidebar of `links` teaser links: the weight of a real news page."""
    items = "".join(
        f'<li><a href="/2026/10/{i % 28 + 1:02d}/related-story-{i}/">Related story number {i} about the city council budget</a>'
        f"<span> A short teaser sentence for story {i}.</span></li>"
        for i in range(links)
    )
    return f'<aside class="sidebar"><h3>Most read</h3><ul>{items}</ul></aside>'


def article_html(
    story: Story, extra_after: list[str] = (), extra_before: list[str] = (), chrome: int = 0
) -> str:
    paras = [*extra_before, *story.paragraphs, *extra_after]
    body = "\n".join(f"<p>{html.escape(p)}</p>" for p in paras)
    aside = site_chrome(chrome) if chrome else ""
    return f"""<!DOCTYPE html>
<html lang="{story.lang}"><head><meta charset="utf-8"><title>{html.escape(story.title)}</title>
<link rel="canonical" href="{{{{BASE}}}}/{story.slug}/"></head>
<body><header><nav><a href="/">Home</a> <a href="/world/">World</a></nav></header>
<main><article><h1>{html.escape(story.title)}</h1>
<div class="entry-content">
{body}
</div></article>{aside}</main>
<footer><p>&copy; 2026 Example News</p></footer></body></html>
"""


def write_site(
    root: Path,
    stories: list[Story],
    extra_after: list[str] = (),
    extra_before: list[str] = (),
    chrome: int = 0,
) -> Path:
    """Write article pages, /sitemap.xml and /feed.xml under `root` (served with {{BASE}})."""
    root.mkdir(parents=True, exist_ok=True)
    for story in stories:
        page = root / story.slug / "index.html"
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(article_html(story, extra_after, extra_before, chrome), "utf-8")
    urls = "\n".join(f"<url><loc>{{{{BASE}}}}/{s.slug}/</loc></url>" for s in stories)
    (root / "sitemap.xml").write_text(
        f'<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n{urls}\n</urlset>\n',
        "utf-8",
    )
    items = "\n".join(
        f"<item><title>{html.escape(s.title)}</title><link>{{{{BASE}}}}/{s.slug}/</link></item>"
        for s in stories
    )
    (root / "feed.xml").write_text(
        f'<?xml version="1.0"?>\n<rss version="2.0"><channel><title>t</title>\n{items}\n</channel></rss>\n',
        "utf-8",
    )
    return root


def many_stories(n: int) -> list[Story]:
    """`n` distinct articles: the trailer-page stories, each numbered and rotated."""
    base = stories_from_trailer_pages(["en", "fr", "es", "de", "it", "pt", "nl"])
    out = []
    for i in range(n):
        story = base[i % len(base)]
        k = i % len(story.paragraphs)
        paras = story.paragraphs[k:] + story.paragraphs[:k]
        lead = f"Report {i}: this is dispatch number {i} of the series, filed on day {i % 28 + 1} of the month."
        out.append(
            Story(
                f"2026/11/{i % 28 + 1:02d}/story-{i}",
                f"{story.title} ({i})",
                [lead, *paras],
                story.lang,
            )
        )
    return out
