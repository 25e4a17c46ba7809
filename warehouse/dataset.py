"""The warehouse's tables as pyarrow datasets: a snapshot of their live files.

For notebooks, polars (`pl.scan_pyarrow_dataset`) and anything else that speaks
Arrow, and for the crawler, which reads the kept articles' ids and URLs at its start
without loading DuckDB (warehouse.query re-exports `dataset` beside `connect`).
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.dataset as ds

from warehouse import schema
from warehouse.catalog import live_files
from warehouse.storage import Root, open_root


def arrow_dataset(root: Root, table: str, paths: list[str]) -> ds.Dataset:
    """A pyarrow dataset of some of a table's files (Hive partitioning, union schema)."""
    keys = schema.PARTITIONS[table]
    partitioning = (
        ds.partitioning(pa.schema([(k, schema.PARTITION_TYPES[k]) for k in keys]), flavor="hive")
        if keys
        else None
    )
    return ds.dataset(
        paths,
        filesystem=root.fs,
        format="parquet",
        partitioning=partitioning,
        partition_base_dir=root.path(table),
        schema=schema.full_schema(table),
    )


def dataset(warehouse: str | Root, table: str = "articles") -> ds.Dataset:
    """A pyarrow dataset of one table (Hive partitioning, union schema) over a snapshot."""
    root = warehouse if isinstance(warehouse, Root) else open_root(warehouse, create=False)
    files = live_files(root, table)
    if not files:
        return ds.dataset(schema.full_schema(table).empty_table())
    return arrow_dataset(root, table, [f.path for f in files])
