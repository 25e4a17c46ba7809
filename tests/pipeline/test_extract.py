"""Extraction: trafilatura's body, and the page's own JSON-LD body when the markup hides it."""

from __future__ import annotations

import json

import pytest

from pipeline.clean import Trace, clean
from pipeline.extract import BODY_FALLBACK_WORDS, extract, parse_html
from pipeline.page import Page
from tests.conftest import ROOT, winnow_cmd
from winnow.cli import _explain

STATED = [
    "The regional council approved the new bus network on Thursday after a two-year "
    "consultation that drew more than four thousand written responses from residents.",
    "Under the plan, twelve routes will run every ten minutes during the day, and night "
    "services will return to the three largest towns for the first time since 2019.",
    "Councillors who voted against it said rural villages would lose their only direct "
    "link to the hospital, and asked for a review of the timetable within a year.",
    "The operator expects to hire sixty drivers before the network starts in September, "
    "and said fares would stay frozen until the end of next year at the earliest.",
    "Residents of the eastern suburbs, where buses now run every half hour, welcomed the "
    "change but asked for shelters at the new stops before the winter.",
    "The council will publish the full timetable in June, together with the results of a "
    "survey on a cheaper weekly ticket for students and pensioners.",
]


def page_html(article_body: object, shown: str, kind: str = "NewsArticle") -> str:
    """A page whose markup shows `shown` and whose JSON-LD states `article_body`."""
    ld = [
        {"@context": "https://schema.org", "@type": "WebPage", "name": "Buses"},
        {"@context": "https://schema.org", "@type": kind, "headline": "Buses approved"},
    ]
    if article_body is not None:
        ld[1]["articleBody"] = article_body
    return (
        "<html><head><title>Buses approved</title>"
        f'<script type="application/ld+json">{json.dumps(ld)}</script></head>'
        f"<body><article><h1>Buses approved</h1>{shown}</article></body></html>"
    )


#: What the markup shows of the story: a photo caption (as on pages that render the body
#: by script), long enough (250+ characters) that trafilatura takes it for the article.
CAPTION = (
    "<figure><img src='/bus.jpg'><figcaption><p>The first of the new electric buses "
    "waits at the central depot on Monday morning before its test run through the "
    "old town, the university quarter and the hospital district, where the council "
    "plans a new interchange with the regional trains next spring. Photo: AP</p>"
    "</figcaption></figure>"
)


def test_a_body_the_markup_hides_comes_from_the_pages_json_ld() -> None:
    found = extract(parse_html(page_html("\n".join(STATED), CAPTION)), "http://x.example/a")
    assert found.body_from == "json-ld"
    assert found.text.splitlines() == STATED
    assert found.meta.title == "Buses approved"  # the article object, not the WebPage before it


def test_html_in_the_stated_body_becomes_plain_lines() -> None:
    stated = "".join(f"<p>{p} &amp; more.</p>" for p in STATED)
    found = extract(parse_html(page_html(stated, CAPTION)), "http://x.example/a")
    assert found.text.splitlines() == [f"{p} & more." for p in STATED]


@pytest.mark.parametrize(
    "article_body",
    [None, "A short teaser of the story only.", 42, ["not", "text"]],
    ids=["absent", "short", "number", "list"],
)
def test_the_markup_stays_the_body_without_a_longer_stated_one(article_body) -> None:
    shown = "".join(f"<p>{p}</p>" for p in STATED)
    found = extract(parse_html(page_html(article_body, shown)), "http://x.example/a")
    assert found.body_from == "markup"
    assert found.text.splitlines()[-len(STATED) :] == STATED


def test_a_stated_body_about_as_long_as_the_extracted_one_is_not_used() -> None:
    # the markup holds the article: a stated body (here a summary of 100+ words) of
    # comparable length must not replace its paragraphs
    shown = "".join(f"<p>{p}</p>" for p in STATED)
    stated = " ".join(STATED[1:]) + " A summary written for search engines."
    assert len(stated.split()) >= BODY_FALLBACK_WORDS
    found = extract(parse_html(page_html(stated, shown)), "http://x.example/a")
    assert found.body_from == "markup"
    assert found.text.splitlines()[-len(STATED) :] == STATED


def test_explain_says_when_the_body_came_from_json_ld() -> None:
    page = Page(
        url="http://x.example/2026/01/05/buses/",
        body=page_html("\n".join(STATED), CAPTION).encode(),
        headers={"content-type": "text/html; charset=utf-8"},
    )
    trace = Trace()
    record = clean(page, trace=trace)
    assert record.kept, record
    assert trace.body_from == "json-ld"
    assert "rural villages" in record.text and "Photo: AP" not in record.text
    assert "body: the page's JSON-LD articleBody" in _explain("buses.html", record, trace)


def test_extract_command_goes_on_past_a_missing_file_and_exits_1(tmp_path) -> None:
    page = ROOT / "tests" / "corpus" / "01_en_breaking.html"
    missing = tmp_path / "missing.html"
    proc = winnow_cmd("extract", str(missing), str(page), check=False)
    assert proc.returncode == 1
    (line,) = proc.stdout.splitlines()
    assert json.loads(line)["file"] == str(page) and json.loads(line)["kept"]
    assert json.loads(proc.stderr)["file"] == str(missing)
    assert winnow_cmd("extract", str(page)).returncode == 0
