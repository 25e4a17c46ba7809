"""A file as an older winnow wrote it: some columns missing, an older schema version."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tests.factories import make_article
from warehouse import schema

#: Columns an "older winnow" did not have yet.
NEW_COLUMNS = ("requested_url", "spin_score", "image", "tags")


def write_old_schema_file(root: Path, rows: int = 4) -> None:
    """A file as an older winnow wrote it: fewer columns, schema version 0."""
    old = pa.schema([f for f in schema.ARTICLES if f.name not in NEW_COLUMNS])
    records = [
        {
            k: v
            for k, v in schema.article_row(
                make_article(f"http://old.example/{i}", lang="de"), "run-0"
            ).items()
            if k in old.names
        }
        for i in range(rows)
    ]
    table = pa.Table.from_pylist(records, schema=old.with_metadata({schema.VERSION_KEY: b"0"}))
    part = root / "articles" / "date=2026-11-01" / "lang=de"
    part.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, part / "part-run-0-oldhost-1-000001.parquet", compression="zstd")
