"""`winnow compact`, `winnow export` and `winnow query` on a warehouse; the README's column tables."""

from __future__ import annotations

import csv
import json
from datetime import timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.conftest import ROOT, winnow_cmd
from tests.factories import DAY, make_article, make_reject
from warehouse import schema
from warehouse.writer import WarehouseWriter


def _fill(root: Path) -> None:
    writer = WarehouseWriter(root, "run-c", max_rows=2)
    for i in range(12):
        writer.add(
            make_article(
                f"http://news.example/c/{i}",
                lang=("en", "fr", "es")[i % 3],
                fetched_at=DAY + timedelta(days=i % 2),
                tags=["politics", "world"],
            )
        )
    writer.add(make_reject("http://news.example/c/tag", reason="quality:too_short"))
    writer.close()


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in root.rglob("*")
        if p.is_file()
    }


def test_compact_command_merges_and_reports(warehouse: Path) -> None:
    _fill(warehouse)
    assert len(list(warehouse.rglob("*.parquet"))) > 7
    out = winnow_cmd(
        "compact", "--warehouse", str(warehouse), "--grace", "0", "--target-size", "64"
    ).stdout
    assert "compacted 6 partition(s)" in out
    assert len(list(warehouse.glob("articles/*/*/*.parquet"))) == 6
    proc = winnow_cmd(
        "compact", "--warehouse", str(warehouse), "--partition", "date=today", check=False
    )
    assert proc.returncode == 2 and "not a YYYY-MM-DD date" in proc.stderr


def test_export_formats_with_a_filter(warehouse: Path, tmp_path: Path) -> None:
    _fill(warehouse)
    where = "date = DATE '2026-11-03' and lang = 'en'"
    jsonl = tmp_path / "en.jsonl"
    proc = winnow_cmd(
        "export",
        "--warehouse",
        str(warehouse),
        "--format",
        "jsonl",
        "--output",
        str(jsonl),
        "--where",
        where,
    )
    assert "2 row(s) of articles" in proc.stderr
    rows = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert len(rows) == 2 and {r["lang"] for r in rows} == {"en"}
    assert rows[0]["tags"] == ["politics", "world"] and rows[0]["date"] == "2026-11-03"

    out_csv = tmp_path / "rejects.csv"
    winnow_cmd(
        "export",
        "--warehouse",
        str(warehouse),
        "--format",
        "csv",
        "--output",
        str(out_csv),
        "--table",
        "rejects",
    )
    with open(out_csv, newline="") as handle:
        records = list(csv.DictReader(handle))
    assert [r["reason"] for r in records] == ["quality:too_short"]

    out_pq = tmp_path / "all.parquet"
    winnow_cmd(
        "export", "--warehouse", str(warehouse), "--format", "parquet", "--output", str(out_pq)
    )
    table = pq.read_table(out_pq)
    assert table.num_rows == 12 and {"date", "lang", "text"} <= set(table.column_names)

    bad = winnow_cmd(
        "export",
        "--warehouse",
        str(warehouse),
        "--format",
        "csv",
        "--output",
        str(tmp_path / "x.csv"),
        "--where",
        "no_such_column = 1",
        check=False,
    )
    assert bad.returncode == 2 and "export failed" in bad.stderr
    assert not list(tmp_path.glob("*x.csv*"))  # no half file left behind


def test_query_and_export_never_write_into_the_warehouse(warehouse: Path, tmp_path: Path) -> None:
    _fill(warehouse)
    before = _tree(warehouse)
    winnow_cmd(
        "query", "--warehouse", str(warehouse), "select lang, count(*) from articles group by lang"
    )
    winnow_cmd(
        "query",
        "--warehouse",
        str(warehouse),
        "--format",
        "parquet",
        "--output",
        str(tmp_path / "q.parquet"),
        "select * from articles",
    )
    winnow_cmd(
        "export",
        "--warehouse",
        str(warehouse),
        "--format",
        "jsonl",
        "--output",
        str(tmp_path / "e.jsonl"),
    )
    assert _tree(warehouse) == before


