"""`winnow schedule` and `winnow runs`: due times, backoff, real runs over local sites, shutdown."""

from __future__ import annotations

import html
import itertools
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from settings.sources import source_from_dict
from tests.conftest import ROOT, winnow_cmd
from tests.schedule.servers import free_port
from tests.sites import Story, stories_from_trailer_pages, write_site
from warehouse import schema
from warehouse.query import connect
from warehouse.state import read_json
from warehouse.writer import WarehouseWriter
from winnow.demo.server import Site
from winnow.history import Run, find_run, format_history, load_history
from winnow.schedule import LocalRunner, Scheduler, log_reason, next_due

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
#: Quick crawls: a short first throttle delay, one cleaning worker, quiet logs.
CRAWL_ENV = {"WINNOW_START_DELAY": "0.05", "WINNOW_WORKERS": "1", "WINNOW_LOG_LEVEL": "WARNING"}


def source(name: str = "alpha", **kw):
    return source_from_dict({"name": name, "feeds": ["http://news.example/feed.xml"], **kw})


def run(start: datetime, status: str = "ok", source: str = "alpha") -> Run:
    return Run(f"{source}-{start:%H%M%S}", source, start, start + timedelta(seconds=5), status)


# --- due times: plain functions over plain data ---------------------------------------------


def test_a_source_never_run_is_due_now() -> None:
    assert next_due(source(interval="30m"), []) == (None, "never run")


def test_the_next_run_is_one_interval_after_the_last_start() -> None:
    due, why = next_due(source(interval="30m"), [run(NOW - timedelta(minutes=10))])
    assert due == NOW + timedelta(minutes=20)
    assert why == "every 30m"


def test_runs_missed_during_downtime_are_caught_up_once(tmp_path: Path) -> None:
    alpha = source(interval="1h")
    history = [run(NOW - timedelta(days=3))]  # 72 runs were missed
    due, _ = next_due(alpha, history)
    assert due < NOW  # due now...
    history.append(run(NOW))  # ...and once it has run, not again until the next interval
    assert next_due(alpha, history)[0] == NOW + timedelta(hours=1)


def test_failures_back_off_doubling_up_to_the_cap() -> None:
    alpha = source(interval="10m")
    history = [run(NOW - timedelta(hours=1))]
    delays = []
    for _ in range(8):
        history.append(run(NOW, status="failed"))
        due, why = next_due(alpha, history, max_backoff=3600)
        delays.append((due - NOW).total_seconds() / 60)
    assert delays == [10, 20, 40, 60, 60, 60, 60, 60]
    assert "8 failure(s)" in why
    history.append(run(NOW + timedelta(minutes=60)))  # one success resets the backoff
    assert next_due(alpha, history, max_backoff=3600)[0] == NOW + timedelta(minutes=70)


def test_an_interval_longer_than_the_cap_is_never_shortened() -> None:
    daily = source(interval="1d")
    due, _ = next_due(daily, [run(NOW, status="failed")], max_backoff=3600)
    assert due == NOW + timedelta(days=1)


def test_cron_sources_fire_on_the_expression_and_skip_fire_times_when_failing() -> None:
    hourly = source(cron="0 * * * *")
    start = NOW + timedelta(minutes=5)  # 12:05
    assert next_due(hourly, [run(start)])[0] == NOW + timedelta(hours=1)
    failed = [run(start, status="failed"), run(start, status="failed"), run(start, status="failed")]
    # third failure in a row: the 4th fire time after the run (13:00, 14:00, 15:00, 16:00)
    assert next_due(hourly, failed, max_backoff=6 * 3600)[0] == NOW + timedelta(hours=4)


def test_log_reason_picks_the_last_error_line() -> None:
    text = "INFO: Spider opened\nERROR: Gave up retrying <GET /feed>\nINFO: Closing spider\n"
    assert log_reason(text) == "ERROR: Gave up retrying <GET /feed>"
    assert log_reason("all good\nbye\n") == "bye"


# --- real runs ------------------------------------------------------------------------------


def write_sources(path: Path, **entries: dict) -> Path:
    lines = []
    for name, fields in entries.items():
        lines += ["[[source]]", f'name = "{name}"']
        lines += [f"{k} = {v!r}".replace("'", '"') for k, v in fields.items()]
        lines.append("")
    path.write_text("\n".join(lines), "utf-8")
    return path


def growing_feed(site: Site, stories: list[Story], first: int):
    """An RSS feed listing `first` stories on its first fetch and all of them afterwards."""
    fetches = []

    def route(handler) -> None:
        fetches.append(1)
        shown = stories[:first] if len(fetches) == 1 else stories
        items = "".join(
            f"<item><title>{html.escape(s.title)}</title><link>{site.base}/{s.slug}/</link></item>"
            for s in shown
        )
        body = f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>'
        handler.send_bytes(200, body.encode(), "application/rss+xml")

    return route


