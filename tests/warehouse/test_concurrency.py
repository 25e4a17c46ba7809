"""Several writers at once, readers meanwhile, a writer killed mid-flush, flushing by age."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from tests.conftest import ROOT
from tests.factories import make_article
from warehouse.layout import TMP_PREFIX
from warehouse.query import connect, dataset
from warehouse.writer import WarehouseWriter


def _writer(root: Path, run_id: str, flushes: int, rows: int, *extra: str, log=None):
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.warehouse.write_loop",
            str(root),
            run_id,
            str(flushes),
            str(rows),
            *extra,
        ],
        cwd=ROOT,
        stdout=log or subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _counts(root: Path) -> dict[str, int]:
    glob = f"{root}/articles/**/*.parquet"
    plain = duckdb.connect().execute(
        f"select count(*) from read_parquet('{glob}', union_by_name=true, hive_partitioning=true)"
    )
    return {
        "connect": connect(root).execute("select count(*) from articles").fetchone()[0],
        "dataset": dataset(root).count_rows(),
        "duckdb glob": plain.fetchone()[0],
    }


def test_two_writers_at_once_while_a_reader_loops(warehouse: Path) -> None:
    flushes, rows = 30, 200
    writers = [_writer(warehouse, f"run-{k}", flushes, rows, "200", "0.02") for k in "ab"]
    seen: dict[str, list[int]] = {"connect": [], "dataset": [], "duckdb glob": []}
    while any(w.poll() is None for w in writers):
        if not any(warehouse.glob("articles/**/*.parquet")):
            time.sleep(0.01)
            continue
        for engine, count in _counts(warehouse).items():  # raises on any partial file
            seen[engine].append(count)
    for w in writers:
        assert w.wait() == 0, w.stderr.read().decode()
    total = 2 * flushes * rows
    assert _counts(warehouse) == {"connect": total, "dataset": total, "duckdb glob": total}
    con = connect(warehouse)
    assert con.execute(
        "select count(distinct url), count(distinct run_id) from articles"
    ).fetchone() == (total, 2)
    for engine, counts in seen.items():
        assert len(counts) >= 3, "the reader should have run while the writers wrote"
        assert counts == sorted(counts) and all(0 < c <= total for c in counts), engine
        assert all(c % rows == 0 for c in counts), f"{engine} saw part of a file"
    names = [p.name for p in warehouse.rglob("*.parquet")]
    assert len(names) == len(set(names)) == 2 * flushes


def _kill_mid_flush(root: Path, run_id: str, log_path: Path) -> None:
    """Start a writer of large flushes; SIGKILL it while it writes a temporary file."""
    with open(log_path, "w") as log:
        proc = _writer(root, run_id, 1000, ROWS, "2000", log=log)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            done = log_path.read_text().count("\n")
            if done >= 2 and any(root.rglob(TMP_PREFIX + "*")):
                time.sleep(random.uniform(0, 0.02))
                break
            time.sleep(0.002)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()


ROWS = 20000


def test_a_writer_killed_mid_flush_leaves_no_partial_file_and_loses_no_flushed_row(
    warehouse: Path, tmp_path: Path
) -> None:
    flushed: dict[str, int] = {}
    for attempt in range(5):  # until the kill lands inside a flush (nearly always the first)
        log_path = tmp_path / f"flushes-{attempt}.log"
        _kill_mid_flush(warehouse, f"run-k{attempt}", log_path)
        before = set(flushed)
        for line in log_path.read_text().splitlines():
            _, path, n = line.split()
            flushed[path] = int(n)
        assert len(flushed) - len(before) >= 2
        leftovers = list(warehouse.rglob(TMP_PREFIX + "*"))
        if leftovers:
            break
    assert leftovers, "the writer should have died in the middle of a flush"
    assert all(p.name.endswith(".partial") for p in leftovers)

    # every visible file reads whole; every reported flush is there with all its rows
    visible = {str(p): pq.read_table(p).num_rows for p in warehouse.rglob("*.parquet")}
    for path, n in flushed.items():
        assert visible.get(path) == n
    # at most one file per killed writer was renamed before its report line was printed
    assert len(set(visible) - set(flushed)) <= attempt + 1
    assert all(n == ROWS for n in visible.values())
    assert connect(warehouse).execute("select count(*) from articles").fetchone() == (
        sum(visible.values()),
    )

    WarehouseWriter(warehouse, "run-next")  # the next writer cleans up after the dead one
    assert not list(warehouse.rglob(TMP_PREFIX + "*"))
    assert {str(p) for p in warehouse.rglob("*.parquet")} == set(visible)


def test_a_live_writers_temporary_file_is_left_alone(warehouse: Path) -> None:
    part = warehouse / "articles" / "date=2026-11-03" / "lang=en"
    part.mkdir(parents=True)
    writer = WarehouseWriter(warehouse, "run-live")
    mine = part / f"{TMP_PREFIX}part-{writer.tag}-000099.parquet.partial"
    mine.write_bytes(b"being written")
    WarehouseWriter(warehouse, "run-other")
    assert mine.exists()


def test_rows_show_up_after_max_age_without_close(warehouse: Path) -> None:
    writer = WarehouseWriter(warehouse, "run-t", max_rows=1000, max_age=0.05)
    for i in range(3):
        writer.add(make_article(f"http://news.example/t/{i}"))
    assert writer.pending() == 3
    time.sleep(0.1)
    writer.maybe_flush()
    assert writer.pending() == 0
    assert connect(warehouse).execute("select count(*) from articles").fetchone() == (3,)


def test_maybe_flush_keeps_young_rows_buffered(warehouse: Path) -> None:
    writer = WarehouseWriter(warehouse, "run-y", max_rows=1000, max_age=3600)
    writer.add(make_article("http://news.example/y/1"))
    writer.maybe_flush()
    assert writer.pending() == 1
    assert connect(warehouse).execute("select count(*) from articles").fetchone() == (0,)
    writer.close()
    assert connect(warehouse).execute("select count(*) from articles").fetchone() == (1,)
    assert os.listdir(warehouse / "articles")
