"""Broken pages through the cleaning stage: each gets its exact reject, or its right text.

The same pages go through a real crawl in test_crawl.py; here `clean` is called
directly, and the pool's time bound is exercised with a real slow page.
"""

from __future__ import annotations

import codecs
import html

import pytest

from pipeline.clean import Trace, clean
from pipeline.config import DEFAULT_CONFIG, CleanConfig
from pipeline.decode import decode_html
from pipeline.extract import MAX_DEPTH
from pipeline.page import Page
from pipeline.pool import clean_bounded_sync, start_pool
from pipeline.record import Article, Reject
from tests.hostile.pages import JPEG, JS_SHELL, PDF, page_html, story

URL = "http://news.example/2026/11/03/story/"


def fetched(body: bytes, content_type: str = "text/html; charset=utf-8", **kw) -> Page:
    return Page(url=URL, body=body, headers={"content-type": content_type}, **kw)


def reject_of(page: Page, config: CleanConfig = DEFAULT_CONFIG) -> Reject:
    record = clean(page, config)
    assert isinstance(record, Reject), record
    assert record.detail
    return record


@pytest.mark.parametrize(
    ("body", "reason"),
    [(b"", "empty"), (b" \r\n\t \n   \x0c", "empty"), (PDF, "not_html"), (JPEG, "not_html")],
    ids=["empty", "whitespace", "pdf_as_html", "jpeg_as_html"],
)
def test_bodies_that_are_no_page(body: bytes, reason: str) -> None:
    assert reject_of(fetched(body, "text/html")).reason == reason


def test_truncated_html_keeps_what_arrived() -> None:
    full = page_html("en").encode()
    paragraphs = story("en").paragraphs
    cut = (
        full.index(html.escape(paragraphs[-1]).encode()) + 40
    )  # mid last paragraph, no closing tags
    record = clean(fetched(full[:cut]))
    assert isinstance(record, Article), record
    for paragraph in paragraphs[:-1]:
        assert paragraph in record.text
    assert record.text.splitlines()[-1] == paragraphs[-1][:40]


@pytest.mark.parametrize("closed", [False, True], ids=["unclosed", "closed"])
def test_markup_nested_100000_deep_is_too_deep(closed: bool) -> None:
    before = "<p>" + " ".join(story("en").paragraphs) + "</p>"
    nest = "<div>" * 100_000 + "<p>deep text</p>" + ("</div>" * 100_000 if closed else "")
    body = f"<html><body><article>{before}{nest}</article></body></html>".encode()
    record = reject_of(fetched(body))
    assert record.reason == "too_deep"
    assert f"{MAX_DEPTH}+ levels" in record.detail


def test_nesting_just_under_the_parser_limit_is_read() -> None:
    nest = 200
    paragraphs = " ".join(story("en").paragraphs)
    body = f"<html><body>{'<div>' * nest}<p>{paragraphs}</p>{'</div>' * nest}</body></html>"
    record = clean(fetched(body.encode()))
    assert isinstance(record, Article), record
    assert record.text == paragraphs


def test_a_page_over_the_size_limit_is_too_large() -> None:
    body = page_html("en").encode() + b"<!--" + b"x" * 2_000_000 + b"-->"
    record = reject_of(fetched(body), CleanConfig(max_bytes=1_000_000))
    assert record.reason == "too_large"
    assert record.value == len(body)


CHARSET_CASES = [
    # (language, real encoding, Content-Type header, what <meta charset> claims)
    ("ru", "cp1251", "text/html", "utf-8"),
    ("ru", "cp1251", "text/html; charset=utf-8", None),
    ("ru", "cp1251", "text/html; charset=iso-8859-1", "utf-8"),
    ("ru", "cp1251", "text/html; charset=iso-8859-1", "windows-1251"),
    ("ja", "shift_jis", "text/html", None),
    ("ja", "shift_jis", "text/html; charset=utf-8", "utf-8"),
    ("ja", "shift_jis", "text/html; charset=windows-1251", "utf-8"),
    ("zh", "gb18030", "text/html", None),
    ("zh", "gb18030", "text/html; charset=utf-8", "utf-8"),
    ("zh", "gb18030", "text/html; charset=iso-8859-1", "windows-1252"),
    ("zh", "gb18030", "text/html; charset=zlib", None),  # a codec that is not a charset
    ("fr", "iso-8859-1", "text/html", None),
    ("fr", "iso-8859-1", "text/html; charset=utf-8", "utf-8"),
    ("fr", "iso-8859-1", "text/html; charset=windows-1251", None),
    ("es", "iso-8859-1", "text/html; charset=shift_jis", "utf-8"),
]


