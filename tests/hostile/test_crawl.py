"""Broken pages through a real crawl of a local server: every page is exactly one row.

One crawl fetches a site of hostile pages (listed by its sitemap) with a short download
timeout; each test then checks one page's row. Together they check that nothing was
lost: the warehouse holds one row per listed page, and the run has no errors.
"""

from __future__ import annotations

import gzip
import threading
from pathlib import Path

import brotli
import pytest

from pipeline.clean import clean
from pipeline.page import Page
from tests.conftest import BROKEN_IMPORT
from tests.hostile.conftest import by_path, crawl, hostile_site, respond, sitemap_of, table
from tests.hostile.pages import JPEG, JS_SHELL, PDF, page_html, story
from tests.sites import article_html, many_stories
from winnow.demo.server import serve

MAXSIZE = 10 * 1024 * 1024  # the default DOWNLOAD_MAXSIZE
BIG = 50 * 1024 * 1024
CHARSET_PAGES = {
    # path: (language, real encoding, Content-Type header, what <meta charset> claims)
    "/cp1251/": ("ru", "cp1251", "text/html; charset=iso-8859-1", "utf-8"),
    "/shift-jis/": ("ja", "shift_jis", "text/html", None),
    "/gb18030/": ("zh", "gb18030", "text/html; charset=utf-8", "utf-8"),
    "/latin1/": ("fr", "iso-8859-1", "text/html; charset=windows-1251", None),
}
EXPECTED_REJECTS = {
    "/empty/": "empty",
    "/whitespace/": "empty",
    "/deep/": "too_deep",
    "/huge/": "too_large",
    "/huge-streamed/": "too_large",
    "/invalid-bytes/": "encoding",
    "/pdf/": "not_html",
    "/jpeg/": "not_html",
    "/gzip-bomb/": "too_large",
    "/brotli-bomb/": "too_large",
    "/never-ends/": "timeout",
    "/loop-b/": "redirect_loop",  # listed as /loop-a/: the row names where the loop closed
    "/self/": "redirect_loop",
    "/js-shell/": "quality:js_shell",
    "/refresh-b/": "empty",  # listed as /refresh-a/, whose meta refresh loops back from here
}
EXPECTED_ARTICLES = {
    "/truncated/": "en",
    "/live/": "de",  # refreshes itself every 30 s: it is the page
    **{p: c[0] for p, c in CHARSET_PAGES.items()},
}


def streamed(total: int):
    """A route sending `total` bytes of HTML in chunks, with no Content-Length."""

    def route(h) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "text/html")
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        chunk = b"<p>" + b"words " * 10_000 + b"</p>"
        try:
            for _ in range(total // len(chunk) + 1):
                h.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            h.wfile.write(b"0\r\n\r\n")
        except OSError:  # the crawler hung up at its size limit
            h.close_connection = True

    return route


def never_ending(stop: threading.Event):
    """A route that promises a body and sends only its first bytes, until `stop`."""

    def route(h) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "text/html")
        h.send_header("Content-Length", "100000")
        h.end_headers()
        h.wfile.write(b"<html><body><p>The first words of a page that never")
        h.wfile.flush()
        stop.wait(120)
        h.close_connection = True

    return route


def refreshing(html: str, target: str, seconds: int) -> bytes:
    """`html` with a <meta http-equiv="refresh"> to `target`."""
    meta = f'<meta http-equiv="refresh" content="{seconds}; url={target}">'
    return html.replace("<head>", "<head>" + meta, 1).encode()


def bomb(encoding: str) -> bytes:
    """60 MB of HTML compressed to a few kB (gzip) or bytes (brotli)."""
    body = b"<html><body><p>" + b"a" * (60 * 1024 * 1024) + b"</p></body></html>"
    return gzip.compress(body, 9) if encoding == "gzip" else brotli.compress(body, quality=5)


