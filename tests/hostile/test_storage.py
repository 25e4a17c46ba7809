"""Storage safety: pages never choose paths, queries never write, a full disk stops cleanly.

The full disk is real: a 96-256 kB tmpfs mounted for the test (the tests run as root in
CI). Where mounting is not allowed, the same checks run on a store that refuses
writes past its capacity (the writer, through a pyarrow filesystem) and on a crawl
whose files may not grow past a size limit (RLIMIT_FSIZE): other errnos, same path.
"""

from __future__ import annotations

import errno
import io
import json
import os
import random
import re
import resource
import signal
import string
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyarrow import fs as pafs

from tests.conftest import winnow_cmd
from tests.factories import DAY, make_article, make_reject
from tests.hostile.conftest import crawl, hostile_site, respond, sitemap_of, table
from tests.hostile.pages import page_html
from warehouse.layout import TMP_PREFIX, valid_date, valid_lang
from warehouse.storage import Root, open_root
from warehouse.writer import WarehouseError, WarehouseWriter

#: Every file a warehouse may hold: partition values are a date and a language code.
VISIBLE = re.compile(
    r"(articles/date=\d{4}-\d\d-\d\d/lang=[a-z]{2,3}|rejects/date=\d{4}-\d\d-\d\d|runs)"
    r"/part-[A-Za-z0-9_.-]+\.parquet"
    r"|_state/[a-z_]+\.json|_index/.+"
)


def files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def parquet_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.parquet") if not p.name.startswith("."))


# --- nothing from a page becomes a path -----------------------------------------------


@pytest.mark.parametrize(
    "lang", ["../../../../tmp/pwned", "en/../../x", "..", "", "EN\x00", "e n", "en-US", "fr;rm -rf"]
)
def test_a_hostile_language_never_becomes_a_directory(warehouse: Path, lang: str) -> None:
    writer = WarehouseWriter(warehouse, "../../run\x00id")
    writer.add(make_article(lang=lang))
    writer.close()
    expected = valid_lang(lang)
    assert re.fullmatch(r"[a-z]{2,3}", expected)
    [path] = parquet_files(warehouse)
    assert path.parent == warehouse / "articles" / "date=2026-11-03" / f"lang={expected}"
    assert "/" not in path.name and path.name.startswith("part-")
    assert all(VISIBLE.fullmatch(f) for f in files(warehouse)), files(warehouse)


def test_a_partition_date_is_only_ever_a_date() -> None:
    assert valid_date(DAY.date()) == "2026-11-03"
    for hostile in ("../../etc", "2026-11-03/../../x", 20261103):
        with pytest.raises(TypeError):
            valid_date(hostile)


def test_a_crawl_of_hostile_pages_writes_only_partition_paths(
    site_factory, warehouse: Path, tmp_path: Path
) -> None:
    evil = page_html("en").replace('<html lang="en">', '<html lang="../../../../pwned">')
    evil = evil.replace("<title>", "<title>../../../../pwned/").replace(
        'href="http://news.example/', 'href="file:///../../pwned/'
    )
    routes = {
        # listed as /2026/11/03/..%2f..%2fpwned/, which the server unquotes
        "/2026/11/03/../../pwned/": respond(200, evil.encode(), "text/html; charset=utf-8"),
        "/2026/11/03/x/": respond(
            200,
            page_html("fr").replace('<html lang="fr">', '<html lang="/etc/passwd">').encode(),
            "text/html; charset=utf-8; name=../../pwned",
        ),
        "/empty/": respond(200, b"", "text/html; charset=../../../pwned"),
    }
    listed = ["/2026/11/03/..%2f..%2fpwned/", "/2026/11/03/x/", "/empty/"]
    site = hostile_site("paths", {**routes, "/sitemap.xml": sitemap_of(listed)})
    with site_factory(site):
        crawl(warehouse, "--url", site.url("/sitemap.xml"), "--allow-private")
    assert table(warehouse, "select count(*) from articles") == [(2,)]
    assert all(VISIBLE.fullmatch(f) for f in files(warehouse)), files(warehouse)
    assert not list(tmp_path.parent.rglob("pwned*"))


# --- winnow query only reads ----------------------------------------------------------


@pytest.fixture
def small_warehouse(warehouse: Path) -> Path:
    writer = WarehouseWriter(warehouse, "run-1")
    writer.add(make_article())
    writer.add(make_reject())
    writer.close()
    return warehouse