@pytest.mark.parametrize(("lang", "encoding", "header", "meta"), CHARSET_CASES)
def test_wrong_or_missing_charsets_still_give_the_right_text(
    lang: str, encoding: str, header: str, meta: str | None
) -> None:
    truth = clean(fetched(page_html(lang).encode("utf-8")))
    assert isinstance(truth, Article) and truth.lang == lang
    trace = Trace()
    record = clean(fetched(page_html(lang, meta).encode(encoding), header), trace=trace)
    assert isinstance(record, Article), record
    assert codecs.lookup(trace.encoding).name in {
        codecs.lookup(e).name
        for e in {
            "cp1251": ["cp1251"],
            "shift_jis": ["shift_jis", "cp932"],
            "gb18030": ["gb18030", "gb2312", "gbk"],
            "iso-8859-1": ["iso-8859-1", "cp1252"],
        }[encoding]
    }
    assert record.text == truth.text
    assert record.title == truth.title == story(lang).title
    assert (record.lang, record.word_count) == (truth.lang, truth.word_count)


@pytest.mark.parametrize(
    ("bom", "encoding", "header"),
    [
        (codecs.BOM_UTF16_LE, "utf-16-le", "text/html"),
        (codecs.BOM_UTF16_BE, "utf-16-be", "text/html"),
        (b"", "utf-16-le", "text/html; charset=UTF-16LE"),
        (b"", "utf-16-be", "text/html; charset=utf-16be"),
    ],
    ids=["bom_le", "bom_be", "header_le", "header_be"],
)
def test_utf16_pages_are_text_not_binary(bom: bytes, encoding: str, header: str) -> None:
    # Their NUL bytes are text: the BOM or the declared charset says so.
    truth = clean(fetched(page_html("fr").encode("utf-8")))
    record = clean(fetched(bom + page_html("fr", meta=None).encode(encoding), header))
    assert isinstance(record, Article), record
    assert (record.text, record.title) == (truth.text, truth.title)


def test_nul_bytes_in_a_page_declared_utf8_still_mean_binary() -> None:
    assert reject_of(fetched(page_html("fr").encode("utf-16-le"))).reason == "not_html"


def test_a_few_bad_bytes_in_a_utf8_page_cost_only_those_bytes() -> None:
    good = page_html("ru").encode("utf-8")
    first = story("ru").paragraphs[0].encode("utf-8")
    body = good.replace(first, first[:20] + b"\xff\xfe\xc3" + first[20:])
    text, encoding = decode_html(body, "text/html; charset=utf-8")
    assert encoding == "utf-8"
    record = clean(fetched(body))
    assert isinstance(record, Article), record
    for paragraph in story("ru").paragraphs[1:]:
        assert paragraph in record.text
    assert "\ufffd" in text


def test_bytes_valid_in_no_declared_charset_are_an_encoding_reject() -> None:
    noise = bytes((i * 151 + 7) % 128 + 128 for i in range(4000))  # high bytes, no text in them
    body = b'<html><head><meta charset="shift_jis"></head><body><p>' + noise + b"</p></body></html>"
    record = reject_of(fetched(body, "text/html; charset=utf-8"))
    assert record.reason == "encoding"
    assert "declared: utf-8, shift_jis" in record.detail


def test_a_javascript_only_shell_is_a_js_shell_reject() -> None:
    record = reject_of(fetched(JS_SHELL))
    assert (record.reason, record.detail) == ("quality:js_shell", "js_shell = 1 (> 0.5)")


def test_the_pool_turns_a_page_over_the_time_bound_into_a_timeout() -> None:
    paragraph = (
        "<p>" + "The council met on Tuesday to discuss the budget for schools. " * 20 + "</p>"
    )
    slow = fetched(f"<html><body><article>{paragraph * 6000}</article></body></html>".encode())
    quick = fetched(page_html("en").encode())
    pool = start_pool(1)
    try:
        over = clean_bounded_sync(pool, slow, CleanConfig(), timeout=0.2)
        after = clean_bounded_sync(pool, quick, CleanConfig(), timeout=60)
    finally:
        pool.stop()
        pool.join()
    assert isinstance(over, Reject)
    assert (over.reason, over.detail, over.url) == (
        "timeout",
        "cleaning took longer than 0.2s",
        URL,
    )
    assert isinstance(after, Article)  # the killed worker was replaced
    assert after.text == clean(quick).text