def hostile_routes(stop: threading.Event) -> dict:
    cut = page_html("en").encode()
    last = story("en").paragraphs[-1]
    cut = cut[: cut.index(last.encode()) + 40]
    routes = {
        "/empty/": respond(200, b""),
        "/whitespace/": respond(200, b" \r\n\t  \n"),
        "/truncated/": respond(200, cut, "text/html; charset=utf-8"),
        "/deep/": respond(200, b"<html><body>" + b"<div>" * 100_000 + b"<p>deep</p>"),
        "/huge/": respond(200, b"<html><body>" + b"<p>word</p>" * (BIG // 11)),
        "/huge-streamed/": streamed(BIG),
        "/invalid-bytes/": respond(
            200, b"<html><body><p>" + bytes(range(128, 256)) * 20, "text/html; charset=utf-8"
        ),
        "/pdf/": respond(200, PDF),
        "/jpeg/": respond(200, JPEG),
        "/gzip-bomb/": respond(200, bomb("gzip"), "text/html", {"Content-Encoding": "gzip"}),
        "/brotli-bomb/": respond(200, bomb("br"), "text/html", {"Content-Encoding": "br"}),
        "/never-ends/": never_ending(stop),
        "/loop-a/": respond(302, b"", "text/html", {"Location": "/loop-b/"}),
        "/loop-b/": respond(301, b"", "text/html", {"Location": "/loop-a/"}),
        "/self/": respond(307, b"", "text/html", {"Location": "/self/"}),
        "/js-shell/": respond(200, JS_SHELL),
        "/live/": respond(
            200, refreshing(page_html("de"), "/live/", 30), "text/html; charset=utf-8"
        ),
        "/refresh-a/": respond(
            200, refreshing("<html><head></head><body></body></html>", "/refresh-b/", 0)
        ),
        "/refresh-b/": respond(
            200, refreshing("<html><head></head><body></body></html>", "/refresh-a/", 0)
        ),
    }
    for path, (lang, encoding, header, meta) in CHARSET_PAGES.items():
        routes[path] = respond(200, page_html(lang, meta).encode(encoding), header)
    listed = [p for p in routes if p not in ("/loop-b/", "/refresh-b/")]
    return {**routes, "/sitemap.xml": sitemap_of(listed)}


@pytest.fixture(scope="module")
def crawled(tmp_path_factory) -> tuple[Path, object]:
    warehouse = tmp_path_factory.mktemp("hostile") / "warehouse"
    stop = threading.Event()
    site = hostile_site("hostile", hostile_routes(stop))
    try:
        with serve([site]):
            proc = crawl(
                warehouse,
                "--url",
                site.url("/sitemap.xml"),
                "--allow-private",
                env={"WINNOW_DOWNLOAD_TIMEOUT": "2"},
            )
    finally:
        stop.set()
    return warehouse, proc, site


@pytest.mark.parametrize(("path", "reason"), sorted(EXPECTED_REJECTS.items()))
def test_each_hostile_page_is_its_reject(crawled, path: str, reason: str) -> None:
    warehouse, _proc, _site = crawled
    assert by_path(warehouse, "rejects", "reason").get(path) == reason


@pytest.mark.parametrize(("path", "lang"), sorted(EXPECTED_ARTICLES.items()))
def test_pages_to_keep_come_out_as_their_text(crawled, path: str, lang: str) -> None:
    warehouse, _proc, _site = crawled
    truth = clean(
        Page(url="http://x/", body=page_html(lang).encode(), headers={"content-type": "text/html"})
    )
    [(text, got_lang)] = table(
        warehouse, f"select text, lang from articles where url like '%{path}'"
    )
    if path == "/truncated/":
        assert text.splitlines()[:-1] == truth.text.splitlines()[:-1]
    else:
        assert text == truth.text
    assert got_lang == lang


def test_size_limits_name_the_limit(crawled) -> None:
    warehouse, _proc, _site = crawled
    details = by_path(warehouse, "rejects", "detail")
    assert f"larger than download max size ({MAXSIZE})" in details["/huge/"]
    assert "DOWNLOAD_MAXSIZE" in details["/huge-streamed/"]
    for path in ("/gzip-bomb/", "/brotli-bomb/"):
        assert f"exceeded DOWNLOAD_MAXSIZE ({MAXSIZE} B) during decompression" in details[path]


def test_loops_and_timeouts_say_what_happened(crawled) -> None:
    warehouse, _proc, site = crawled
    details = by_path(warehouse, "rejects", "detail")
    assert (
        details["/loop-b/"]
        == f"redirect loop: {site.url('/loop-a/')} -> {site.url('/loop-b/')} -> {site.url('/loop-a/')}"
    )
    assert details["/self/"] == f"redirect loop: {site.url('/self/')} -> {site.url('/self/')}"
    assert (
        details["/never-ends/"]
        == f"Getting {site.url('/never-ends/')} took longer than 2.0 seconds."
    )
    assert site.hits["/never-ends/"] == 3  # tried, then retried twice


def test_nothing_is_lost_and_nothing_crashed(crawled) -> None:
    warehouse, proc, _site = crawled
    rows = table(
        warehouse,
        "select regexp_replace(url, '^http://[^/]+', '') p from rejects "
        "union all select regexp_replace(url, '^http://[^/]+', '') from articles",
    )
    assert sorted(p for (p,) in rows) == sorted({**EXPECTED_REJECTS, **EXPECTED_ARTICLES})
    # The one error the run counts is the retry middleware giving up on the page that
    # never ends; it is also that page's `timeout` reject.
    [(status, pages, errors)] = table(warehouse, "select status, pages_fetched, errors from runs")
    assert (status, pages, errors) == ("ok", len(rows), 1)
    errors = [line for line in proc.stderr.splitlines() if " ERROR: " in line]
    assert len(errors) == 1 and "Gave up retrying" in errors[0] and "/never-ends/" in errors[0]
    assert "Traceback" not in proc.stderr


def test_a_page_whose_cleaning_runs_over_the_bound_is_a_timeout(site_factory, warehouse) -> None:
    paragraph = (
        b"<p>" + b"The council met on Tuesday to discuss the budget for schools. " * 20 + b"</p>"
    )
    slow = b"<html><body><article>" + paragraph * 7000 + b"</article></body></html>"
    site = hostile_site(
        "slow", {"/slow/": respond(200, slow), "/sitemap.xml": sitemap_of(["/slow/"])}
    )
    with site_factory(site):
        crawl(
            warehouse,
            "--url",
            site.url("/sitemap.xml"),
            "--allow-private",
            env={"WINNOW_PAGE_TIMEOUT": "0.3"},
        )
    assert table(warehouse, "select reason, detail from rejects") == [
        ("timeout", "cleaning took longer than 0.3s")
    ]


def test_workers_that_cannot_load_the_cleaning_code_stop_the_crawl_with_why(
    site_factory, warehouse, broken_install
) -> None:
    # The crawler never imports trafilatura: only the cleaning workers meet the error.
    stories = many_stories(40)
    paths = [f"/{s.slug}/" for s in stories]
    routes = {
        path: respond(200, article_html(s).replace("{{BASE}}", "http://news.example").encode())
        for path, s in zip(paths, stories, strict=True)
    }
    site = hostile_site("broken", {**routes, "/sitemap.xml": sitemap_of(paths)})
    with site_factory(site):
        proc = crawl(
            warehouse,
            "--url",
            site.url("/sitemap.xml"),
            "--allow-private",
            env={"PYTHONPATH": broken_install},
            check=False,
            timeout=120,
        )
    why = f"the cleaning workers cannot start: ImportError: {BROKEN_IMPORT}"
    assert proc.returncode == 1
    assert [x for x in proc.stderr.splitlines() if x.startswith("error: ")] == [
        f"error: the crawl stopped: {why}"
    ]
    [(status, detail, pages, rejects)] = table(
        warehouse, "select status, error_detail, pages_fetched, rejects from runs"
    )
    assert (status, detail) == ("failed", why)
    # every page that reached the pipeline is its row, none is kept
    assert pages == rejects >= 1
    assert table(warehouse, "select count(*) from articles") == [(0,)]
    reasons = table(warehouse, "select reason, detail, count(*) from rejects group by all")
    assert [(reason, BROKEN_IMPORT in detail) for reason, detail, _ in reasons] == [
        ("clean_error", True)
    ] * len(reasons)
    assert sum(n for _, _, n in reasons) == rejects
