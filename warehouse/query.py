"""DuckDB over the warehouse: the views `articles`, `rejects` and `runs`.

Each view reads its table's Parquet files with Hive partitioning and the union of
the files' schemas, so files written before a column was added still read. A table
with no files yet is an empty view with the right columns. The connection is an
in-memory DuckDB: nothing is ever written to the warehouse through it.
"""

from __future__ import annotations

import os

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds

from warehouse import schema
from warehouse.layout import UNKNOWN_LANG
from warehouse.storage import Root, open_root

_HIVE_TYPES = {
    "articles": "{'date': DATE, 'lang': VARCHAR}",
    "rejects": "{'date': DATE}",
    "runs": None,
}
_PARTITION_TYPES = {"date": pa.date32(), "lang": pa.string()}


def _has_files(root: Root, table: str) -> bool:
    from pyarrow import fs as pafs

    try:
        infos = root.fs.get_file_info(
            pafs.FileSelector(root.path(table), recursive=True, allow_not_found=True)
        )
    except OSError:
        return False
    return any(
        i.type == pafs.FileType.File
        and i.base_name.endswith(".parquet")
        and not i.base_name.startswith(".")
        for i in infos
    )


def _empty_select(table: str) -> str:
    cols = [f'CAST(NULL AS {duckdb_type(f.type)}) AS "{f.name}"' for f in schema.TABLES[table]]
    cols += [
        f'CAST(NULL AS {duckdb_type(_PARTITION_TYPES[k])}) AS "{k}"'
        for k in schema.PARTITIONS[table]
    ]
    return f"SELECT {', '.join(cols)} WHERE false"


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


def _configure_s3(con: duckdb.DuckDBPyConnection) -> None:
    endpoint = os.environ.get("AWS_ENDPOINT_URL", "")
    scheme, _, host = endpoint.partition("://")
    con.execute("INSTALL httpfs; LOAD httpfs;")
    con.execute(
        "CREATE OR REPLACE SECRET winnow_s3 (TYPE s3, KEY_ID ?, SECRET ?, REGION ?, ENDPOINT ?, URL_STYLE 'path', USE_SSL ?)",
        [
            os.environ.get("AWS_ACCESS_KEY_ID", ""),
            os.environ.get("AWS_SECRET_ACCESS_KEY", ""),
            os.environ.get("AWS_REGION", "us-east-1"),
            host or "s3.amazonaws.com",
            scheme != "http",
        ],
    )


def connect(
    warehouse: str | Root, con: duckdb.DuckDBPyConnection | None = None
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the three views defined over the warehouse."""
    root = warehouse if isinstance(warehouse, Root) else open_root(warehouse)
    con = con or duckdb.connect(":memory:")
    if not root.is_local:
        _configure_s3(con)
    for table in schema.TABLES:
        if _has_files(root, table):
            hive = _HIVE_TYPES[table]
            options = (
                f", hive_partitioning=true, hive_types={hive}"
                if hive
                else ", hive_partitioning=false"
            )
            select = (
                f"SELECT * FROM read_parquet('{root.glob_uri(table)}', union_by_name=true{options})"
            )
        else:
            select = _empty_select(table)
        con.execute(f"CREATE OR REPLACE VIEW {table} AS {select}")
    return con


def dataset(warehouse: str | Root, table: str = "articles") -> ds.Dataset:
    """A pyarrow dataset of one table (Hive partitioning, union schema), for notebooks and Spark-like use."""
    root = warehouse if isinstance(warehouse, Root) else open_root(warehouse)
    keys = schema.PARTITIONS[table]
    partitioning = (
        ds.partitioning(pa.schema([(k, _PARTITION_TYPES[k]) for k in keys]), flavor="hive")
        if keys
        else None
    )
    full = pa.schema(list(schema.TABLES[table]) + [pa.field(k, _PARTITION_TYPES[k]) for k in keys])
    if not _has_files(root, table):
        return ds.dataset(pa.Table.from_pylist([], schema=full))
    return ds.dataset(
        root.path(table),
        filesystem=root.fs,
        format="parquet",
        partitioning=partitioning,
        schema=full,
    )


__all__ = ["UNKNOWN_LANG", "connect", "dataset"]
