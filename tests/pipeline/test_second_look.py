"""clean()'s second look: when trafilatura's balanced extraction misses the article, the
page is extracted again favouring recall, and that result is kept if it makes an Article.

The pages in tests/pipeline/pages/ are our own text in the markup of two real pages from
trafilatura's eval set where balanced extraction fails and recall works:

- article_in_sidebar.html (like OnlineMarketing.de): a broken theme nests the whole
  article in `<aside class="sidebar">`. Tree cleaning deletes every <aside> and with it
  every <p> of the page, so balanced extraction keeps the header's tagline (too short).
  Favouring recall, trafilatura undoes those deletions when they leave no <p> at all.
- article_under_mega_menu.html (like bmas.de): a navigation made of custom elements
  (no <a>, so justext sees no link density) shown twice, for desktop and mobile. The
  article is short next to the whole page, so balanced extraction escalates, and the
  justext candidate wins: justext rates the page <title> near-good and the article good,
  and keeps every short menu line between them (repetition). Favouring recall, trafilatura
  skips that escalation and returns the article.

The precondition (balanced extraction alone misses the article, and clean() without the
second look rejects the page) is asserted too, so these tests fail when trafilatura's
behaviour changes as well as when the second look is removed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from lxml.html import HtmlElement

import pipeline.clean as clean_module
from pipeline.clean import Trace, clean
from pipeline.extract import Extraction, extract, parse_html
from pipeline.page import Page
from pipeline.record import Article, Reject

PAGES = Path(__file__).resolve().parent / "pages"
RECALL = "markup, favouring recall"


@dataclass(frozen=True)
class Case:
    file: str
    url: str
    #: clean()'s verdict on the balanced extraction alone.
    first_reason: str
    #: The start of each article paragraph.
    paragraphs: tuple[str, ...]
    #: Lines of the page's chrome that must not reach the article.
    junk: tuple[str, ...]


CASES = {
    "article_in_sidebar": Case(
        file="article_in_sidebar.html",
        url="https://tidewater.example/news/night-ferries-return/",
        first_reason="quality:too_short",
        paragraphs=(
            "For three winters the last boat left the quay",
            "Under the new timetable two vessels will share the route",
            "The harbour master, Ines Calloway, said",
            "Not everyone is pleased.",
            "Crew training starts next week",
        ),
        junk=("Everything that moves along the estuary.", "Local news", "Jobs board"),
    ),
    "article_under_mega_menu": Case(
        file="article_under_mega_menu.html",
        url="https://labour.example/press/heatwave-rules/",
        first_reason="quality:repetition",
        paragraphs=(
            "From the first of June, employers whose staff work outdoors",
            "The amendment obliges employers to move heavy physical work",
            "Building sites, road maintenance crews, parcel delivery",
            "Employers must now name a person on each site",
            "Trade unions welcomed the change",
            "The ministry said it would publish a checklist",
        ),
        junk=("Skip to content", "Overview: Work and Employment", "Job seekers", "Podcasts"),
    ),
}


def page_of(file: str, url: str) -> Page:
    body = (PAGES / file).read_bytes()
    return Page(url=url, body=body, headers={"content-type": "text/html; charset=utf-8"})


def article_share(text: str, paragraphs: tuple[str, ...]) -> float:
    """Share of the text's characters in lines that are article paragraphs."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    ours = sum(len(line) for line in lines if line.startswith(paragraphs))
    return ours / max(sum(map(len, lines)), 1)


@pytest.fixture
def extractions(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """The `recall` flag of each extraction clean() runs, in order."""
    calls: list[bool] = []

    def spy(tree: HtmlElement, url: str, recall: bool = False) -> Extraction:
        calls.append(recall)
        return extract(tree, url, recall=recall)

    monkeypatch.setattr(clean_module, "extract", spy)
    return calls


@pytest.mark.parametrize("name", sorted(CASES))
def test_balanced_extraction_alone_misses_the_article(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = CASES[name]
    tree = parse_html((PAGES / case.file).read_text("utf-8"))
    assert tree is not None
    found = extract(tree, case.url)
    assert found.body_from == "markup"
    assert article_share(found.text, case.paragraphs) < 0.5, found.text[:500]
    assert any(junk in found.text.splitlines() for junk in case.junk)

    monkeypatch.setattr(clean_module, "SECOND_LOOK", frozenset())
    first = clean(page_of(case.file, case.url))
    assert isinstance(first, Reject)
    assert first.reason == case.first_reason


@pytest.mark.parametrize("name", sorted(CASES))
def test_second_look_keeps_the_article(name: str, extractions: list[bool]) -> None:
    case = CASES[name]
    trace = Trace()
    record = clean(page_of(case.file, case.url), trace=trace)

    assert isinstance(record, Article), record
    assert extractions == [False, True]
    assert trace.body_from == RECALL
    lines = record.text.splitlines()
    for start in case.paragraphs:
        assert sum(line.startswith(start) for line in lines) == 1, start
    assert article_share(record.text, case.paragraphs) == 1.0, record.text
    for junk in case.junk:
        assert junk not in record.text
    assert record.lang == "en"


def test_junk_page_stays_rejected_after_the_second_look(extractions: list[bool]) -> None:
    """An empty tag archive in the same sidebar markup: recall finds nothing better."""
    trace = Trace()
    record = clean(
        page_of("empty_tag_archive.html", "https://tidewater.example/tag/lighthouses/"),
        trace=trace,
    )
    assert isinstance(record, Reject)
    assert record.reason in clean_module.SECOND_LOOK
    assert extractions == [False, True]  # the second look ran, and was dropped
    assert trace.body_from == "markup"  # the trace explains the verdict returned
