"""The single source of truth for the warehouse's columns.

Three tables, each a directory of Parquet files under the warehouse root:

* `articles/date=YYYY-MM-DD/lang=xx/`: kept articles (date = fetch date, UTC);
* `rejects/date=YYYY-MM-DD/`: everything else, with the reason;
* `runs/`: one row per crawl run.

Partition columns (`date`, `lang`) live in the directory names, not in the files.
`SCHEMA_VERSION` is written into every file's metadata; columns are only ever added
(as nullable), so readers take the union schema and old files stay readable.
`DOCS` says what every column means; README.md's column tables are generated from
it (`python -m warehouse.schema`) and a test keeps the two in step.
"""

from __future__ import annotations

import json

import pyarrow as pa

from pipeline.record import Article, Reject

SCHEMA_VERSION = "1"
VERSION_KEY = b"winnow.schema_version"
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
    return schema.with_metadata({VERSION_KEY: SCHEMA_VERSION.encode()})


#: The type of each partition column, as engines read it back from the path.
PARTITION_TYPES = {"date": pa.date32(), "lang": pa.string()}

_PARTITION_DOCS = {
    "date": "partition: fetch date (UTC), `YYYY-MM-DD`",
    "lang": "partition: ISO 639 language code (`und` when unknown)",
}

#: What every column means (README.md's tables are generated from this).
DOCS: dict[str, dict[str, str]] = {
    "articles": {
        "id": "16 hex chars of the SHA-256 of the canonical URL",
        "url": "the URL fetched",
        "canonical_url": "normalised URL (scheme, host case, tracking parameters removed)",
        "requested_url": "the URL first requested, when a redirect led to `url`",
        "source": "source name from sources.toml",
        "site": "host name of the URL",
        "title": "headline",
        "text": "the cleaned article body, paragraphs separated by newlines",
        "lang_score": "language detector confidence, 0-1",
        "word_count": "words in `text`",
        "author": "byline, when the page has one",
        "published": "publication time from the page metadata (UTC), when known",
        "sitename": "the site's own name from its metadata",
        "description": "meta description / summary",
        "tags": "tags and categories from the page metadata",
        "image": "main image URL",
        "content_hash": "hash of the normalised words of `text` (exact-duplicate key)",
        "spin_score": "how much the text looks machine-reworded (0-1), when measured",
        "http_status": "HTTP status of the fetch",
        "fetched_at": "fetch time (UTC)",
        "run_id": "the crawl run that wrote the row (see `runs`)",
        **_PARTITION_DOCS,
    },
    "rejects": {
        "id": "16 hex chars of the SHA-256 of the URL",
        "url": "the URL fetched",
        "source": "source name from sources.toml",
        "reason": "machine-readable reason: `http_status`, `language`, `quality:<rule>`, `duplicate_url`, ...",
        "detail": "the reason in words",
        "value": "the measured value that failed the rule, when there is one",
        "title": "headline, when extraction got that far",
        "text": "the first 2,000 characters of the extracted text, for auditing",
        "lang": "detected language, when detection ran",
        "lang_score": "language detector confidence, 0-1",
        "http_status": "HTTP status of the fetch",
        "duplicate_of": "`id` of the article this page duplicates",
        "similarity": "similarity to that article (1.0 = exact copy)",
        "fetched_at": "fetch time (UTC)",
        "run_id": "the crawl run that wrote the row",
        "date": _PARTITION_DOCS["date"],
    },
    "runs": {
        "run_id": "unique id of the crawl run",
        "sources": "the sources crawled",
        "started_at": "start time (UTC)",
        "ended_at": "end time (UTC)",
        "status": "`ok`, `interrupted` or `failed`",
        "pages_fetched": "pages that ended as a row (articles + rejects)",
        "articles": "articles kept",
        "rejects": "pages rejected",
        "rejects_by_reason": "JSON object: reason -> count",
        "errors": "entry points that failed and errors logged",
        "error_detail": "why the run failed, when it did",
        "bytes": "response bytes downloaded",
        "host": "host the crawler ran on",
        "pid": "crawler process id",
        "runner": "`local` or `scrapyd`",
    },
}


def columns(table: str) -> list[tuple[str, pa.DataType]]:
    """Every column a reader sees: the file columns, then the partition columns."""
    fields = [(f.name, f.type) for f in TABLES[table]]
    return fields + [(k, PARTITION_TYPES[k]) for k in PARTITIONS[table]]


def full_schema(table: str) -> pa.Schema:
    """The schema a reader sees (file columns + partition columns): pass it to
    `pyarrow.dataset.dataset(..., schema=)` so files of an older schema read too."""
    return pa.schema([pa.field(n, t) for n, t in columns(table)])


def markdown_table(table: str) -> str:
    """The README table of one table's columns: name, type, meaning."""
    lines = ["| column | type | meaning |", "|---|---|---|"]
    for name, dtype in columns(table):
        lines.append(f"| `{name}` | {_type_name(dtype)} | {DOCS[table][name]} |")
    return "\n".join(lines)


def _type_name(dtype: pa.DataType) -> str:
    if pa.types.is_list(dtype):
        return f"list<{_type_name(dtype.value_type)}>"
    if pa.types.is_timestamp(dtype):
        return "timestamp (UTC)"
    return {"float": "float32", "double": "float64", "date32[day]": "date"}.get(
        str(dtype), str(dtype)
    )


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


if __name__ == "__main__":
    for name in TABLES:
        print(f"`{name}`:\n\n{markdown_table(name)}\n")
