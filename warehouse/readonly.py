"""`winnow query` is read-only: SQL reads the warehouse and cannot change a file.

The DuckDB connection is in memory, but SQL can still write files: COPY ... TO,
EXPORT DATABASE and ATTACH (which creates a database file) can all put files into
the warehouse, and PRAGMA and INSTALL write elsewhere. So only statements that read
run (SELECT and its forms: WITH, VALUES, FROM, DESCRIBE, SHOW, SUMMARIZE; and
EXPLAIN), and the connection is then sealed: for a local warehouse no file outside it
can be read and no extension loaded, and the configuration is locked so that a query
cannot undo it.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from warehouse.storage import Root

READ_STATEMENTS = frozenset({duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN})


class ReadOnlyError(ValueError):
    """A statement that could write was refused; the message names it."""


def check_read_only(sql: str) -> None:
    """Raise ReadOnlyError unless every statement in `sql` only reads (duckdb.Error if it does not parse)."""
    for statement in duckdb.extract_statements(sql):
        if statement.type not in READ_STATEMENTS:
            # by its own first word: DuckDB files INSTALL under LOAD, for one
            what = (statement.query.split() or [statement.type.name])[0].upper()
            raise ReadOnlyError(
                f"winnow query only reads: {what} statements are not run "
                "(use SELECT, WITH, DESCRIBE, SHOW, SUMMARIZE or EXPLAIN)"
            )


def seal(con: duckdb.DuckDBPyConnection, root: Root, writable: Path | None = None) -> None:
    """Confine a connection that already has its views to reading the warehouse (and to
    the directory `writable`, where `winnow export` writes its file)."""
    if root.is_local:
        dirs = [root.base, *([str(writable)] if writable is not None else [])]
        quoted = ", ".join("'" + (d.rstrip("/") + "/").replace("'", "''") + "'" for d in dirs)
        con.execute(f"SET allowed_directories = [{quoted}]")
        con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
