from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pyarrow.dataset as ds
import pyarrow.parquet as pq

from tests.factories import DAY, make_article, make_reject
from warehouse.query import connect, dataset
from warehouse.schema import SCHEMA_VERSION
from warehouse.writer import WarehouseWriter


def _write(root: Path, n: int = 6) -> WarehouseWriter:
    writer = WarehouseWriter(root, "run-1")
    for i in range(n):
        lang = "en" if i % 2 else "fr"
        writer.add(make_article(f"http://news.example/a/{i}", text=f"Story {i}. " * 30, lang=lang))
    writer.add(make_reject("http://news.example/tag/x", value=0.2))
    writer.add(make_reject("http://news.example/tag/y", fetched_at=DAY + timedelta(days=1)))
    writer.close()
    return writer


def test_files_are_hive_partitioned_and_read_back_by_duckdb_and_pyarrow(warehouse: Path) -> None:
    writer = _write(warehouse)
    assert sorted(
        p.relative_to(warehouse).parent.as_posix() for p in warehouse.rglob("*.parquet")
    ) == [
        "articles/date=2026-11-03/lang=en",
        "articles/date=2026-11-03/lang=fr",
        "rejects/date=2026-11-03",
        "rejects/date=2026-11-04",
    ]
    assert writer.rows_written == 8
    con = connect(warehouse)
    assert con.execute(
        "select lang, count(*) from articles group by lang order by lang"
    ).fetchall() == [("en", 3), ("fr", 3)]
    assert con.execute(
        "select count(*) from rejects where date = DATE '2026-11-04'"
    ).fetchone() == (1,)
    table = ds.dataset(warehouse / "articles", format="parquet", partitioning="hive").to_table()
    assert table.num_rows == 6 and {"date", "lang", "text", "url"} <= set(table.column_names)
    assert dataset(warehouse, "rejects").to_table().num_rows == 2


def test_files_carry_zstd_and_the_schema_version(warehouse: Path) -> None:
    _write(warehouse)
    path = next(warehouse.rglob("articles/**/*.parquet"))
    meta = pq.ParquetFile(path)
    assert meta.schema_arrow.metadata[b"winnow.schema_version"] == SCHEMA_VERSION.encode()
    assert meta.metadata.row_group(0).column(0).compression == "ZSTD"


def test_no_temporary_file_is_left_and_names_are_unique(warehouse: Path) -> None:
    _write(warehouse)
    _write(warehouse)  # same run id, same process: the sequence number keeps names apart
    names = [p.name for p in warehouse.rglob("*") if p.is_file()]
    assert not [n for n in names if n.startswith(".tmp-")]
    assert len(names) == len(set(names)) == 8
    assert connect(warehouse).execute("select count(*) from articles").fetchone() == (12,)


def test_a_dead_writers_temporary_file_is_removed_and_never_read(warehouse: Path) -> None:
    part = warehouse / "articles" / "date=2026-11-03" / "lang=en"
    part.mkdir(parents=True)
    from warehouse.layout import host_tag

    stale = part / f".tmp-part-run-0-{host_tag()}-999999-000001.parquet.partial"
    stale.write_bytes(b"PAR1 half a file")
    assert connect(warehouse).execute("select count(*) from articles").fetchone() == (0,)
    WarehouseWriter(warehouse, "run-2")
    assert not stale.exists()


def test_empty_warehouse_has_empty_views(warehouse: Path) -> None:
    con = connect(warehouse)
    for view in ("articles", "rejects", "runs"):
        assert con.execute(f"select count(*) from {view}").fetchone() == (0,)
    assert "text" in [d[0] for d in con.execute("select * from articles").description]


def test_flush_by_row_count_bounds_the_buffer(warehouse: Path) -> None:
    writer = WarehouseWriter(warehouse, "run-3", max_rows=4)
    for i in range(10):
        writer.add(make_article(f"http://news.example/b/{i}"))
        assert writer.pending() < 4
    writer.close()
    assert connect(warehouse).execute("select count(*) from articles").fetchone() == (10,)