def query(warehouse: Path, sql: str):
    return winnow_cmd("query", "--warehouse", str(warehouse), "--format", "json", sql, check=False)


@pytest.mark.parametrize(
    ("sql", "refused"),
    [
        ("COPY articles TO '{w}/articles/date=2026-11-03/lang=en/part-evil.parquet'", "COPY"),
        ("COPY (select 1 as x) TO '{w}/../outside.csv'", "COPY"),
        ("EXPORT DATABASE '{w}/export'", "EXPORT"),
        ("ATTACH '{w}/evil.duckdb' AS evil", "ATTACH"),
        ("CREATE TABLE t AS SELECT * FROM articles", "CREATE"),
        ("DROP VIEW articles", "DROP"),
        ("select 1; COPY (select 1) TO '{w}/x.csv'", "COPY"),
        ("PRAGMA enable_profiling='json'; PRAGMA profiling_output='{w}/profile.json'", "PRAGMA"),
        ("INSTALL httpfs", "INSTALL"),
        ("SET enable_external_access = true", "SET"),
    ],
)
def test_query_refuses_every_statement_that_could_write(
    small_warehouse: Path, sql: str, refused: str
) -> None:
    before = {f: (small_warehouse / f).read_bytes() for f in files(small_warehouse)}
    proc = query(small_warehouse, sql.format(w=small_warehouse))
    assert proc.returncode == 2
    assert f"query failed: winnow query only reads: {refused} statements are not run" in proc.stderr
    after = {f: (small_warehouse / f).read_bytes() for f in files(small_warehouse)}
    assert after == before
    assert not (small_warehouse.parent / "outside.csv").exists()


def test_query_cannot_read_files_outside_the_warehouse(
    small_warehouse: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "secret.csv"
    outside.write_text("token\nWINNOW-SECRET\n")
    proc = query(small_warehouse, f"select * from read_csv('{outside}')")
    assert proc.returncode == 2
    assert "file system operations are disabled by configuration" in proc.stderr
    assert "WINNOW-SECRET" not in proc.stdout


@pytest.mark.parametrize(
    "sql",
    [
        "select count(*) as n from articles",
        "with a as (select * from articles) select count(*) as n from a",
        "from rejects select count(*) as n",
        "select count(*) as n from read_parquet('{w}/articles/**/*.parquet')",
    ],
)
def test_query_still_reads_the_views_and_the_files(small_warehouse: Path, sql: str) -> None:
    proc = query(small_warehouse, sql.format(w=small_warehouse))
    assert proc.returncode == 0, proc.stderr
    assert [json.loads(line) for line in proc.stdout.splitlines()] == [{"n": 1}]


def test_query_describe_and_explain_work(small_warehouse: Path) -> None:
    for sql in ("describe articles", "explain select * from rejects", "show tables"):
        assert query(small_warehouse, sql).returncode == 0


# --- a full disk ----------------------------------------------------------------------


def _try_mount(path: Path, size: str) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    try:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True
        )
    except OSError:  # no mount command
        return False
    return done.returncode == 0


@pytest.fixture
def tmpfs(tmp_path: Path):
    """A mounted 256 kB tmpfs, or None where mounting is not allowed."""
    path = tmp_path / "tmpfs"
    if not _try_mount(path, "256k"):
        yield None
        return
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


class CapacityHandler(pafs.FileSystemHandler):
    """A store of `capacity` bytes over a local directory that publishes files whole, on
    close (like an object store); past its capacity a write fails with ENOSPC."""

    def __init__(self, base: Path, capacity: int) -> None:
        self.local = pafs.LocalFileSystem()
        self.base = base
        self.capacity = capacity

    def used(self) -> int:
        return sum(p.stat().st_size for p in self.base.rglob("*") if p.is_file())

    def open_output_stream(self, path: str, metadata):
        handler = self

        class Upload(io.BytesIO):
            def close(self) -> None:
                if not self.closed:
                    data = self.getvalue()
                    if handler.used() + len(data) > handler.capacity:
                        super().close()
                        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)
                    with open(path, "wb") as out:
                        out.write(data)
                super().close()

        return pa.PythonFile(Upload(), mode="w")

    # The rest is the local filesystem's.
    def get_type_name(self):
        return "capacity"

    def equals(self, other):
        return self is other

    def get_file_info(self, paths):
        return self.local.get_file_info(paths)

    def get_file_info_selector(self, selector):
        return self.local.get_file_info(selector)

    def create_dir(self, path, recursive):
        self.local.create_dir(path, recursive=recursive)

    def delete_dir(self, path):
        self.local.delete_dir(path)

    def delete_dir_contents(self, path, missing_dir_ok=False):
        self.local.delete_dir_contents(path, missing_dir_ok=missing_dir_ok)

    def delete_root_dir_contents(self):
        raise OSError("not supported")

    def delete_file(self, path):
        self.local.delete_file(path)

    def move(self, src, dest):
        self.local.move(src, dest)

    def copy_file(self, src, dest):
        self.local.copy_file(src, dest)

    def open_input_stream(self, path):
        return self.local.open_input_stream(path)

    def open_input_file(self, path):
        return self.local.open_input_file(path)

    def open_append_stream(self, path, metadata):
        raise OSError("not supported")

    def normalize_path(self, path):
        return path


