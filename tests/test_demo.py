"""`winnow demo` end to end: serve, crawl, write, report; then query what landed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import BROKEN_IMPORT, winnow_cmd

TRAILER_SQL = (
    "select count(*) as n from articles where text like '%Leave a Reply%' or text like '%قالب وردپرس%' "
    "or text like '%Back to top%' or text like '%Be the first to comment%' or text like '%Source url%'"
)


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Path, str, str]:
    warehouse = tmp_path_factory.mktemp("demo") / "data"
    proc = winnow_cmd("demo", "--warehouse", str(warehouse))
    return warehouse, proc.stdout, proc.stderr


def query(warehouse: Path, sql: str) -> list[dict]:
    out = winnow_cmd("query", "--warehouse", str(warehouse), "--format", "json", sql).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_demo_prints_the_report(demo) -> None:
    _warehouse, out, err = demo
    assert "pages fetched: 36" in out
    assert "articles kept: 28" in out
    assert "rejects by reason:" in out and "language" in out
    assert "winnow query" in out
    assert "crawled in" in out
    # nothing else: no warning, and no DuckDB complaint at exit about a frozen heap
    assert err == ""


def test_no_trailer_survives_in_any_article(demo) -> None:
    warehouse = demo[0]
    assert query(warehouse, TRAILER_SQL) == [{"n": 0}]


def test_articles_in_at_least_four_languages(demo) -> None:
    warehouse = demo[0]
    langs = {row["lang"] for row in query(warehouse, "select distinct lang from articles")}
    assert {"en", "fa", "fr", "es", "it", "pt"} <= langs


def test_each_junk_page_is_a_reject_with_a_fitting_reason(demo) -> None:
    warehouse = demo[0]
    rows = {
        r["path"]: r["reason"]
        for r in query(
            warehouse,
            "select regexp_replace(url, '^http://[^/]+', '') as path, reason from rejects",
        )
    }
    assert rows["/tag/iraq/"] == "quality:not_prose"
    assert rows["/2026/11/09/old-story-removed/"] == "quality:soft_404"
    assert rows["/fr/2026/11/08/cookie-consent/"] == "quality:cookie_wall"
    assert rows["/2026/11/07/quick-note/"] == "quality:too_short"
    assert rows["/archive/2026/slow-mornings-copy/"] in ("duplicate_content", "duplicate_url")
    for german in (
        "hamburg-hafen-automatisierung",
        "bahn-sperrung-nuernberg-regensburg",
        "berlin-dachaufstockungen-wohnraum",
    ):
        assert [v for k, v in rows.items() if german in k] == ["language"]


def test_the_duplicate_article_appears_once(demo) -> None:
    warehouse = demo[0]
    rows = query(
        warehouse,
        "select count(*) as n from articles where title like '%' || (select title from articles where url like '%/2026/11/02/slow-mornings/') || '%'",
    )
    assert rows == [{"n": 1}]


def test_every_page_is_exactly_one_row_and_one_run_is_recorded(demo) -> None:
    warehouse = demo[0]
    rows = query(
        warehouse,
        "select (select count(*) from articles) + (select count(*) from rejects) as rows, (select count(distinct url) from (select url from articles union all select url from rejects)) as urls",
    )
    assert rows == [{"rows": 36, "urls": 36}]
    runs = query(warehouse, "select status, pages_fetched, articles, rejects from runs")
    assert runs == [{"status": "ok", "pages_fetched": 36, "articles": 28, "rejects": 8}]


def test_stats_prints_the_same_report(demo) -> None:
    warehouse = demo[0]
    out = winnow_cmd("stats", "--warehouse", str(warehouse)).stdout
    assert "articles kept: 28" in out


def test_query_formats_and_output_file(demo, tmp_path: Path) -> None:
    warehouse = demo[0]
    csv = winnow_cmd(
        "query",
        "--warehouse",
        str(warehouse),
        "--format",
        "csv",
        "select lang, count(*) as n from articles group by lang order by lang",
    ).stdout
    assert csv.splitlines()[0] == '"lang","n"'
    target = tmp_path / "out.parquet"
    winnow_cmd(
        "query",
        "--warehouse",
        str(warehouse),
        "--format",
        "parquet",
        "--output",
        str(target),
        "select * from articles",
    )
    import pyarrow.parquet as pq

    assert pq.read_table(target).num_rows == 28


def test_demo_refuses_a_directory_it_did_not_write(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("user data")
    proc = winnow_cmd("demo", "--warehouse", str(tmp_path), check=False)
    assert proc.returncode != 0
    assert "did not write" in proc.stderr
    assert (tmp_path / "precious.txt").exists()


def test_a_demo_whose_workers_cannot_clean_says_why_and_exits_1(
    broken_install: str, tmp_path: Path
) -> None:
    proc = winnow_cmd(
        "demo",
        "--warehouse",
        str(tmp_path / "data"),
        env={"PYTHONPATH": broken_install},
        check=False,
    )
    assert proc.returncode == 1
    assert "runs: 1 (1 not ok: demo-" in proc.stdout
    assert proc.stderr.splitlines()[-1] == (
        f"error: the crawl stopped: the cleaning workers cannot start: ImportError: {BROKEN_IMPORT}"
    )
