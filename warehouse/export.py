"""`winnow export`: a filtered subset of one table as JSON lines, CSV or Parquet.

DuckDB streams the rows from the warehouse's views into the file (a filter on
`date` or `lang` prunes partitions as in `winnow query`). The output is written
under a temporary name and renamed when complete, so a failed export leaves no
half file behind.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import duckdb

from warehouse import schema
from warehouse.query import connect

FORMATS = {
    "jsonl": "FORMAT json",
    "csv": "FORMAT csv, HEADER true",
    "parquet": "FORMAT parquet, COMPRESSION zstd",
}


class ExportError(ValueError):
    """Bad arguments or a filter DuckDB cannot run; the message says which."""


def export(
    warehouse: str,
    output: str | os.PathLike[str],
    fmt: str = "jsonl",
    table: str = "articles",
    where: str | None = None,
) -> int:
    """Write the rows of `table` matching the SQL condition `where` to `output`; returns the count."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r} (choose from {', '.join(FORMATS)})")
    if table not in schema.TABLES:
        raise ExportError(f"unknown table {table!r} (choose from {', '.join(schema.TABLES)})")
    out = Path(output)
    partial = out.with_name(f".{out.name}.partial")
    select = f"SELECT * FROM {table}" + (f" WHERE {where}" if where else "")
    con = connect(warehouse)
    quoted = "'" + str(partial).replace("'", "''") + "'"
    try:
        result = con.execute(f"COPY ({select}) TO {quoted} ({FORMATS[fmt]})").fetchone()
        os.replace(partial, out)
    except (duckdb.Error, OSError) as exc:
        with contextlib.suppress(OSError):
            partial.unlink()
        raise ExportError(f"export failed: {exc}") from exc
    finally:
        con.close()
    return int(result[0]) if result else 0
