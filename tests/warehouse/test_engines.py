"""The same warehouse read by DuckDB, pyarrow and polars, old-schema files included."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import duckdb
import polars as pl
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from tests.factories import DAY, make_article, make_reject
from tests.warehouse.old_schema import NEW_COLUMNS, write_old_schema_file
from warehouse import schema
from warehouse.query import connect, dataset, files_read
from warehouse.storage import MissingWarehouse
from warehouse.writer import WarehouseWriter


def _fill(root: Path, per_partition: int = 5) -> int:
    writer = WarehouseWriter(root, "run-e", max_rows=7)
    n = 0
    for day in range(3):
        for lang in ("en", "fr"):
            for i in range(per_partition):
                writer.add(
                    make_article(
                        f"http://news.example/{day}/{lang}/{i}",
                        lang=lang,
                        fetched_at=DAY + timedelta(days=day),
                        tags=["world"],
                        spin_score=0.1,
                    )
                )
                n += 1
    writer.add(make_reject("http://news.example/tag/1"))
    writer.close()
    return n


def _read_all(root: Path) -> dict[str, tuple[int, tuple[str, ...]]]:
    """(row count, sorted column names) of `articles` through each engine."""
    glob = f"{root}/articles/**/*.parquet"
    out = {}
    con = connect(root)
    out["duckdb view"] = (
        con.execute("select count(*) from articles").fetchone()[0],
        tuple(sorted(c[0] for c in con.execute("select * from articles limit 0").description)),
    )
    plain = duckdb.sql(
        f"select * from read_parquet('{glob}', union_by_name=true, hive_partitioning=true)"
    )
    out["duckdb glob"] = (len(plain.fetchall()), tuple(sorted(plain.columns)))
    table = dataset(root).to_table()
    out["winnow dataset"] = (table.num_rows, tuple(sorted(table.column_names)))
    table = ds.dataset(
        root / "articles",
        format="parquet",
        partitioning="hive",
        schema=schema.full_schema("articles"),
    ).to_table()
    out["pyarrow hive"] = (table.num_rows, tuple(sorted(table.column_names)))
    frame = pl.scan_parquet(
        glob,
        hive_partitioning=True,
        schema=pl.from_arrow(schema.ARTICLES.empty_table()).schema,
        missing_columns="insert",
    ).collect()
    out["polars hive"] = (frame.height, tuple(sorted(frame.columns)))
    frame = pl.scan_pyarrow_dataset(dataset(root)).collect()
    out["polars on winnow dataset"] = (frame.height, tuple(sorted(frame.columns)))
    return out


def test_duckdb_pyarrow_and_polars_read_the_same_rows_and_columns(warehouse: Path) -> None:
    n = _fill(warehouse)
    results = _read_all(warehouse)
    expected = tuple(sorted(name for name, _ in schema.columns("articles")))
    for engine, (count, cols) in results.items():
        assert (count, cols) == (n, expected), engine


def test_a_file_of_an_older_schema_reads_with_nulls_in_the_new_columns(warehouse: Path) -> None:
    n = _fill(warehouse) + 4
    write_old_schema_file(warehouse)
    results = _read_all(warehouse)
    assert len(set(results.values())) == 1, results
    count, cols = next(iter(results.values()))
    assert count == n and set(NEW_COLUMNS) <= set(cols)
    con = connect(warehouse)
    rows = con.execute(
        "select lang, count(*), count(spin_score), count(tags) from articles group by lang order by lang"
    ).fetchall()
    assert rows == [("de", 4, 0, 0), ("en", 15, 15, 15), ("fr", 15, 15, 15)]
    versions = {
        pq.read_schema(p).metadata[schema.VERSION_KEY] for p in warehouse.rglob("*.parquet")
    }
    assert versions == {b"0", schema.SCHEMA_VERSION.encode()}


def test_a_query_on_one_date_reads_only_that_dates_files(warehouse: Path) -> None:
    _fill(warehouse)
    all_files = list(warehouse.glob("articles/**/*.parquet"))
    one_day = list(warehouse.glob("articles/date=2026-11-04/*/*.parquet"))
    assert 0 < len(one_day) < len(all_files)
    con = connect(warehouse)
    assert files_read(con, "select count(text) from articles") == len(all_files)
    sql = "select lang, count(text) from articles where date = DATE '2026-11-04' group by lang"
    assert files_read(con, sql) == len(one_day)
    one_lang = list(warehouse.glob("articles/date=2026-11-04/lang=fr/*.parquet"))
    sql = "select count(text) from articles where date = DATE '2026-11-04' and lang = 'fr'"
    assert files_read(con, sql) == len(one_lang)
    assert con.execute(sql).fetchone() == (5,)
    # pyarrow prunes the same way: only that date's fragments are scanned
    fragments = list(
        dataset(warehouse).get_fragments(filter=ds.field("date") == DAY.date() + timedelta(days=1))
    )
    assert sorted(Path(f.path) for f in fragments) == sorted(one_day)


def test_a_warehouse_path_that_is_not_there_is_an_error_not_an_empty_warehouse(
    tmp_path: Path,
) -> None:
    typo = tmp_path / "warehuose"
    with pytest.raises(MissingWarehouse, match="no warehouse at"):
        connect(typo)
    with pytest.raises(MissingWarehouse, match="no warehouse at"):
        dataset(typo)
    assert not typo.exists()  # a reader never creates it
    file = tmp_path / "a-file"
    file.write_text("")
    with pytest.raises(MissingWarehouse, match="is not a directory"):
        connect(file)
