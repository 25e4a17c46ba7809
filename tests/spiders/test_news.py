"""The news spider against a real local server: politeness, failures, redirects, increments."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import deque
from pathlib import Path

import pytest

from settings.sources import SourceError, source_from_dict
from spiders.news import take_turns
from tests.conftest import ROOT, winnow_cmd
from tests.sites import Story, many_stories, stories_from_trailer_pages, write_site
from warehouse.query import connect
from winnow.demo.server import Site

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 20


def status(code: int, body: bytes = b"<html><body>Service unavailable</body></html>"):
    return lambda h: h.send_bytes(code, body, "text/html; charset=utf-8")


def redirect(target: str, code: int = 301):
    return lambda h: h.send_bytes(code, b"", "text/html", {"Location": target})


def rows(warehouse: Path, sql: str) -> dict[str, str]:
    return dict(connect(warehouse).execute(sql).fetchall())


@pytest.fixture
def news_site(tmp_path: Path):
    stories = stories_from_trailer_pages(["en", "fr", "es"])
    moved = Story(
        "2026/11/05/moved-story", "Moved", stories_from_trailer_pages(["de"])[0].paragraphs, "de"
    )
    secret = Story(
        "private/2026/11/05/secret-story",
        "Secret",
        stories_from_trailer_pages(["it"])[0].paragraphs,
        "it",
    )
    write_site(
        tmp_path / "site", [moved]
    )  # its page; reachable only through the /old/ redirect chain
    root = write_site(tmp_path / "site", [*stories, secret])  # feed and sitemap without it
    extra = ["/broken/", "/binary/", "/huge/", "/old/", "/private/2026/11/05/secret-story/"]
    sitemap = root / "sitemap.xml"
    sitemap.write_text(
        sitemap.read_text().replace(
            "</urlset>",
            "".join(f"<url><loc>{{{{BASE}}}}{p}</loc></url>" for p in extra if "secret" not in p)
            + "</urlset>",
        )
    )
    robots = b"User-agent: *\nDisallow: /private/\n"
    routes = {
        "/robots.txt": lambda h: h.send_bytes(200, robots, "text/plain"),
        "/broken/": status(503),
        "/binary/": lambda h: h.send_bytes(200, JPEG, "text/html"),
        "/huge/": lambda h: h.send_bytes(
            200, b"<html><body>" + b"<p>big page text</p>" * 80_000 + b"</body></html>", "text/html"
        ),
        "/old/": redirect("/older/"),
        "/older/": redirect("/2026/11/05/moved-story/", 302),
    }
    return Site("news", root, routes=routes), stories


def crawl(site: Site, warehouse: Path, *extra: str) -> None:
    winnow_cmd(
        "crawl",
        "--url",
        site.url("/sitemap.xml"),
        "--url",
        site.url("/private/2026/11/05/secret-story/"),
        "--warehouse",
        str(warehouse),
        "--allow-private",
        *extra,
        env={"WINNOW_MAXSIZE": str(1024 * 1024)},
    )


def test_crawl_outcomes_and_a_second_run_that_fetches_nothing_new(
    news_site, site_factory, warehouse: Path
) -> None:
    site, stories = news_site
    with site_factory(site):
        crawl(site, warehouse)
        first_hits = dict(site.hits)
        articles = rows(
            warehouse, "select regexp_replace(url, '^http://[^/]+', ''), lang from articles"
        )
        rejects = rows(
            warehouse, "select regexp_replace(url, '^http://[^/]+', ''), reason from rejects"
        )
        assert articles == {
            **{f"/{s.slug}/": s.lang for s in stories},
            "/2026/11/05/moved-story/": "de",
        }
        assert rejects == {
            "/broken/": "http_status",
            "/binary/": "not_html",
            "/huge/": "too_large",
            "/private/2026/11/05/secret-story/": "robots_txt",
        }
        assert first_hits["/broken/"] == 3  # retried twice, then given up
        assert "/private/2026/11/05/secret-story/" not in first_hits

        crawl(site, warehouse)
        again = {
            path: n - first_hits.get(path, 0)
            for path, n in site.hits.items()
            if n != first_hits.get(path, 0)
        }
    # only the entry points and the page that failed with a 5xx are fetched again
    assert set(again) == {"/sitemap.xml", "/robots.txt", "/broken/"}
    runs = (
        connect(warehouse)
        .execute("select pages_fetched, articles, status from runs order by started_at")
        .fetchall()
    )
    assert runs == [(8, 4, "ok"), (1, 0, "ok")]


def test_a_crawl_creates_its_warehouse_when_it_is_not_there_yet(
    news_site, site_factory, tmp_path: Path
) -> None:
    site, stories = news_site
    new = tmp_path / "not" / "yet"
    with site_factory(site):
        crawl(site, new)  # fails on a non-zero exit
    assert connect(new).execute("select count(*) from articles").fetchone()[0] == len(stories) + 1


def test_refresh_fetches_everything_again(news_site, site_factory, warehouse: Path) -> None:
    site, stories = news_site
    with site_factory(site):
        crawl(site, warehouse)
        before = site.hits.get(f"/{stories[0].slug}/", 0)
        crawl(site, warehouse, "--refresh")
        assert site.hits[f"/{stories[0].slug}/"] == before + 1
    dupes = rows(
        warehouse,
        "select reason, count(*) from rejects where reason like 'duplicate%' group by reason",
    )
    assert dupes == {"duplicate_url": 4}
    details = rows(
        warehouse, "select detail, id = duplicate_of from rejects where reason = 'duplicate_url'"
    )
    assert all(own for own in details.values())  # the page itself, fetched again
    assert all(d.startswith("this URL's article is already in the warehouse as ") for d in details)
    assert all(d.endswith("(same text)") for d in details)


def test_sources_file_budget_and_wanted_languages(
    tmp_path: Path, site_factory, warehouse: Path
) -> None:
    stories = stories_from_trailer_pages(["en", "fr", "es", "de", "it", "pt"])
    root = write_site(tmp_path / "site", stories)
    with site_factory(Site("news", root)) as sites:
        sources = tmp_path / "sources.toml"
        sources.write_text(
            f'[[source]]\nname = "limited"\nfeeds = ["{sites["news"].url("/feed.xml")}"]\nbudget = 4\nlanguages = ["en", "fr", "es"]\n'
        )
        winnow_cmd(
            "crawl",
            "limited",
            "--sources-file",
            str(sources),
            "--warehouse",
            str(warehouse),
            "--allow-private",
        )
    con = connect(warehouse)
    fetched = con.execute(
        "select count(*) from (select url from articles union all select url from rejects)"
    ).fetchone()[0]
    assert fetched == 4
    assert {r[0] for r in con.execute("select reason from rejects").fetchall()} <= {"language"}
    assert con.execute("select distinct source from articles").fetchall() == [("limited",)]


def test_invalid_sources_file_names_source_and_field(tmp_path: Path) -> None:
    sources = tmp_path / "sources.toml"
    sources.write_text('[[source]]\nname = "bad"\nfeeds = ["ftp://x.example/feed"]\n')
    proc = winnow_cmd("sources", "--sources-file", str(sources), check=False)
    assert proc.returncode == 2
    assert "source 'bad': field 'feeds'" in proc.stderr


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"cron": "*/5 * * * *", "interval": "1h"},
            "field 'cron': set 'cron' or 'interval', not both",
        ),
        ({"lang_floor": True}, "field 'lang_floor': expected a number between 0 and 1"),
    ],
)
def test_source_fields_that_contradict_or_have_the_wrong_type(fields: dict, message: str) -> None:
    entry = {"name": "a", "feeds": ["http://x.example/feed"], **fields}
    with pytest.raises(SourceError, match=re.escape(f"source 'a': {message}")):
        source_from_dict(entry, "sources.toml")


@pytest.mark.parametrize(
    ("content", "names", "message"),
    [
        ('[[source]]\nname = "a"\nfeed = ["http://x.example/feed"]\n', [], "unknown field(s) feed"),
        ('[[source]]\nname = "a"\nfeeds = "http://x.example/feed"\n', ["a"], "field 'feeds'"),
        (
            '[[source]]\nname = "a"\nfeeds = ["http://x.example/feed"]\n',
            ["nosuch"],
            "unknown source(s): nosuch",
        ),
        (None, [], "no such file"),
        ('[[sources]]\nname = "a"\n', [], "unknown top-level key(s) sources"),
        ("source = [1, 2]\n", [], "use [[source]] tables"),
        (b"name = '\xff'\n", [], "not UTF-8 text"),
        ("# nothing yet\n", [], "nothing to crawl"),
        ("directory", [], "is a directory"),
    ],
)
def test_crawl_with_a_bad_sources_file_or_name_is_one_error_line(
    tmp_path: Path, warehouse: Path, content: str | bytes | None, names: list[str], message: str
) -> None:
    sources = tmp_path / "sources.toml"
    if content == "directory":
        sources.mkdir()
    elif isinstance(content, bytes):
        sources.write_bytes(content)
    elif content is not None:
        sources.write_text(content)
    proc = winnow_cmd(
        "crawl", *names, "--sources-file", str(sources), "--warehouse", str(warehouse), check=False
    )
    assert proc.returncode == 2 and message in proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert not warehouse.exists() or not any(warehouse.iterdir())  # nothing started


def test_crawl_into_a_warehouse_path_that_cannot_be_one_is_one_error_line(tmp_path: Path) -> None:
    taken = tmp_path / "a-file"
    taken.write_text("")
    proc = winnow_cmd(
        "crawl", "--url", "http://127.0.0.1:9/feed.xml", "--warehouse", str(taken), check=False
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith(f"error: cannot use {taken} as the warehouse")
    assert "Traceback" not in proc.stderr


def test_sources_check_without_a_name(demo_sources: Path) -> None:
    proc = winnow_cmd("sources", "check", "--sources-file", str(demo_sources), check=False)
    assert proc.returncode == 2 and "winnow sources check NAME" in proc.stderr


def test_discover_prints_urls_without_fetching_them(news_site, site_factory) -> None:
    site, stories = news_site
    with site_factory(site):
        out = winnow_cmd("discover", site.url("/feed.xml"), "--allow-private").stdout
        assert not any(f"/{s.slug}/" in site.hits for s in stories)
    assert [line.split("\t")[0] for line in out.splitlines()] == [
        *[site.url(f"/{s.slug}/") for s in stories],
        site.url("/private/2026/11/05/secret-story/"),
    ]


def test_discover_says_when_it_found_nothing(news_site, site_factory) -> None:
    site, _ = news_site
    site.routes["/notes.txt"] = lambda h: h.send_bytes(200, b"no links here", "text/plain")
    with site_factory(site):
        proc = winnow_cmd("discover", site.url("/notes.txt"), "--allow-private", check=False)
    assert proc.returncode == 1 and proc.stdout == ""
    assert "found nothing in" in proc.stderr and "read as a page" in proc.stderr
    site.routes["/empty.xml"] = lambda h: h.send_bytes(
        200, b'<?xml version="1.0"?><rss version="2.0"><channel></channel></rss>', "text/xml"
    )
    with site_factory(site):
        proc = winnow_cmd("discover", site.url("/empty.xml"), "--allow-private", check=False)
    assert proc.returncode == 1 and "read as an RSS feed with no article URLs" in proc.stderr


def test_discover_refuses_private_addresses_by_default() -> None:
    proc = winnow_cmd("discover", "http://127.0.0.1:9/feed.xml", check=False)
    assert proc.returncode == 2 and "refused" in proc.stderr


def test_run_row_counts_rejects_by_reason(news_site, site_factory, warehouse: Path) -> None:
    site, _ = news_site
    with site_factory(site):
        crawl(site, warehouse)
    reasons = json.loads(
        connect(warehouse).execute("select rejects_by_reason from runs").fetchone()[0]
    )
    assert reasons == {"http_status": 1, "not_html": 1, "robots_txt": 1, "too_large": 1}


def test_sources_lists_and_checks_a_source(demo_sources: Path) -> None:
    listing = winnow_cmd("sources", "--sources-file", str(demo_sources)).stdout
    assert [line.split("\t")[0] for line in listing.splitlines()] == [
        "meridian",
        "lenouvelliste",
        "quietpost",
    ]
    out = winnow_cmd(
        "sources", "check", "meridian", "--sources-file", str(demo_sources), "--allow-private"
    ).stdout
    assert "feed.xml: rss, 10 article URL(s)" in out
    assert "sitemap.xml: sitemap, 12 article URL(s)" in out
    refused = winnow_cmd(
        "sources", "check", "meridian", "--sources-file", str(demo_sources), check=False
    )
    assert refused.returncode == 1 and "refused" in refused.stdout


def test_sources_check_fails_when_a_listed_sitemap_fails(
    news_site, site_factory, tmp_path: Path
) -> None:
    site, _ = news_site
    index = (
        '<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        "<sitemap><loc>{{BASE}}/sitemap.xml</loc></sitemap>"
        "<sitemap><loc>{{BASE}}/gone.xml</loc></sitemap></sitemapindex>"
    )
    site.routes["/index.xml"] = lambda h: h.send_bytes(
        200, index.replace("{{BASE}}", site.base).encode(), "application/xml"
    )
    sources = tmp_path / "sources.toml"
    with site_factory(site):
        sources.write_text(f'[[source]]\nname = "idx"\nsitemaps = ["{site.url("/index.xml")}"]\n')
        proc = winnow_cmd(
            "sources",
            "check",
            "idx",
            "--sources-file",
            str(sources),
            "--allow-private",
            check=False,
        )
    assert proc.returncode == 1, proc.stdout
    assert "/sitemap.xml: 8 article URL(s)" in proc.stdout
    assert "FAIL" in proc.stdout and "/gone.xml: HTTP 404" in proc.stdout


def test_quality_thresholds_global_then_per_source(
    tmp_path: Path, site_factory, warehouse: Path
) -> None:
    root_a = write_site(tmp_path / "a", stories_from_trailer_pages(["en", "fr"]))
    root_b = write_site(tmp_path / "b", stories_from_trailer_pages(["es", "de"]))
    with site_factory(Site("a", root_a), Site("b", root_b)) as sites:
        sources = tmp_path / "sources.toml"
        sources.write_text(
            f'[[source]]\nname = "lenient"\nsitemaps = ["{sites["a"].url("/sitemap.xml")}"]\n[source.quality]\ntoo_short = 20\n\n'
            f'[[source]]\nname = "default"\nsitemaps = ["{sites["b"].url("/sitemap.xml")}"]\n'
        )
        winnow_cmd(
            "crawl",
            "--sources-file",
            str(sources),
            "--warehouse",
            str(warehouse),
            "--allow-private",
            env={"WINNOW_QUALITY": '{"too_short": 100000}'},
        )
    con = connect(warehouse)
    assert con.execute("select source, count(*) from articles group by source").fetchall() == [
        ("lenient", 2)
    ]
    assert con.execute("select source, reason, count(*) from rejects group by all").fetchall() == [
        ("default", "quality:too_short", 2)
    ]


def test_plain_scrapy_crawl_news_works_from_the_repo_root(
    tmp_path: Path, site_factory, warehouse: Path
) -> None:
    root = write_site(tmp_path / "site", stories_from_trailer_pages(["en", "pt"]))
    with site_factory(Site("news", root)) as sites:
        proc = subprocess.run(
            [
                str(Path(sys.executable).with_name("scrapy")),
                "crawl",
                "news",
                "-a",
                f"urls={sites['news'].url('/feed.xml')}",
                "-s",
                "WINNOW_ALLOW_PRIVATE=true",
                "-s",
                f"WINNOW_WAREHOUSE={warehouse}",
                "-s",
                "LOG_LEVEL=WARNING",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert connect(warehouse).execute("select lang from articles order by lang").fetchall() == [
        ("en",),
        ("pt",),
    ]


def test_take_turns_takes_one_url_per_source_in_turn() -> None:
    waiting = {"big": deque(["b1", "b2", "b3", "b4"]), "small": deque(["s1"])}
    assert take_turns(waiting, 3) == [("big", "b1"), ("small", "s1"), ("big", "b2")]
    assert waiting == {"big": deque(["b3", "b4"])}  # an emptied queue is gone
    assert take_turns(waiting, 10) == [("big", "b3"), ("big", "b4")]
    assert waiting == {} and take_turns(waiting, 5) == []


def test_a_big_source_does_not_hold_back_a_small_one(
    tmp_path: Path, site_factory, warehouse: Path
) -> None:
    """Discovered URLs wait in the spider and are fed to Scrapy sources in turn."""
    big = write_site(tmp_path / "big", many_stories(240))
    small = write_site(tmp_path / "small", many_stories(6, seed=11))
    with site_factory(Site("big", big), Site("small", small)) as sites:
        # two hosts, as two news sites are: each its own download slot
        sites["small"].base = sites["small"].base.replace("127.0.0.1", "localhost")
        sources = tmp_path / "sources.toml"
        sources.write_text(
            "".join(
                f'[[source]]\nname = "{name}"\nsitemaps = ["{sites[name].url("/sitemap.xml")}"]\n'
                for name in ("big", "small")
            )
        )
        # AutoThrottle's 0.5 s start delay would pace the two hosts by timing, not by turn.
        winnow_cmd(
            "crawl", "--sources-file", str(sources), "--warehouse", str(warehouse),
            "--allow-private", env={"WINNOW_START_DELAY": "0.01"},
        )  # fmt: skip
    con = connect(warehouse)
    counts = dict(con.execute("select source, count(*) from articles group by all").fetchall())
    assert counts == {"big": 240, "small": 6}
    # Every small-source article was fetched while most of the big source still waited.
    before = con.execute(
        "select count(*) from articles where source = 'big' and fetched_at < "
        "(select max(fetched_at) from articles where source = 'small')"
    ).fetchone()[0]
    assert before < 120, before
