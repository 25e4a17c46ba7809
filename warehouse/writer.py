"""The partitioned writer: buffered rows become complete, uniquely named Parquet files.

Rows are buffered per partition and flushed when the buffer holds `max_rows` rows or
its oldest row is `max_age` seconds old, so memory stays bounded and a long crawl's
articles show up within a minute. A file is written under a hidden temporary name
(`.tmp-...`, which no reader globs) and renamed when complete; names carry run id,
host, pid and a sequence number, so concurrent writers never collide.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import time
from collections import defaultdict
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.record import Article, Reject
from warehouse import schema
from warehouse.layout import (
    TMP_PREFIX,
    file_name,
    host_tag,
    partition_dir,
    valid_date,
    valid_lang,
    writer_tag,
)
from warehouse.storage import Root, open_root

log = logging.getLogger(__name__)

ROW_GROUP_ROWS = 64 * 1024
#: One sequence per process, shared by every writer in it, so names never repeat.
_SEQUENCE = itertools.count(1)
#: Temporary files older than this are a dead writer's leftovers.
STALE_TMP_SECONDS = 6 * 3600


class WarehouseError(RuntimeError):
    """A write failed (disk full, permissions, ...): the message says which file and why."""


@dataclass
class _Buffer:
    rows: list[dict] = field(default_factory=list)
    since: float = 0.0


def write_table(root: Root, directory: str, name: str, table: pa.Table) -> str:
    """Write one complete file atomically; returns its final path."""
    final = root.path(directory, name)
    root.fs.create_dir(root.path(directory), recursive=True)
    target = root.path(directory, TMP_PREFIX + name) if root.is_local else final
    try:
        pq.write_table(
            table,
            target,
            filesystem=root.fs,
            compression="zstd",
            row_group_size=ROW_GROUP_ROWS,
            write_statistics=True,
        )
        if target != final:
            root.fs.move(target, final)
    except OSError as exc:
        if target != final:
            with contextlib.suppress(OSError):
                root.fs.delete_file(target)
        raise WarehouseError(f"could not write {final}: {exc}") from exc
    return final


class WarehouseWriter:
    """Buffers articles, rejects and run rows and writes them as Parquet files."""

    def __init__(
        self, root: str | Root, run_id: str, max_rows: int = 5000, max_age: float = 30.0
    ) -> None:
        self.root = root if isinstance(root, Root) else open_root(root)
        self.run_id = run_id
        self.max_rows = max_rows
        self.max_age = max_age
        self.tag = writer_tag(run_id)
        self._buffers: dict[tuple[str, tuple[str, ...]], _Buffer] = defaultdict(_Buffer)
        self.files_written: list[str] = []
        self.rows_written = 0
        remove_stale_tmp(self.root)

    def add(self, record: Article | Reject) -> None:
        if isinstance(record, Article):
            day = valid_date(record.fetched_at.date())
            self._append(
                "articles", (day, valid_lang(record.lang)), schema.article_row(record, self.run_id)
            )
        else:
            day = valid_date(record.fetched_at.date())
            self._append("rejects", (day,), schema.reject_row(record, self.run_id))

    def add_run(self, row: dict) -> None:
        self._append("runs", (), row)

    def _append(self, table: str, values: tuple[str, ...], row: dict) -> None:
        buf = self._buffers[(table, values)]
        if not buf.rows:
            buf.since = time.monotonic()
        buf.rows.append(row)
        if self.pending() >= self.max_rows:
            self.flush()

    def pending(self) -> int:
        return sum(len(b.rows) for b in self._buffers.values())

    def maybe_flush(self) -> None:
        """Flush if any buffer is older than `max_age` (call this from a timer)."""
        now = time.monotonic()
        if any(b.rows and now - b.since >= self.max_age for b in self._buffers.values()):
            self.flush()

    def flush(self) -> None:
        """Write every buffered partition to its own file."""
        for (table, values), buf in list(self._buffers.items()):
            if not buf.rows:
                continue
            arrow = pa.Table.from_pylist(buf.rows, schema=schema.with_version(schema.TABLES[table]))
            directory = partition_dir(table, schema.PARTITIONS[table], values)
            path = write_table(self.root, directory, file_name(self.tag, next(_SEQUENCE)), arrow)
            self.files_written.append(path)
            self.rows_written += len(buf.rows)
            del self._buffers[(table, values)]

    def close(self) -> None:
        self.flush()


def remove_stale_tmp(root: Root) -> int:
    """Delete temporary files left by writers that died; returns how many."""
    if not root.is_local:
        return 0
    removed = 0
    for dirpath, _dirs, files in os.walk(root.base):
        for name in files:
            if not name.startswith(TMP_PREFIX):
                continue
            path = os.path.join(dirpath, name)
            if _writer_is_dead(name) or time.time() - os.path.getmtime(path) > STALE_TMP_SECONDS:
                try:
                    os.remove(path)
                    removed += 1
                except OSError:
                    pass
    return removed


def _writer_is_dead(name: str) -> bool:
    """True for a temporary file written on this host by a process that no longer exists."""
    head, pid, _seq = ([*name[len(TMP_PREFIX) :].rsplit("-", 2), "", ""])[:3]
    if not pid.isdigit() or not head.endswith("-" + host_tag()):
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
