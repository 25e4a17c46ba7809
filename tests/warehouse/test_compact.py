"""Compaction: fewer files, the same rows, and readers that never see a row twice or miss one."""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.conftest import ROOT
from tests.factories import DAY, make_article, make_reject
from tests.warehouse.old_schema import write_old_schema_file
from warehouse import schema
from warehouse.catalog import REPLACES_KEY, list_files
from warehouse.compact import CompactionError, _lock, compact, plan
from warehouse.layout import COMPACT, PartitionError
from warehouse.query import connect, dataset
from warehouse.storage import open_root
from warehouse.writer import WarehouseWriter


def _small_files(root: Path, files: int = 500) -> None:
    """`files` one-row files over 2 dates x 2 languages, plus a few rejects."""
    writer = WarehouseWriter(root, "run-s", max_rows=1)
    for i in range(files):
        writer.add(
            make_article(
                f"http://news.example/s/{i}",
                text=f"Story number {i}. " * 40,
                lang="en" if i % 2 else "fr",
                fetched_at=DAY + timedelta(days=(i // 2) % 2),
            )
        )
    writer.close()


def _fingerprint(root: Path) -> tuple[int, str]:
    """(row count, SHA-256 of the sorted URLs) of `articles`, through winnow's reader."""
    urls = connect(root).execute("select url from articles order by url").fetchall()
    return len(urls), hashlib.sha256("\n".join(u for (u,) in urls).encode()).hexdigest()


def test_500_small_files_become_one_per_partition_with_the_same_rows_while_a_reader_counts(
    warehouse: Path,
) -> None:
    _small_files(warehouse, 500)
    assert len(list(warehouse.rglob("*.parquet"))) == 500
    before = _fingerprint(warehouse)
    counts: list[int] = []
    errors: list[BaseException] = []
    overlap = threading.Event()  # the reader listed merged and replaced files together
    done = threading.Event()
    root = open_root(warehouse)

    def reader() -> None:
        try:
            while not done.is_set():
                names = [f.name for f in list_files(root, "articles")]
                if any(n.startswith(COMPACT) for n in names) and len(names) > 4:
                    overlap.set()
                counts.append(
                    connect(warehouse).execute("select count(*) from articles").fetchone()[0]
                )
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        results = compact(warehouse, grace=2.0)
    finally:
        done.set()
        thread.join()
    assert not errors, errors
    assert len(counts) >= 5 and set(counts) == {500}
    assert overlap.is_set(), "the reader should have run while both generations were on disk"

    parts = sorted(p.parent.relative_to(warehouse).as_posix() for p in warehouse.rglob("*.parquet"))
    assert parts == [
        "articles/date=2026-11-03/lang=en",
        "articles/date=2026-11-03/lang=fr",
        "articles/date=2026-11-04/lang=en",
        "articles/date=2026-11-04/lang=fr",
    ]
    assert _fingerprint(warehouse) == before
    assert sum(r.rows for r in results) == 500 and {r.files_after for r in results} == {1}
    # after the grace period any engine's plain glob is exact again
    assert dataset(warehouse).count_rows() == 500
    merged = next(warehouse.rglob("compact-*.parquet"))
    meta = pq.read_schema(merged).metadata
    assert meta[schema.VERSION_KEY] == schema.SCHEMA_VERSION.encode()
    assert len(json.loads(meta[REPLACES_KEY])) == 125


def test_old_schema_files_merge_into_the_union_schema(warehouse: Path) -> None:
    writer = WarehouseWriter(warehouse, "run-o", max_rows=1)
    for i in range(3):
        writer.add(
            make_article(
                f"http://news.example/o/{i}",
                lang="de",
                fetched_at=DAY - timedelta(days=2),
                spin_score=0.5,
            )
        )
    writer.close()
    write_old_schema_file(warehouse)
    compact(warehouse, grace=0)
    (merged,) = (warehouse / "articles" / "date=2026-11-01" / "lang=de").glob("*.parquet")
    assert merged.name.startswith(COMPACT)
    table = pq.read_table(merged)
    assert table.num_rows == 7 and table.column("spin_score").null_count == 4
    assert set(schema.ARTICLES.names) <= set(table.column_names)


def test_only_the_partitions_asked_for_are_compacted(warehouse: Path) -> None:
    _small_files(warehouse, 40)
    writer = WarehouseWriter(warehouse, "run-r", max_rows=1)
    for i in range(3):
        writer.add(make_reject(f"http://news.example/r/{i}"))
    writer.close()
    compact(warehouse, partitions=["articles/date=2026-11-04/lang=en", "rejects"], grace=0)
    counts = {
        p.relative_to(warehouse).as_posix(): len(list(p.glob("*.parquet")))
        for p in warehouse.glob("*/date=*/**")
        if p.is_dir() and list(p.glob("*.parquet"))
    }
    assert counts == {
        "articles/date=2026-11-03/lang=en": 10,
        "articles/date=2026-11-03/lang=fr": 10,
        "articles/date=2026-11-04/lang=en": 1,
        "articles/date=2026-11-04/lang=fr": 10,
        "rejects/date=2026-11-03": 1,
    }
    assert connect(warehouse).execute("select count(*) from articles").fetchone() == (40,)
    with pytest.raises(PartitionError):
        compact(warehouse, partitions=["articles/date=../../etc"])


def test_target_size_bounds_the_merged_files() -> None:
    from warehouse.catalog import DataFile

    files = [DataFile(f"p/{i}.parquet", "p", (), 40, float(i)) for i in range(10)]
    groups = plan([*files, DataFile("p/big.parquet", "p", (), 500, 0.0)], 100)
    assert [len(g) for g in groups] == [2, 2, 2, 2, 2]
    assert all("p/big.parquet" not in [f.path for f in g] for g in groups)


def test_a_compaction_killed_before_deleting_is_finished_by_the_next(warehouse: Path) -> None:
    _small_files(warehouse, 60)
    before = _fingerprint(warehouse)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "winnow.cli",
            "compact",
            "--warehouse",
            str(warehouse),
            "--grace",
            "600",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while len(list(warehouse.rglob("compact-*.parquet"))) < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert len(list(warehouse.rglob("*.parquet"))) == 64  # merged and replaced, side by side
    assert _fingerprint(warehouse) == before  # readers drop the replaced files
    assert dataset(warehouse).count_rows() == 60
    compact(warehouse, grace=0)
    assert len(list(warehouse.rglob("*.parquet"))) == 4
    assert _fingerprint(warehouse) == before


def test_one_compaction_at_a_time(warehouse: Path) -> None:
    _small_files(warehouse, 4)
    with _lock(open_root(warehouse)), pytest.raises(CompactionError, match="another compaction"):
        compact(warehouse, grace=0)
