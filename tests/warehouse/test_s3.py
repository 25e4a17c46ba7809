"""A warehouse on S3-compatible object storage (a real moto server on loopback)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import boto3
import pyarrow.parquet as pq

from tests.factories import DAY, make_article, make_reject
from warehouse.compact import compact
from warehouse.export import export
from warehouse.query import connect, dataset
from warehouse.writer import WarehouseWriter


def _keys(uri: str) -> list[str]:
    bucket, _, prefix = uri[len("s3://") :].partition("/")
    import os

    client = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


def test_write_query_compact_and_export_on_s3(s3_warehouse: str, tmp_path: Path) -> None:
    writer = WarehouseWriter(s3_warehouse, "run-s3", max_rows=5)
    for i in range(20):
        writer.add(
            make_article(
                f"http://news.example/s3/{i}",
                lang="en" if i % 2 else "fr",
                fetched_at=DAY + timedelta(days=i % 2),
            )
        )
    writer.add(make_reject("http://news.example/s3/tag"))
    writer.close()

    keys = _keys(s3_warehouse)
    data = [k for k in keys if k.endswith(".parquet")]
    assert len(data) == len(writer.files_written) > 2
    assert not [k for k in keys if "/.tmp-" in k]
    assert all(k.startswith("warehouse/articles/date=") or "rejects/" in k for k in data)

    con = connect(s3_warehouse)
    assert con.execute(
        "select date, lang, count(*) from articles group by all order by all"
    ).fetchall() == [
        (DAY.date(), "fr", 10),
        (DAY.date() + timedelta(days=1), "en", 10),
    ]
    assert con.execute("select count(*) from rejects").fetchone() == (1,)
    assert con.execute(
        "select count(*) from articles where date = DATE '2026-11-04' and text like '%story%'"
    ).fetchone() == (10,)
    assert dataset(s3_warehouse).count_rows() == 20
    assert dataset(s3_warehouse, "rejects").to_table().column("reason").to_pylist() == [
        "quality:not_prose"
    ]

    results = compact(s3_warehouse, grace=0)
    assert {r.files_after for r in results} == {1}
    assert (
        len([k for k in _keys(s3_warehouse) if "/articles/" in k and k.endswith(".parquet")]) == 2
    )
    assert connect(s3_warehouse).execute("select count(distinct url) from articles").fetchone() == (
        20,
    )

    out = tmp_path / "en.jsonl"
    assert export(s3_warehouse, out, "jsonl", where="lang = 'en'") == 10
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert {r["lang"] for r in rows} == {"en"} and len(rows) == 10
    out = tmp_path / "all.parquet"
    assert export(s3_warehouse, out, "parquet") == 20
    assert pq.read_table(out).num_rows == 20
