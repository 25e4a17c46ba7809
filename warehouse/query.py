"""DuckDB and pyarrow over the warehouse: the views `articles`, `rejects` and `runs`.

`connect()` returns an in-memory DuckDB connection (nothing is ever written to the
warehouse through it) whose views read the table's live files (`catalog.live_files`)
with Hive partitioning (`date` as DATE, `lang` as VARCHAR) and the union of the
files' schemas, so files written before a column was added still read. A filter on
`date` or `lang` prunes whole files before they are opened (`files_read()` shows it).

The views are a snapshot: they list the files present when `connect()` ran, each
row exactly once even while `winnow compact` runs. Call `connect(warehouse, con)`
again to see files written since. A compaction deletes the files it merged after a
grace period (60 s by default), so a snapshot older than that may fail with a
missing-file error (never a wrong answer): connect again.

For an `s3://` root DuckDB reads through its httpfs extension when it can be loaded
(or installed); otherwise the views scan pyarrow datasets over pyarrow's
S3 filesystem, which DuckDB queries with the same filter and projection pushdown.
Such views live on this connection only (a `cursor()` does not see them).

`dataset()` is the same snapshot as a pyarrow dataset, for notebooks, polars
(`pl.scan_pyarrow_dataset`) and anything else that speaks Arrow.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from warehouse import schema
from warehouse.catalog import live_files
from warehouse.dataset import arrow_dataset, dataset
from warehouse.layout import UNKNOWN_LANG
from warehouse.storage import Root, open_root

__all__ = ["ScanStats", "connect", "dataset", "duckdb_type", "files_read", "scan_stats"]

log = logging.getLogger(__name__)

_HIVE_TYPES = {
    "articles": "{'date': DATE, 'lang': VARCHAR}",
    "rejects": "{'date': DATE}",
    "runs": None,
}
#: Whether this process's DuckDB can read s3:// itself (None: not tried yet).
_httpfs_ok: bool | None = None


def duckdb_type(t: pa.DataType) -> str:
    """The DuckDB type for an Arrow type of our schema."""
    if pa.types.is_list(t):
        return duckdb_type(t.value_type) + "[]"
    return {
        pa.string(): "VARCHAR",
        pa.float32(): "FLOAT",
        pa.float64(): "DOUBLE",
        pa.int16(): "SMALLINT",
        pa.int32(): "INTEGER",
        pa.int64(): "BIGINT",
        pa.date32(): "DATE",
        schema.TS: "TIMESTAMPTZ",
    }[t]


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _empty_select(table: str) -> str:
    cols = [f'CAST(NULL AS {duckdb_type(t)}) AS "{n}"' for n, t in schema.columns(table)]
    return f"SELECT {', '.join(cols)} WHERE false"


def _parquet_select(table: str, uris: list[str]) -> str:
    files = "[" + ", ".join(_sql_string(u) for u in uris) + "]"
    hive = _HIVE_TYPES[table]
    options = f"hive_partitioning=true, hive_types={hive}" if hive else "hive_partitioning=false"
    return f"SELECT * FROM read_parquet({files}, union_by_name=true, {options})"


def _s3_settings() -> tuple[str, str, str, str, bool]:
    endpoint = os.environ.get("AWS_ENDPOINT_URL") or os.environ.get("WINNOW_S3_ENDPOINT", "")
    scheme, _, host = endpoint.partition("://")
    if not host:
        scheme, host = "https", scheme
    return (
        os.environ.get("AWS_ACCESS_KEY_ID", ""),
        os.environ.get("AWS_SECRET_ACCESS_KEY", ""),
        os.environ.get("AWS_REGION", "us-east-1"),
        host or "s3.amazonaws.com",
        scheme != "http",
    )


def _duckdb_reads_s3(con: duckdb.DuckDBPyConnection) -> bool:
    """Load httpfs (installing it if needed, once per process) and configure S3 access."""
    global _httpfs_ok
    if _httpfs_ok is False:
        return False
    key, secret, region, host, ssl = _s3_settings()
    options = {
        "KEY_ID": key,
        "SECRET": secret,
        "REGION": region,
        "ENDPOINT": host,
        # S3-compatible servers on their own endpoint want path-style URLs; AWS, vhost
        "URL_STYLE": "vhost" if host == "s3.amazonaws.com" else "path",
    }
    settings = ", ".join(f"{k} {_sql_string(v)}" for k, v in options.items())
    try:
        try:
            con.execute("LOAD httpfs")
        except duckdb.Error:
            con.execute("INSTALL httpfs")
            con.execute("LOAD httpfs")
        con.execute(
            f"CREATE OR REPLACE SECRET winnow_s3 (TYPE s3, {settings}, USE_SSL {str(ssl).lower()})"
        )
    except duckdb.Error as exc:
        log.info("DuckDB cannot read s3:// (%s); reading it through pyarrow", exc)
        _httpfs_ok = False
        return False
    _httpfs_ok = True
    return True


def connect(
    warehouse: str | Root, con: duckdb.DuckDBPyConnection | None = None
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the three views over a snapshot of the warehouse."""
    root = warehouse if isinstance(warehouse, Root) else open_root(warehouse, create=False)
    con = con or duckdb.connect(":memory:")
    native = root.is_local or _duckdb_reads_s3(con)
    for table in schema.TABLES:
        files = live_files(root, table)
        if not files:
            select = _empty_select(table)
        elif native:
            select = _parquet_select(table, [root.uri_of(f.path) for f in files])
        else:
            source = f"winnow_{table}_arrow"
            con.register(source, arrow_dataset(root, table, [f.path for f in files]))
            select = f"SELECT * FROM {source}"
        con.execute(f"CREATE OR REPLACE VIEW {table} AS {select}")
    return con


@dataclass(frozen=True)
class ScanStats:
    """What DuckDB read to answer a query."""

    files: int  # Parquet files opened
    row_groups: int  # row groups scanned (others were skipped by their statistics)


def scan_stats(con: duckdb.DuckDBPyConnection, sql: str) -> ScanStats:
    """Files and row groups DuckDB reads to run `sql` (EXPLAIN ANALYZE): pruning, shown."""
    con.execute("PRAGMA enable_profiling = 'json'")
    try:
        plan = json.loads(con.execute("EXPLAIN ANALYZE " + sql).fetchall()[0][1])
    finally:
        con.execute("PRAGMA disable_profiling")
    files = row_groups = 0
    todo = list(plan.get("operator", plan.get("children", [])))
    while todo:
        node = todo.pop()
        info = node.get("extra_info") or {}
        if isinstance(info, dict) and "Total Files Read" in info:
            files += int(info["Total Files Read"])
            row_groups += int(node.get("row_groups_scanned", 0))
        todo += node.get("children", [])
    return ScanStats(files, row_groups)


def files_read(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    """How many Parquet files DuckDB opens to run `sql`."""
    return scan_stats(con, sql).files


__all__ = ["UNKNOWN_LANG", "ScanStats", "connect", "dataset", "files_read", "scan_stats"]