def noise(n: int, seed: int) -> str:
    """Text zstd cannot shrink, so each file takes its size on disk."""
    rng = random.Random(seed)
    return " ".join(
        "".join(rng.choices(string.ascii_letters, k=rng.randint(3, 9))) for _ in range(n // 6)
    )


def test_a_full_disk_fails_the_flush_and_keeps_earlier_files_whole(tmpfs, tmp_path: Path) -> None:
    if tmpfs is not None:
        root, where = open_root(tmpfs / "warehouse"), tmpfs / "warehouse"
        full = "No space left on device"
    else:
        where = tmp_path / "store"
        where.mkdir()
        root = Root(pafs.PyFileSystem(CapacityHandler(where, 256 * 1024)), where.as_posix(), "x")
        full = os.strerror(errno.ENOSPC)
    writer = WarehouseWriter(root, "run-full", max_rows=1)
    added = 0
    with pytest.raises(WarehouseError) as failed:
        for i in range(200):
            writer.add(make_article(f"http://news.example/a/{i}", text=noise(20_000, i)))
            added += 1
    message = str(failed.value)
    assert message.startswith(f"could not write {root.base}/articles/date=2026-11-03/lang=en/part-")
    assert full in message
    written = parquet_files(where)
    assert 3 <= len(written) == added  # every file before the failure, none after it
    for path in written:
        assert pq.read_table(path).num_rows == 1
    assert not [f for f in files(where) if Path(f).name.startswith(TMP_PREFIX)]
    assert writer.pending() == 1  # the failed row is still buffered, not lost


def _fsize_limit(limit: int):
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_a_crawl_that_fills_the_disk_stops_with_a_clear_message(
    site_factory, tmp_path: Path
) -> None:
    mount = tmp_path / "small"
    real = _try_mount(mount, "96k")
    try:
        routes = {f"/p{i}/": respond(200, b"") for i in range(60)}
        site = hostile_site("full", {**routes, "/sitemap.xml": sitemap_of(list(routes))})
        warehouse = (mount if real else tmp_path) / "warehouse"
        with site_factory(site):
            args = ["crawl", "--url", site.url("/sitemap.xml"), "--allow-private"]
            args += ["--warehouse", str(warehouse)]
            if real:
                proc = winnow_cmd(*args, env={"WINNOW_FLUSH_ROWS": "1"}, check=False)
            else:  # no mount: rejects files may not grow past 3 kB (each takes ~4 kB)
                proc = subprocess.run(
                    [sys.executable, "-m", "winnow.cli", *args],
                    env={**os.environ, "WINNOW_FLUSH_ROWS": "1", "WINNOW_LOG_LEVEL": "WARNING"},
                    preexec_fn=_fsize_limit(3000),
                    capture_output=True,
                    text=True,
                    timeout=240,
                )
        assert proc.returncode == 1
        [line] = [x for x in proc.stderr.splitlines() if x.startswith("error: ")]
        assert re.fullmatch(
            r"error: the crawl stopped: could not write \S+/rejects/date=\S+/part-\S+\.parquet: "
            + (
                r"\[Errno 28\] No space left on device"
                if real
                else r".*(File too large|Errno 27).*"
            ),
            line,
        ), line
        assert len([x for x in proc.stderr.splitlines() if " ERROR: " in x]) == 1
        visible = parquet_files(warehouse)
        for path in visible:
            assert pq.read_table(path).num_rows == 1
        assert not [f for f in files(warehouse) if Path(f).name.startswith(TMP_PREFIX)]
        if real:
            assert len(visible) >= 5
            assert table(warehouse, "select count(*) from rejects") == [(len(visible),)]
    finally:
        if real:
            subprocess.run(["umount", "-l", str(mount)], check=False)
