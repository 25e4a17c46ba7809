"""Site-learned templates: unknown furniture goes once a site repeats it; shared article text stays."""

from __future__ import annotations

from pathlib import Path

from pipeline.templates import SiteTemplates, TemplateHold, strip_template_lines
from tests.conftest import winnow_cmd
from tests.sites import stories_from_trailer_pages, write_site
from warehouse.query import connect
from winnow.demo.server import Site

TIP_LINE = "The NewsDesk tip line is open day and night on 0800 555 0100"


def test_a_line_on_most_pages_of_a_site_becomes_a_template() -> None:
    stats = SiteTemplates(min_pages=5, min_share=0.5)
    for i in range(6):
        stats.observe("news.example", [f"Story {i} opens.", f"Story {i} middle.", TIP_LINE])
    stats.observe("other.example", ["Other story.", TIP_LINE])
    assert stats.templates("news.example") == frozenset({TIP_LINE.casefold()})
    assert stats.templates("other.example") == frozenset()  # one page is no evidence


def test_templates_are_stripped_only_at_the_edges() -> None:
    templates = frozenset({"tip of the day"})
    kept, removed = strip_template_lines(
        ["Tip of the day", "Body.", "Tip of the day", "More.", "Tip of the day"], templates
    )
    assert kept == ["Body.", "Tip of the day", "More."]
    assert removed == ["Tip of the day", "Tip of the day"]


def test_hold_releases_a_sites_first_pages_once_evidence_is_in() -> None:
    hold = TemplateHold(SiteTemplates(min_pages=3))
    assert hold.admit("s", "a", ["x"]) == []
    assert hold.admit("s", "b", ["y"]) == []
    assert hold.admit("s", "c", ["z"]) == ["a", "b", "c"]
    assert hold.admit("s", "d", ["w"]) == ["d"]
    assert hold.admit("t", "e", ["v"]) == []
    assert list(hold.drain()) == ["e"]


def test_statistics_round_trip() -> None:
    stats = SiteTemplates()
    stats.observe("s", ["a line", "b line"])
    again = SiteTemplates.from_dict(stats.to_dict())
    assert again.pages == stats.pages and again.lines == stats.lines


TEN_LANGS = ["en", "es", "pt", "fr", "de", "it", "nl", "id", "tr", "pl"]


def _crawl_site(
    tmp_path: Path, site_factory, warehouse: Path, stories=None, **site_kw
) -> list[str]:
    """Crawl a 10-page site (one story per language unless given) and return the article texts."""
    stories = stories or stories_from_trailer_pages(TEN_LANGS)
    root = write_site(tmp_path / "site", stories, **site_kw)
    with site_factory(Site("news", root)) as sites:
        winnow_cmd(
            "crawl",
            "--url",
            sites["news"].url("/sitemap.xml"),
            "--warehouse",
            str(warehouse),
            "--allow-private",
        )
    return [row[0] for row in connect(warehouse).execute("select text from articles").fetchall()]


def test_a_trailer_no_pattern_knows_is_gone_after_the_crawl(
    tmp_path: Path, site_factory, warehouse: Path
) -> None:
    texts = _crawl_site(tmp_path, site_factory, warehouse, extra_after=[TIP_LINE])
    assert len(texts) == 10
    assert not [t for t in texts if TIP_LINE in t]
    assert "newsdesk tip line" in (warehouse / "_state" / "templates.json").read_text().lower()


def test_a_shared_dateline_in_the_articles_own_text_is_kept(
    tmp_path: Path, site_factory, warehouse: Path
) -> None:
    dateline = "BRUSSELS (Agency Wire) — This report was filed from the bureau, which covers all ten stories in this series."
    stories = stories_from_trailer_pages(TEN_LANGS)
    for story in stories:
        story.paragraphs[0] = f"{dateline} {story.paragraphs[0]}"
    texts = _crawl_site(tmp_path, site_factory, warehouse, stories)
    assert len(texts) == 10
    assert all(t.startswith(dateline) for t in texts)
