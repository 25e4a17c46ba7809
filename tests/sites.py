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


_SUBJECTS = [
    "The city council",
    "The regional health authority",
    "A group of local farmers",
    "The transport ministry",
    "Teachers at the northern school district",
    "The harbour workers' union",
    "A coalition of small businesses",
    "The national weather service",
    "Residents of the old quarter",
    "The state energy regulator",
    "Researchers at the university hospital",
    "The football club's new owner",
    "Volunteers from the food bank",
    "The provincial water board",
    "A consortium of technology firms",
    "The opposition party leader",
]
_VERBS = [
    "approved a plan to expand",
    "warned about delays to",
    "asked for an inquiry into",
    "announced new funding for",
    "criticised the cost of",
    "agreed to review",
    "opened a consultation on",
    "voted to postpone",
    "published a report on",
    "called for changes to",
    "signed a contract for",
    "raised concerns over",
]
_OBJECTS = [
    "the bus network",
    "the flood defences along the river",
    "night shifts at the hospital",
    "the school meals programme",
    "the new cycling lanes",
    "the harbour dredging project",
    "rents in the city centre",
    "the public library hours",
    "rural broadband",
    "the recycling scheme",
    "the airport's second runway",
    "the winter road gritting budget",
    "affordable housing on the old rail yard",
    "the tram extension",
    "youth sports facilities",
    "the market square renovation",
]
_WHEN = [
    "on Monday",
    "late on Tuesday",
    "after a long meeting on Wednesday",
    "on Thursday morning",
    "at the end of last week",
    "in a statement on Friday",
    "over the weekend",
    "earlier this month",
]
_CLOSERS = [
    "Officials said a final decision would follow before the end of the year.",
    "Critics argued that the timetable was unrealistic and the figures were too optimistic.",
    "The measure still needs the approval of the regional assembly, which meets next month.",
    "Local businesses said they had not been consulted and would press for a delay.",
    "A spokesperson declined to say how much the work would cost in total.",
    "Similar plans in neighbouring towns have run over budget in recent years.",
    "Residents will be able to comment on the proposal at two public meetings.",
    "The announcement came after months of pressure from community groups.",
]


def many_stories(n: int, seed: int = 7) -> list[Story]:
    """`n` distinct English news stories, generated from phrase lists (no two near-duplicates)."""
    import random

    out = []
    for i in range(n):
        rng = random.Random(seed * 1_000_003 + i)
        paragraphs = []
        for _ in range(6):
            sentences = [
                f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)} {rng.choice(_WHEN)}."
                for _ in range(2)
            ]
            sentences.append(rng.choice(_CLOSERS))
            paragraphs.append(" ".join(sentences))
        lead = f"Dispatch {i}: reported on day {i % 28 + 1} of the month by the city desk."
        title = f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)} ({i})"
        out.append(Story(f"2026/11/{i % 28 + 1:02d}/story-{i}", title, [lead, *paragraphs], "en"))
    return out
