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
from warehouse.readonly import seal
from warehouse.storage import open_root

FORMATS = {
    "jsonl": "FORMAT json",
    "csv": "FORMAT csv, HEADER true",
    "parquet": "FORMAT parquet, COMPRESSION zstd",
}


class ExportError(ValueError):
    """Bad arguments or a filter DuckDB cannot run; the message says which."""


def _check_filter(select: str, copy: str) -> None:
    """`--where` is one condition: nothing in it may end the SELECT or the COPY around it."""
    try:
        alone = duckdb.extract_statements(select)
        whole = duckdb.extract_statements(copy)
    except duckdb.Error as exc:
        raise ExportError(f"export failed: the --where condition does not parse: {exc}") from exc
    if (
        len(alone) != 1
        or alone[0].type != duckdb.StatementType.SELECT
        or len(whole) != 1
        or whole[0].type != duckdb.StatementType.COPY
    ):
        raise ExportError("export failed: --where must be one SQL condition on the table's columns")


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
    out = Path(output).resolve()
    partial = out.with_name(f".{out.name}.partial")
    select = f"SELECT * FROM {table}" + (f" WHERE {where}" if where else "")
    quoted = "'" + str(partial).replace("'", "''") + "'"
    copy = f"COPY ({select}) TO {quoted} ({FORMATS[fmt]})"
    _check_filter(select, copy)
    root = open_root(warehouse, create=False)
    con = connect(root)
    try:
        # As `winnow query`: the filter reads the warehouse only; the one file written
        # is the export's own.
        seal(con, root, writable=out.parent)
        result = con.execute(copy).fetchone()
        os.replace(partial, out)
    except (duckdb.Error, OSError) as exc:
        with contextlib.suppress(OSError):
            partial.unlink()
        raise ExportError(f"export failed: {exc}") from exc
    finally:
        con.close()
    return int(result[0]) if result else 0
