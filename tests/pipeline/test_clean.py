"""The cleaning stage on the pages the product was born from, and on bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.clean import Trace, clean
from pipeline.config import CleanConfig
from pipeline.page import Page
from winnow.demo.run import SITES_DIR

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
SEED_PAGES = {
    "seed_000": SITES_DIR / "meridian/2026/11/04/state-department-iraq-troops/index.html",
    "seed_003": SITES_DIR / "meridian/2026/11/05/us-replied-iraq-withdrawal/index.html",
}
TRAILERS = [
    "Source url",
    "قالب وردپرس",
    "Leave a Reply",
    "Your email address will not be published",
    "Back to top",
    "Be the first to comment",
    "Required fields are marked",
]


def page_of(path: Path, url: str = "http://meridian.example/article/", **kw) -> Page:
    body = path.read_bytes().replace(b"{{BASE}}", b"http://meridian.example")
    return Page(url=url, body=body, headers={"content-type": "text/html; charset=utf-8"}, **kw)


@pytest.mark.parametrize("name", sorted(SEED_PAGES))
def test_seed_pages_come_out_as_their_article_bodies(name: str) -> None:
    record = clean(page_of(SEED_PAGES[name]))
    assert record.kept, record
    golden = (GOLDEN / f"{name}.txt").read_text("utf-8")
    assert record.text == golden.rstrip("\n")
    for trailer in TRAILERS:
        assert trailer not in record.text
    assert record.text.splitlines()[0] != record.title  # the title is a column, not the first line
    assert record.lang == "en" and record.lang_score > 0.9


def test_explain_trace_names_the_rule_for_each_stripped_line() -> None:
    trace = Trace()
    clean(page_of(SEED_PAGES["seed_000"]), trace=trace)
    removed = dict(trace.removed)
    assert removed["Leave a Reply"].startswith("comment_form[")
    assert removed[
        "Your email address will not be published. Required fields are marked *"
    ].startswith("comment_form[")
    assert "title" in removed.values()
    assert {c.rule for c in trace.checks} >= {"too_short", "stopword_ratio", "repetition"}


@pytest.mark.parametrize(
    ("page", "reason"),
    [
        (Page(url="http://x.example/a", body=b"", status=200), "empty"),
        (Page(url="http://x.example/a", body=b"  \n\t ", status=200), "empty"),
        (Page(url="http://x.example/a", body=b"<html>gone</html>", status=404), "http_status"),
        (
            Page(
                url="http://x.example/a",
                body=b"%PDF-1.7 binary",
                headers={"content-type": "text/html"},
            ),
            "not_html",
        ),
        (
            Page(
                url="http://x.example/a",
                body=b"\xff\xd8\xff\xe0\x00\x10JFIF",
                headers={"content-type": "text/html"},
            ),
            "not_html",
        ),
        (
            Page(
                url="http://x.example/a", body=b"{}", headers={"content-type": "application/json"}
            ),
            "not_html",
        ),
        (
            Page(url="http://x.example/a", body=b"<html><body><p>hi</p></body></html>"),
            "quality:too_short",
        ),
        (
            Page(
                url="http://x.example/a",
                body=b"<html><body><p>12 345 678 -- 9.10 / 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60.</p></body></html>",
            ),
            "language",
        ),
    ],
)
def test_bad_pages_are_rejects_with_a_reason(page: Page, reason: str) -> None:
    record = clean(page)
    assert not record.kept
    assert record.reason == reason
    assert record.detail


def test_page_over_the_size_limit_is_too_large() -> None:
    record = clean(
        Page(url="http://x.example/a", body=b"<p>" + b"a" * 2000), CleanConfig(max_bytes=1000)
    )
    assert record.reason == "too_large"


def test_unwanted_language_is_a_language_reject() -> None:
    record = clean(page_of(SEED_PAGES["seed_003"]), CleanConfig(languages=("fr", "es")))
    assert record.reason == "language"
    assert "en is not wanted" in record.detail
    assert record.text  # the text stays visible for auditing
