"""The partitioned writer: buffered rows become complete, uniquely named Parquet files.

Rows are buffered per partition and flushed when the writer holds `max_rows` rows
(so memory stays bounded) or its oldest buffered row is `max_age` seconds old (so a
long crawl's articles show up within a minute; `maybe_flush()` is called from a
timer). Each file is written under a hidden temporary name and renamed when
complete (`storage.publish`); names carry run id, host, pid and a sequence number,
so several writers, in one process or many, never collide. A writer killed mid-flush
leaves only a `.tmp-...partial` file, which the next writer (or `winnow compact`)
removes once it sees that the process that wrote it is gone.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field

import psutil
import pyarrow as pa
import pyarrow.parquet as pq
from pyarrow import fs as pafs

from pipeline.record import Article, Reject
from warehouse import schema
from warehouse.layout import (
    TMP_PREFIX,
    file_name,
    partition_dir,
    tmp_local_pid,
    valid_date,
    valid_lang,
    writer_tag,
)
from warehouse.storage import Root, open_root, publish

log = logging.getLogger(__name__)

#: Rows per row group: DuckDB and Spark parallelise a scan by row group.
ROW_GROUP_ROWS = 64 * 1024
#: Free-text columns get no min/max statistics: they would be large and never prune.
_NO_STATISTICS = {"text", "description", "detail", "title", "error_detail"}
#: One sequence per process, shared by every writer in it, so names never repeat.
_SEQUENCE = itertools.count(1)
#: Temporary files older than this are a dead writer's leftovers, whoever wrote them.
STALE_TMP_SECONDS = 6 * 3600


class WarehouseError(RuntimeError):
    """A write failed (disk full, permissions, ...): the message says which file and why."""


def next_sequence() -> int:
    return next(_SEQUENCE)


def parquet_options(arrow_schema: pa.Schema) -> dict:
    """The options every data file is written with: zstd, statistics on the columns that prune."""
    return {
        "compression": "zstd",
        "write_statistics": [n for n in arrow_schema.names if n not in _NO_STATISTICS],
    }


@dataclass
class _Buffer:
    rows: list[dict] = field(default_factory=list)
    since: float = 0.0


def write_table(root: Root, directory: str, name: str, table: pa.Table) -> str:
    """Write one complete file atomically; returns its final path."""
    final = root.path(directory, name)
    try:
        with publish(root, directory, name) as out:
            pq.write_table(
                table, out, row_group_size=ROW_GROUP_ROWS, **parquet_options(table.schema)
            )
    except OSError as exc:
        raise WarehouseError(f"could not write {final}: {exc}") from exc
    return final


class WarehouseWriter:
    """Buffers articles, rejects and run rows and writes them as Parquet files."""

    def __init__(
        self, root: str | Root, run_id: str, max_rows: int = 5000, max_age: float = 30.0
    ) -> None:
        self.root = root if isinstance(root, Root) else open_root(root)
        self.run_id = run_id
        self.max_rows = max(1, max_rows)
        self.max_age = max_age
        self.tag = writer_tag(run_id)
        self._buffers: dict[tuple[str, tuple[str, ...]], _Buffer] = defaultdict(_Buffer)
        self._pending = 0
        self.files_written: list[str] = []
        self.rows_written = 0
        remove_stale_tmp(self.root)

    def add(self, record: Article | Reject) -> None:
        day = valid_date(record.fetched_at.date())
        if isinstance(record, Article):
            row = schema.article_row(record, self.run_id)
            self._append("articles", (day, valid_lang(record.lang)), row)
        else:
            self._append("rejects", (day,), schema.reject_row(record, self.run_id))

    def add_run(self, row: dict) -> None:
        self._append("runs", (), row)

    def _append(self, table: str, values: tuple[str, ...], row: dict) -> None:
        buf = self._buffers[(table, values)]
        if not buf.rows:
            buf.since = time.monotonic()
        buf.rows.append(row)
        self._pending += 1
        if self._pending >= self.max_rows:
            self.flush()

    def pending(self) -> int:
        """Rows buffered and not yet written."""
        return self._pending

    def maybe_flush(self) -> None:
        """Flush if any buffer is older than `max_age` (call this from a timer)."""
        now = time.monotonic()
        if any(b.rows and now - b.since >= self.max_age for b in self._buffers.values()):
            self.flush()

    def flush(self) -> None:
        """Write every buffered partition to its own file.

        A partition whose write fails keeps its rows, so the next flush retries them.
        """
        for (table, values), buf in list(self._buffers.items()):
            if not buf.rows:
                continue
            arrow = pa.Table.from_pylist(buf.rows, schema=schema.with_version(schema.TABLES[table]))
            directory = partition_dir(table, schema.PARTITIONS[table], values)
            path = write_table(self.root, directory, file_name(self.tag, next_sequence()), arrow)
            self.files_written.append(path)
            self.rows_written += len(buf.rows)
            self._pending -= len(buf.rows)
            del self._buffers[(table, values)]
        # Arrow's allocator keeps freed buffers for reuse; a crawl flushes now and then,
        # so give them back rather than hold the largest flush's worth for the whole run.
        pa.default_memory_pool().release_unused()

    def close(self) -> None:
        self.flush()


def remove_stale_tmp(root: Root) -> int:
    """Delete temporary files left by writers that died; returns how many.

    A temporary file is a dead writer's when its name says it was written on this
    host by a process that no longer exists, or when it is older than
    `STALE_TMP_SECONDS` (written elsewhere, or a recycled pid).
    """
    try:
        infos = root.fs.get_file_info(
            pafs.FileSelector(root.base, recursive=True, allow_not_found=True)
        )
    except OSError:
        return 0
    now = time.time()
    removed = 0
    for info in infos:
        if info.type != pafs.FileType.File or not info.base_name.startswith(TMP_PREFIX):
            continue
        pid = tmp_local_pid(info.base_name)
        old = info.mtime is not None and now - info.mtime.timestamp() > STALE_TMP_SECONDS
        if (pid is not None and not psutil.pid_exists(pid)) or old:
            try:
                root.fs.delete_file(info.path)
                removed += 1
            except OSError:
                pass
    if removed:
        log.info("removed %d temporary file(s) left by dead writers under %s", removed, root.uri)
    return removed