def start_scheduler(warehouse: Path, sources: Path, tmp_path: Path, *extra: str):
    log = (tmp_path / "scheduler.log").open("wb")
    cmd = [sys.executable, "-m", "winnow.cli", "schedule", "--warehouse", str(warehouse)]
    cmd += ["--sources-file", str(sources), "--allow-private", "--log-dir", str(tmp_path / "logs")]
    proc = subprocess.Popen(
        [*cmd, *extra], cwd=ROOT, env={**os.environ, **CRAWL_ENV}, stdout=log, stderr=log
    )
    return proc, tmp_path / "scheduler.log"


def wait_for(check, proc: subprocess.Popen, log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if proc.poll() is not None:
            pytest.fail(f"the scheduler exited early ({proc.returncode}):\n{log.read_text()}")
        time.sleep(0.3)
    pytest.fail(f"timed out; scheduler log:\n{log.read_text()[-5000:]}")


def stop(proc: subprocess.Popen) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    return proc.wait(120)


def test_scheduled_runs_on_time_incremental_and_a_failing_source_backs_off(
    tmp_path: Path, warehouse: Path, site_factory
) -> None:
    stories = stories_from_trailer_pages()[:12]
    alpha = Site("alpha", write_site(tmp_path / "alpha", stories))
    alpha.routes = {"/feed.xml": growing_feed(alpha, stories, first=8)}
    broken = Site(
        "broken", None, routes={"/feed.xml": lambda h: h.send_bytes(500, b"down", "text/html")}
    )
    with site_factory(alpha, broken):
        sources = write_sources(
            tmp_path / "sources.toml",
            alpha={"feeds": [alpha.url("/feed.xml")], "interval": "6s"},
            broken={"feeds": [broken.url("/feed.xml")], "interval": "2s"},
        )
        proc, log = start_scheduler(warehouse, sources, tmp_path)

        def enough() -> bool:
            h = load_history(warehouse)
            ok = [r for r in h.get("alpha", []) if r.status == "ok"]
            failed = [r for r in h.get("broken", []) if r.failed]
            return len(ok) >= 2 and len(failed) >= 3

        try:
            wait_for(enough, proc, log)
        finally:
            code = stop(proc)
        assert code == 0, log.read_text()

        history = load_history(warehouse)
        for name, runs in history.items():  # never two runs of one source at once
            for before, after in itertools.pairwise(runs):
                assert after.started_at >= before.ended_at, (name, before, after)

        first, second, *later = [r for r in history["alpha"] if r.status == "ok"]
        assert second.started_at - first.started_at >= timedelta(seconds=6)  # not before due
        assert (first.articles, second.articles) == (8, 4)  # the second run fetched only new pages
        assert all(r.articles == 0 for r in later)
        assert {f"/{s.slug}/": alpha.hits.get(f"/{s.slug}/") for s in stories} == {
            f"/{s.slug}/": 1 for s in stories
        }

        failures = []
        for r in history["broken"]:
            if not r.failed:
                break
            failures.append(r)
        assert len(failures) >= 3
        assert all("HTTP 500" in r.detail for r in failures), failures[0].detail
        for k, (a, b) in enumerate(itertools.pairwise(failures)):  # 2s, 4s, 8s...
            assert b.started_at - a.started_at >= timedelta(seconds=2 * 2**k)

        out = winnow_cmd("runs", "--warehouse", str(warehouse)).stdout
        assert out.index("broken:") < out.index("alpha:")  # failing sources first
        assert "failed in a row" in out and "why: no page fetched" in out
        assert read_json(warehouse, "schedule.json") == {"running": []}


def test_two_sources_crawled_at_once_store_a_shared_article_once(
    tmp_path: Path, warehouse: Path, site_factory
) -> None:
    stories = stories_from_trailer_pages(["en", "fr", "es"])
    site = Site("shared", write_site(tmp_path / "site", stories))
    with site_factory(site):
        # the same articles, found by one source in the feed and by the other in the sitemap
        sources = write_sources(
            tmp_path / "sources.toml",
            feed={"feeds": [site.url("/feed.xml")]},
            sitemap={"sitemaps": [site.url("/sitemap.xml")]},
        )
        args = ("schedule", "--once", "--warehouse", str(warehouse), "--sources-file", str(sources))
        args += ("--allow-private", "--log-dir", str(tmp_path / "logs"), "--max-parallel", "2")
        winnow_cmd(*args, env=CRAWL_ENV)
    con = connect(warehouse)
    assert con.execute("select count(*), count(distinct url) from articles").fetchone() == (3, 3)
    dupes = con.execute("select count(*) from rejects where reason = 'duplicate_url'").fetchone()
    assert dupes == (3,)  # the other crawl's copies point at the kept rows
    started = [r.started_at for runs in load_history(warehouse).values() for r in runs]
    assert len(started) == 2


def test_once_runs_what_is_due_once_then_nothing_until_it_is_due_again(
    tmp_path: Path, warehouse: Path, site_factory
) -> None:
    site = Site("alpha", write_site(tmp_path / "alpha", stories_from_trailer_pages(["en", "fr"])))
    with site_factory(site):
        closed = f"http://127.0.0.1:{free_port()}/feed.xml"  # nothing listens there
        sources = write_sources(
            tmp_path / "sources.toml",
            alpha={"feeds": [site.url("/feed.xml")], "interval": "1h"},
            gone={"feeds": [closed], "interval": "1h"},
        )
        # alpha last ran three days ago: many runs were missed while nothing was running
        old = datetime.now(UTC) - timedelta(days=3)
        writer = WarehouseWriter(str(warehouse), "alpha-old")
        writer.add_run(
            schema.run_row("alpha-old", ["alpha"], old, old, "ok", {}, "host", 1, runner="local")
        )
        writer.close()

        args = ("schedule", "--once", "--warehouse", str(warehouse), "--sources-file", str(sources))
        args += ("--allow-private", "--log-dir", str(tmp_path / "logs"))
        first = winnow_cmd(*args, env=CRAWL_ENV, check=False)
        assert first.returncode == 1, first.stderr  # a run failed
        history = load_history(warehouse)
        assert [r.status for r in history["alpha"]] == ["ok", "ok"]  # caught up once
        assert history["alpha"][-1].articles == 2
        (gone,) = history["gone"]
        assert gone.failed and "refused" in gone.detail.lower()

        again = winnow_cmd(*args, env=CRAWL_ENV)
        assert "nothing is due" in again.stderr
        assert {k: len(v) for k, v in load_history(warehouse).items()} == {"alpha": 2, "gone": 1}

        plan = winnow_cmd("schedule", "--plan", *args[2:6]).stdout
        lines = dict(line.split("\t", 1) for line in plan.splitlines())
        assert "due now" not in lines["alpha"] and "every 1h" in lines["alpha"]
        assert "retry after 1 failure(s)" in lines["gone"]


def test_a_crawl_that_dies_without_its_row_is_recorded_failed_with_the_reason(
    tmp_path: Path, warehouse: Path
) -> None:
    sources = write_sources(
        tmp_path / "sources.toml", alpha={"feeds": ["http://news.example/feed.xml"]}
    )

    def dies(name: str, run_id: str) -> list[str]:
        return [
            sys.executable,
            "-c",
            "import sys; print('ERROR: settings are broken'); sys.exit(3)",
        ]

    runner = LocalRunner(str(warehouse), tmp_path / "logs", command=dies)
    scheduler = Scheduler(str(warehouse), runner, sources_file=sources, poll=0.1)
    assert scheduler.run(once=True) == 1
    (row,) = load_history(warehouse)["alpha"]
    assert row.failed and row.runner == "local"
    assert "exited with code 3" in row.detail and "settings are broken" in row.detail
    assert find_run(warehouse, row.run_id) == [row]


def slow_site(root: Path, pages: int = 40) -> tuple[Site, list[Story]]:
    """A site whose article pages take half a second each: a crawl of it lasts a while."""
    base = stories_from_trailer_pages(["en"])[0]
    stories = [Story(f"2026/11/03/slow-{i}", f"Slow {i}", base.paragraphs) for i in range(pages)]
    write_site(root, stories)

    def slow(path: str):
        def route(handler) -> None:
            time.sleep(0.5)
            handler.send_bytes(200, (root / path / "index.html").read_bytes(), "text/html")

        return route

    return Site("slow", root, routes={f"/{s.slug}/": slow(s.slug) for s in stories}), stories


def stop_mid_crawl(tmp_path: Path, warehouse: Path, site_factory, *extra: str):
    """Schedule the slow site, SIGTERM the scheduler once its crawl fetches articles;
    returns the site's stories, the sources file and the scheduler's log."""
    site, stories = slow_site(tmp_path / "slow")
    with site_factory(site):
        sources = write_sources(
            tmp_path / "sources.toml", slow={"feeds": [site.url("/feed.xml")], "interval": "1h"}
        )
        proc, log = start_scheduler(warehouse, sources, tmp_path, *extra)
        wait_for(lambda: any(p.startswith("/2026/") for p in site.hits), proc, log)
        assert stop(proc) == 0
    return stories, sources, log


def test_sigterm_lets_a_running_crawl_stop_cleanly(
    tmp_path: Path, warehouse: Path, site_factory
) -> None:
    stories, _, log = stop_mid_crawl(tmp_path, warehouse, site_factory)
    (row,) = load_history(warehouse)["slow"]
    assert row.status == "interrupted"  # written by the crawl itself as it stopped
    assert row.pages < len(stories)
    assert "stopping 1 running crawl(s)" in log.read_text()
    assert read_json(warehouse, "schedule.json") == {"running": []}


def test_a_crawl_the_shutdown_kills_is_interrupted_not_failed(
    tmp_path: Path, warehouse: Path, site_factory
) -> None:
    # no grace: the shutdown kills the crawl before it can write its own row
    _, sources, _ = stop_mid_crawl(tmp_path, warehouse, site_factory, "--grace", "0")
    (row,) = load_history(warehouse)["slow"]
    assert row.status == "interrupted", row
    assert "stopped by the scheduler's shutdown" in row.detail
    plan = winnow_cmd(
        "schedule", "--plan", "--warehouse", str(warehouse), "--sources-file", str(sources)
    ).stdout
    assert "failure" not in plan


def test_a_restarted_scheduler_waits_for_the_crawl_that_outlived_it(
    tmp_path: Path, warehouse: Path, site_factory
) -> None:
    site, stories = slow_site(tmp_path / "slow")
    with site_factory(site):
        sources = write_sources(
            tmp_path / "sources.toml", slow={"feeds": [site.url("/feed.xml")], "interval": "1s"}
        )
        proc, log = start_scheduler(warehouse, sources, tmp_path)
        wait_for(lambda: any(p.startswith("/2026/") for p in site.hits), proc, log)
        proc.kill()  # the scheduler dies; its crawl, in its own session, goes on
        proc.wait()
        (in_flight,) = read_json(warehouse, "schedule.json")["running"]

        args = ("schedule", "--once", "--warehouse", str(warehouse), "--sources-file", str(sources))
        again = winnow_cmd(*args, "--allow-private", env=CRAWL_ENV)
    assert "still in flight from before; waiting for it" in again.stderr
    (row,) = load_history(warehouse)["slow"]  # one run, not a second one beside it
    assert (row.run_id, row.status) == (in_flight["run_id"], "ok")
    assert {site.hits[f"/{s.slug}/"] for s in stories} == {1}
    assert read_json(warehouse, "schedule.json") == {"running": []}


def test_history_of_a_warehouse_no_crawl_has_created_yet_is_empty(tmp_path: Path) -> None:
    # the scheduler's first look, before its first crawl has written anything
    assert load_history(tmp_path / "wh") == {}
    assert find_run(tmp_path / "wh", "run-1") == []
    assert not (tmp_path / "wh").exists()


def test_a_finished_runs_log_line_says_due_now_for_a_past_time_and_nothing_once_stopping(
    tmp_path: Path,
) -> None:
    hourly = source(interval="1h")
    runner = LocalRunner(str(tmp_path / "wh"), tmp_path / "logs")
    scheduler = Scheduler(str(tmp_path / "wh"), runner, clock=lambda: NOW)
    assert scheduler.next_note(hourly, [run(NOW)]) == "; next 13:00:00 UTC (every 1h)"
    # a run that lasted longer than its interval: due again at once, not at a time gone by
    assert (
        scheduler.next_note(hourly, [run(NOW - timedelta(hours=2))]) == "; next due now (every 1h)"
    )
    scheduler.request_stop()  # a stopping scheduler starts nothing next
    assert scheduler.next_note(hourly, [run(NOW)]) == ""


def test_runs_marks_the_counts_of_a_run_over_several_sources_as_that_runs_totals(
    tmp_path: Path,
) -> None:
    warehouse = tmp_path / "wh"
    writer = WarehouseWriter(str(warehouse), "both")
    counts = {"pages": 12, "articles": 10}
    writer.add_run(schema.run_row("both", ["alpha", "beta"], NOW, NOW, "ok", counts, "h", 1))
    writer.add_run(schema.run_row("solo", ["alpha"], NOW, NOW, "ok", {"pages": 3}, "h", 1))
    writer.close()
    history = load_history(warehouse)
    assert [(r.run_id, r.sources) for r in history["alpha"]] == [("both", 2), ("solo", 1)]
    out = format_history(history)
    assert out.count("both *2") == 2  # under alpha and under beta
    assert "solo *" not in out
    assert out.endswith(
        "*N: a run over N sources; its counts are the whole run's, under each source."
    )
    assert "*N" not in format_history({"alpha": history["alpha"][1:]})
