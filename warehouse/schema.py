"""The single source of truth for the warehouse's columns.

Three tables, each a directory of Parquet files under the warehouse root:

* `articles/date=YYYY-MM-DD/lang=xx/`: kept articles (date = fetch date, UTC);
* `rejects/date=YYYY-MM-DD/`: everything else, with the reason;
* `runs/`: one row per crawl run.

Partition columns (`date`, `lang`) live in the directory names, not in the files.
`SCHEMA_VERSION` is written into every file's metadata; columns are only ever added
(as nullable), so readers take the union schema and old files stay readable.
"""

from __future__ import annotations

import json

import pyarrow as pa

from pipeline.record import Article, Reject

SCHEMA_VERSION = "1"
TS = pa.timestamp("us", tz="UTC")

ARTICLES = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("url", pa.string(), nullable=False),
        pa.field("canonical_url", pa.string(), nullable=False),
        pa.field("requested_url", pa.string()),
        pa.field("source", pa.string()),
        pa.field("site", pa.string()),
        pa.field("title", pa.string()),
        pa.field("text", pa.string()),
        pa.field("lang_score", pa.float32()),
        pa.field("word_count", pa.int32()),
        pa.field("author", pa.string()),
        pa.field("published", TS),
        pa.field("sitename", pa.string()),
        pa.field("description", pa.string()),
        pa.field("tags", pa.list_(pa.string())),
        pa.field("image", pa.string()),
        pa.field("content_hash", pa.string()),
        pa.field("spin_score", pa.float32()),
        pa.field("http_status", pa.int16()),
        pa.field("fetched_at", TS),
        pa.field("run_id", pa.string()),
    ]
)

REJECTS = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("url", pa.string(), nullable=False),
        pa.field("source", pa.string()),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("detail", pa.string()),
        pa.field("value", pa.float64()),
        pa.field("title", pa.string()),
        pa.field("text", pa.string()),
        pa.field("lang", pa.string()),
        pa.field("lang_score", pa.float32()),
        pa.field("http_status", pa.int16()),
        pa.field("duplicate_of", pa.string()),
        pa.field("similarity", pa.float32()),
        pa.field("fetched_at", TS),
        pa.field("run_id", pa.string()),
    ]
)

RUNS = pa.schema(
    [
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("sources", pa.list_(pa.string())),
        pa.field("started_at", TS),
        pa.field("ended_at", TS),
        pa.field("status", pa.string()),
        pa.field("pages_fetched", pa.int64()),
        pa.field("articles", pa.int64()),
        pa.field("rejects", pa.int64()),
        pa.field("rejects_by_reason", pa.string()),
        pa.field("errors", pa.int64()),
        pa.field("error_detail", pa.string()),
        pa.field("bytes", pa.int64()),
        pa.field("host", pa.string()),
        pa.field("pid", pa.int32()),
        pa.field("runner", pa.string()),
    ]
)

TABLES = {"articles": ARTICLES, "rejects": REJECTS, "runs": RUNS}
#: The Hive partition keys of each table, outermost first.
PARTITIONS = {"articles": ("date", "lang"), "rejects": ("date",), "runs": ()}


def with_version(schema: pa.Schema) -> pa.Schema:
    """The schema with winnow's version in its metadata (written into every file)."""
    return schema.with_metadata({b"winnow.schema_version": SCHEMA_VERSION.encode()})


def article_row(article: Article, run_id: str) -> dict:
    row = {name: getattr(article, name, None) for name in ARTICLES.names if name != "run_id"}
    row["run_id"] = run_id
    return row


def reject_row(reject: Reject, run_id: str) -> dict:
    row = {name: getattr(reject, name, None) for name in REJECTS.names if name != "run_id"}
    row["run_id"] = run_id
    return row


def run_row(
    run_id: str,
    sources: list[str],
    started_at,
    ended_at,
    status: str,
    counters: dict,
    host: str,
    pid: int,
    runner: str = "local",
    error_detail: str | None = None,
) -> dict:
    """A `runs` row from a crawl's counters (see pipeline/item_pipelines.py for their names)."""
    return {
        "run_id": run_id,
        "sources": sources,
        "started_at": started_at,
        "ended_at": ended_at,
        "status": status,
        "pages_fetched": int(counters.get("pages", 0)),
        "articles": int(counters.get("articles", 0)),
        "rejects": int(counters.get("rejects", 0)),
        "rejects_by_reason": json.dumps(counters.get("reasons", {}), sort_keys=True),
        "errors": int(counters.get("errors", 0)),
        "error_detail": error_detail,
        "bytes": int(counters.get("bytes", 0)),
        "host": host,
        "pid": pid,
        "runner": runner,
    }
