"""Which files make up a table right now: one listing, minus what compaction superseded.

Compaction (warehouse/compact.py) publishes a merged file next to the small files
it merged, names them in the merged file's footer (`winnow.replaces`) and deletes
them only after a grace period. A reader that takes one listing and drops every
file named by a merged file present in that same listing sees each row exactly
once, whether it lists before, during or after a compaction:

* before the merged file appears: only the small files are listed;
* while both exist: the small files are dropped, the merged file is read;
* after the deletion: only the merged file is listed.

`warehouse.query.connect()` and `dataset()` read through `live_files()`; any other
engine gets the same guarantee by reading the paths it returns. (A plain
`**/*.parquet` glob is safe during writes, but may count merged rows twice during
the grace period of a compaction.)
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

import pyarrow.parquet as pq
from pyarrow import fs as pafs

from warehouse import schema
from warehouse.layout import PartitionError, check_value, is_compacted, is_data_file
from warehouse.storage import Root

log = logging.getLogger(__name__)

#: Footer key of a merged file: the JSON list of the file names it replaces.
REPLACES_KEY = b"winnow.replaces"
#: Clock slack when deciding whether a file could be the input of a merged file.
_MTIME_SLACK = 2.0
_LISTING_ATTEMPTS = 5


@dataclass(frozen=True)
class DataFile:
    """One visible Parquet file of a table."""

    path: str  # inside root.fs
    partition: str  # e.g. "articles/date=2026-11-03/lang=en" (or "runs")
    values: tuple[str, ...]  # the partition values, in PARTITIONS order
    size: int
    mtime: float  # seconds since the epoch

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


def list_files(root: Root, table: str) -> list[DataFile]:
    """Every complete data file of `table`, in one listing; foreign files are skipped."""
    keys = schema.PARTITIONS[table]
    try:
        infos = root.fs.get_file_info(
            pafs.FileSelector(root.path(table), recursive=True, allow_not_found=True)
        )
    except FileNotFoundError:
        return []
    files = []
    for info in infos:
        if info.type != pafs.FileType.File or not is_data_file(info.base_name):
            continue
        parts = root.relative(info.path).split("/")
        values = _partition_values(keys, parts[1:-1])
        if values is None:
            log.warning("skipping %s: not in a %s partition directory", info.path, table)
            continue
        mtime = info.mtime.timestamp() if info.mtime is not None else 0.0
        files.append(DataFile(info.path, "/".join(parts[:-1]), values, info.size or 0, mtime))
    files.sort(key=lambda f: f.path)
    return files


def _partition_values(keys: tuple[str, ...], dirs: list[str]) -> tuple[str, ...] | None:
    if len(dirs) != len(keys):
        return None
    values = []
    for key, part in zip(keys, dirs, strict=True):
        name, sep, value = part.partition("=")
        if not sep or name != key:
            return None
        try:
            values.append(check_value(key, value))
        except PartitionError:
            return None
    return tuple(values)


def replaces(root: Root, merged: DataFile) -> list[str]:
    """The names of the files a merged file replaces (read from its footer)."""
    meta = pq.read_metadata(merged.path, filesystem=root.fs).metadata or {}
    raw = meta.get(REPLACES_KEY)
    return json.loads(raw) if raw else []


def split_superseded(root: Root, files: list[DataFile]) -> tuple[list[DataFile], dict[str, str]]:
    """(live files, {superseded path: path of the merged file that replaces it}).

    Only a merged file with an older sibling can have an input still present (inputs
    are always written before the file merging them), so only those footers are read.
    """
    by_partition: dict[str, list[DataFile]] = {}
    for f in files:
        by_partition.setdefault(f.partition, []).append(f)
    dropped: dict[str, str] = {}
    for group in by_partition.values():
        for merged in group:
            if not is_compacted(merged.name):
                continue
            older = {
                f.name: f.path
                for f in group
                if f is not merged and f.mtime <= merged.mtime + _MTIME_SLACK
            }
            if not older:
                continue
            for name in replaces(root, merged):
                if name in older:
                    dropped[older[name]] = merged.path
    return [f for f in files if f.path not in dropped], dropped


def live_files(root: Root, table: str) -> list[DataFile]:
    """The files a reader should read for an exact view of `table` (see the module doc)."""
    for attempt in range(_LISTING_ATTEMPTS):
        files = list_files(root, table)
        try:
            return split_superseded(root, files)[0]
        except FileNotFoundError:
            # a merged file was itself merged and deleted between listing and footer read
            if attempt == _LISTING_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")
