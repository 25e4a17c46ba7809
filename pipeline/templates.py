"""Site-learned templates: a line that recurs on many pages of one site is that site's template.

No pattern library knows every site's furniture ("Follow NewsDesk on Telegram for the
latest updates" under every article), whatever its language. `SiteTemplates` keeps,
per site, how many pages it has seen and on how many of them each edge line appeared;
a line becomes a template line when the evidence is sufficient:

* it was seen on at least `min_pages` pages of the site, and
* on at least `min_share` of the site's pages, and
* it is short (at most `max_words` words): a template is a notice, not a paragraph.

Only whole lines at the edges of the body are counted and stripped (the first
`head` and last `tail` lines after trailer stripping, walking in from each edge while
lines are templates), so text that repeats inside articles (an agency dateline that
opens each first paragraph, a quote) is never touched: it is part of a longer line, or
it is not at an edge.

`TemplateHold` is the crawl-time companion: a site's first pages are held until the
site has `min_pages` pages (or the crawl ends), so they too lose the template lines
learned from the pages after them. Statistics persist across runs (`to_dict`/`from_dict`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from pipeline.trailers import line_words, normalise_line

#: Lines looked at from each edge of a page's body.
HEAD_LINES = 3
TAIL_LINES = 8
#: Distinct lines remembered per site; rarer ones are forgotten first.
MAX_LINES_PER_SITE = 4000


def edge_lines(lines: Sequence[str], head: int = HEAD_LINES, tail: int = TAIL_LINES) -> list[str]:
    """The normalised lines near the start and end of a body, each once."""
    picked = list(lines[:head]) + list(lines[max(head, len(lines) - tail) :])
    return list(dict.fromkeys(key for line in picked if (key := normalise_line(line))))


@dataclass
class SiteTemplates:
    min_pages: int = 5
    min_share: float = 0.5
    max_words: int = 30
    pages: Counter[str] = field(default_factory=Counter)
    lines: dict[str, Counter[str]] = field(default_factory=dict)
    #: Per site, the lines seen on at least `min_pages` pages: the only possible templates,
    #: so `templates` (asked for every page) looks at a handful of lines, not thousands.
    frequent: dict[str, set[str]] = field(default_factory=dict, repr=False)

    def observe(self, site: str, lines: Sequence[str]) -> None:
        """Count one page of `site`."""
        self.pages[site] += 1
        counts = self.lines.setdefault(site, Counter())
        frequent = self.frequent.setdefault(site, set())
        for key in edge_lines(lines):
            if line_words(key) <= self.max_words:
                counts[key] += 1
                if counts[key] >= self.min_pages:
                    frequent.add(key)
        if len(counts) > MAX_LINES_PER_SITE:
            for key, _n in counts.most_common()[MAX_LINES_PER_SITE // 2 :]:
                del counts[key]
                frequent.discard(key)

    def templates(self, site: str) -> frozenset[str]:
        """The site's template lines (normalised), given the evidence so far."""
        seen = self.pages[site]
        if seen < self.min_pages:
            return frozenset()
        floor = max(self.min_pages, self.min_share * seen)
        counts = self.lines.get(site, {})
        return frozenset(k for k in self.frequent.get(site, ()) if counts[k] >= floor)

    def to_dict(self) -> dict:
        return {"pages": dict(self.pages), "lines": {s: dict(c) for s, c in self.lines.items()}}

    @classmethod
    def from_dict(cls, data: dict, **settings: float) -> SiteTemplates:
        found = cls(**settings)
        found.pages.update(data.get("pages", {}))
        found.lines = {s: Counter(c) for s, c in data.get("lines", {}).items()}
        found.frequent = {
            s: {k for k, n in c.items() if n >= found.min_pages} for s, c in found.lines.items()
        }
        return found


def strip_template_lines(
    lines: Sequence[str], templates: frozenset[str]
) -> tuple[list[str], list[str]]:
    """Remove template lines at the head and tail edges; returns (kept, removed)."""
    if not templates:
        return list(lines), []
    # Walk in from each edge, normalising only the lines looked at.
    start, end = 0, len(lines)
    while start < end and normalise_line(lines[start]) in templates:
        start += 1
    while end > start and normalise_line(lines[end - 1]) in templates:
        end -= 1
    return list(lines[start:end]), list(lines[:start]) + list(lines[end:])


@dataclass
class TemplateHold:
    """Holds each site's first pages until its templates can be judged.

    `admit(site, item, lines)` returns the items ready to go on (none while the site
    warms up; all held ones once it has `min_pages` pages); `drain()` returns the rest.
    `finish(item, templates)` is the caller's: it strips and passes an item on.
    """

    stats: SiteTemplates
    held: dict[str, list] = field(default_factory=dict)

    def admit(self, site: str, item: object, lines: Sequence[str]) -> list:
        self.stats.observe(site, lines)
        if self.stats.pages[site] < self.stats.min_pages:
            self.held.setdefault(site, []).append(item)
            return []
        return [*self.held.pop(site, []), item]

    def drain(self) -> Iterable:
        for site in list(self.held):
            yield from self.held.pop(site)
