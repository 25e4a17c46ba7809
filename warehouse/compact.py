"""`winnow compact`: merge each partition's small files into few large ones, atomically.

A crawl flushes a file per partition every few thousand rows or every half minute,
so a busy warehouse collects thousands of small files; every query pays to open
each one. Compaction rewrites them, per partition, into files of about
`target_bytes`, oldest rows first, with row groups sized for scans.

The swap, for each partition:

1. list the live files (`catalog.live_files`) and bin the ones smaller than the
   target, oldest first, into groups of at most the target size;
2. stream each group of two or more into one new file `compact-....parquet`,
   published atomically (hidden temporary name, then rename), whose footer names
   the files it replaces (`winnow.replaces`); the row count is checked against
   the inputs' before it is published;
3. after `grace` seconds, delete the replaced files.

Guarantee: a reader that goes through winnow (`warehouse.query.connect()`,
`dataset()`, `catalog.live_files()`) sees every row exactly once at every moment:
before step 2 its listing has only the small files; between 2 and 3 it has both
and drops the replaced ones; after 3 it has only the merged file. A reader that
listed before step 2 and is still opening files when the grace period ends gets a
missing-file error, never a wrong answer. An engine globbing `**/*.parquet` by
itself may count merged rows twice during the grace period.

Crash safety: killed before step 2 completes, only a temporary file remains (the
next writer or compaction removes it); killed between 2 and 3, readers already drop
the replaced files and the next compaction deletes them. One compaction at a time:
on a local root a lock file refuses a second; on S3, run it from one place.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq

from warehouse import schema
from warehouse.catalog import REPLACES_KEY, DataFile, list_files, split_superseded
from warehouse.layout import COMPACT, file_name, parse_partition, process_tag
from warehouse.storage import Root, exclusive, open_root, publish
from warehouse.writer import ROW_GROUP_ROWS, next_sequence, parquet_options, remove_stale_tmp

log = logging.getLogger(__name__)

DEFAULT_TARGET_BYTES = 256 * 1024 * 1024
DEFAULT_GRACE_SECONDS = 60.0
#: Uncompressed bytes per row group of a merged file (rows are capped at ROW_GROUP_ROWS).
ROW_GROUP_BYTES = 128 * 1024 * 1024
LOCK_NAME = ".compact.lock"


class CompactionError(RuntimeError):
    """Compaction could not run or a merge did not add up; nothing was replaced."""


@dataclass
class PartitionResult:
    """What compaction did to one partition."""

    partition: str
    files_before: int
    bytes_before: int
    files_after: int
    bytes_after: int
    rows: int


def compact(
    warehouse: str | Root,
    partitions: list[str] | None = None,
    target_bytes: int = DEFAULT_TARGET_BYTES,
    grace: float = DEFAULT_GRACE_SECONDS,
) -> list[PartitionResult]:
    """Merge the small files of every partition (or of those `partitions` select)."""
    root = warehouse if isinstance(warehouse, Root) else open_root(warehouse)
    selectors = [parse_partition(p) for p in partitions or []]
    with _lock(root):
        remove_stale_tmp(root)
        results: list[PartitionResult] = []
        #: files to delete, each with the time (epoch) its replacement was published
        doomed: list[tuple[str, float]] = []
        for table in schema.TABLES:
            listed = list_files(root, table)
            live, superseded = split_superseded(root, listed)
            by_path = {f.path: f for f in listed}
            # left by a compaction killed during its grace period: finish its job
            for path, merged in superseded.items():
                if _selected(table, by_path[path].values, selectors):
                    doomed.append((path, by_path[merged].mtime))
            by_partition: dict[str, list[DataFile]] = {}
            for f in live:
                if _selected(table, f.values, selectors):
                    by_partition.setdefault(f.partition, []).append(f)
            for partition, group in sorted(by_partition.items()):
                result, replaced = _compact_partition(root, table, partition, group, target_bytes)
                if result is not None:
                    results.append(result)
                    doomed.extend((f.path, time.time()) for f in replaced)
        if doomed:
            wait = max(t for _, t in doomed) + grace - time.time()
            if wait > 0:
                log.info("waiting %.1f s before deleting %d merged file(s)", wait, len(doomed))
                time.sleep(wait)
            for path, _ in doomed:
                with contextlib.suppress(FileNotFoundError):
                    root.fs.delete_file(path)
    return results


def _selected(
    table: str, values: tuple[str, ...], selectors: list[tuple[str | None, tuple]]
) -> bool:
    if not selectors:
        return True
    keys = schema.PARTITIONS[table]
    for sel_table, pairs in selectors:
        if sel_table not in (None, table):
            continue
        n = len(pairs)
        if keys[:n] == tuple(k for k, _ in pairs) and values[:n] == tuple(v for _, v in pairs):
            return True
    return False


def plan(files: list[DataFile], target_bytes: int) -> list[list[DataFile]]:
    """Groups of two or more small files, oldest first, each at most `target_bytes` on disk."""
    small = sorted((f for f in files if f.size < target_bytes), key=lambda f: (f.mtime, f.path))
    groups: list[list[DataFile]] = []
    current: list[DataFile] = []
    size = 0
    for f in small:
        if current and size + f.size > target_bytes:
            groups.append(current)
            current, size = [], 0
        current.append(f)
        size += f.size
    groups.append(current)
    return [g for g in groups if len(g) >= 2]


def _compact_partition(
    root: Root, table: str, partition: str, files: list[DataFile], target_bytes: int
) -> tuple[PartitionResult | None, list[DataFile]]:
    groups = plan(files, target_bytes)
    if not groups:
        return None, []
    replaced: list[DataFile] = []
    new_sizes: list[int] = []
    rows = 0
    for group in groups:
        size, n = merge(root, table, partition, group)
        new_sizes.append(size)
        replaced += group
        rows += n
    gone = {f.path for f in replaced}
    kept = [f for f in files if f.path not in gone]
    result = PartitionResult(
        partition=partition,
        files_before=len(files),
        bytes_before=sum(f.size for f in files),
        files_after=len(kept) + len(new_sizes),
        bytes_after=sum(f.size for f in kept) + sum(new_sizes),
        rows=rows,
    )
    log.info(
        "%s: %d files -> %d (%d rows)", partition, result.files_before, result.files_after, rows
    )
    return result, replaced


def merge(root: Root, table: str, partition: str, group: list[DataFile]) -> tuple[int, int]:
    """Write the rows of `group` as one published file; returns (its size, rows).

    Inputs are opened one at a time (a group can hold thousands of tiny files).
    """
    schemas = [schema.TABLES[table]]
    rows_in = raw_bytes = 0
    for f in group:
        meta = pq.read_metadata(f.path, filesystem=root.fs)
        schemas.append(meta.schema.to_arrow_schema().remove_metadata())
        rows_in += meta.num_rows
        raw_bytes += sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    target = pa.unify_schemas(schemas, promote_options="permissive")
    per_group = max(
        1024, min(ROW_GROUP_ROWS, ROW_GROUP_BYTES * max(rows_in, 1) // max(raw_bytes, 1))
    )
    footer = {
        schema.VERSION_KEY: schema.SCHEMA_VERSION.encode(),
        REPLACES_KEY: json.dumps([f.name for f in group]).encode(),
    }
    name = file_name(process_tag(), next_sequence(), kind=COMPACT)
    written = 0
    with publish(root, partition, name) as out:
        with pq.ParquetWriter(out, target.with_metadata(footer), **parquet_options(target)) as w:
            for chunk in _chunks(root, group, target, per_group):
                w.write_table(chunk, row_group_size=per_group)
                written += chunk.num_rows
        if written != rows_in:
            raise CompactionError(f"{partition}: read {written} rows, expected {rows_in}")
    size = root.fs.get_file_info(root.path(partition, name)).size or 0
    return size, written


def _chunks(root: Root, group: list[DataFile], target: pa.Schema, rows: int) -> Iterator[pa.Table]:
    """The inputs' rows in the target schema, in tables of `rows` rows (the last may be short)."""
    pending: list[pa.RecordBatch] = []
    count = 0
    for f in group:
        with pq.ParquetFile(f.path, filesystem=root.fs) as handle:
            for batch in handle.iter_batches(batch_size=8192):
                pending.append(conform(batch, target))
                count += batch.num_rows
                if count >= rows:
                    table = pa.Table.from_batches(pending, schema=target)
                    while table.num_rows >= rows:
                        yield table.slice(0, rows)
                        table = table.slice(rows)
                    pending, count = table.to_batches(), table.num_rows
    if count:
        yield pa.Table.from_batches(pending, schema=target)


def conform(batch: pa.RecordBatch, target: pa.Schema) -> pa.RecordBatch:
    """A batch in `target`'s columns: missing (older-schema) columns become nulls."""
    arrays = []
    for field in target:
        if field.name in batch.schema.names:
            arrays.append(batch.column(field.name).cast(field.type))
        else:
            arrays.append(pa.nulls(batch.num_rows, field.type))
    return pa.RecordBatch.from_arrays(arrays, schema=target)


@contextlib.contextmanager
def _lock(root: Root) -> Iterator[None]:
    with exclusive(root, LOCK_NAME, wait=False) as held:
        if not held:
            raise CompactionError(f"another compaction is running on {root.uri}")
        yield