@pytest.mark.parametrize(
    "command",
    [
        ("query", "select count(*) from articles"),
        ("stats",),
        ("runs",),
        ("export", "--format", "csv", "--output", "OUT"),
        ("compact",),
        ("duplicates", "http://news.example/c/1"),
    ],
)
def test_reading_a_warehouse_that_is_not_there_is_an_error(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    missing = tmp_path / "no-such-warehouse"
    args = [a.replace("OUT", str(tmp_path / "out.csv")) for a in command]
    proc = winnow_cmd(*args, "--warehouse", str(missing), check=False)
    assert proc.returncode == 2 and f"no warehouse at {missing}" in proc.stderr
    assert not missing.exists() and not (tmp_path / "out.csv").exists()


@pytest.mark.parametrize(
    "where",
    [
        "1=1) TO 'EVIL' (FORMAT csv); --",
        "1=1) TO 'EVIL' (FORMAT csv); SELECT (1",
        "length(text) > (select count(*) from read_csv('/etc/passwd'))",
        "lang = 'en'; COPY articles TO 'EVIL'",
    ],
)
def test_export_where_is_one_condition_that_only_reads(
    warehouse: Path, tmp_path: Path, where: str
) -> None:
    _fill(warehouse)
    evil = tmp_path / "evil.csv"
    out = tmp_path / "out.csv"
    proc = winnow_cmd(
        "export",
        "--warehouse",
        str(warehouse),
        "--format",
        "csv",
        "--output",
        str(out),
        "--where",
        where.replace("EVIL", str(evil)),
        check=False,
    )
    assert proc.returncode == 2 and "export failed" in proc.stderr
    assert not evil.exists() and not out.exists()


def test_query_table_marks_cut_values_and_shows_float32_as_stored(warehouse: Path) -> None:
    _fill(warehouse)
    sql = (
        "select repeat('x', 70) || 'END' as long, 'short' as s, "
        "cast(0.9999 as float) as f, 0.25::double as d"
    )
    out = winnow_cmd("query", "--warehouse", str(warehouse), sql).stdout
    _, _, row, footer = out.splitlines()
    cells = [c.strip() for c in row.split("|")]
    assert cells[0] == "x" * 59 + "…" and cells[1:] == ["short", "0.9999", "0.25"]
    assert "end in …" in footer and "--format json" in footer
    whole = winnow_cmd("query", "--warehouse", str(warehouse), "--format", "json", sql).stdout
    assert json.loads(whole)["long"].endswith("END")
    empty = winnow_cmd("query", "--warehouse", str(warehouse), "  ", check=False)
    assert empty.returncode == 2 and "no SQL given" in empty.stderr


def test_query_csv_writes_list_columns_as_export_does(warehouse: Path, tmp_path: Path) -> None:
    _fill(warehouse)
    sql = "select url, tags, map {'k': 1} as m from articles where lang = 'en' order by url limit 2"
    out = winnow_cmd("query", "--warehouse", str(warehouse), "--format", "csv", sql).stdout
    records = list(csv.DictReader(out.splitlines()))
    assert [r["tags"] for r in records] == ["[politics, world]"] * 2
    assert records[0]["m"] == "{k=1}"
    exported = tmp_path / "all.csv"
    winnow_cmd(
        "export", "--warehouse", str(warehouse), "--format", "csv", "--output", str(exported)
    )
    with open(exported, newline="") as handle:
        assert next(csv.DictReader(handle))["tags"] == "[politics, world]"
    written = tmp_path / "runs.csv"
    args = ("query", "--warehouse", str(warehouse), "--format", "csv", "--output", str(written))
    winnow_cmd(*args, "select * from runs")  # `sources` is a list column too
    assert written.read_text().startswith('"run_id","sources"')


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("stats", "--run", "nosuch"), 1, "error: no run nosuch in"),
        (("runs", "--limit", "0"), 2, "must be above 0, not 0"),
        (("compact", "--target-size", "-5"), 2, "must be above 0, not -5"),
        (("query", "install httpfs"), 2, "INSTALL statements are not run"),
    ],
)
def test_bad_arguments_are_one_clear_error(
    warehouse: Path, args: tuple, code: int, message: str
) -> None:
    _fill(warehouse)
    proc = winnow_cmd(*args, "--warehouse", str(warehouse), check=False)
    assert proc.returncode == code and message in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


def test_the_readme_documents_every_column() -> None:
    readme = (ROOT / "README.md").read_text()
    for table in schema.TABLES:
        assert set(schema.DOCS[table]) == {name for name, _ in schema.columns(table)}, table
        assert schema.markdown_table(table) in readme, (
            f"README.md's `{table}` table is out of date: paste `python -m warehouse.schema`"
        )
