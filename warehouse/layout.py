"""Where files go: partition directories and unique, hidden-until-complete file names.

A data file is `<table>/<key>=<value>/.../part-<run>-<host>-<pid>-<seq>.parquet`
(`compact-<host>-<pid>-<seq>.parquet` when compaction merged it);
while it is being written it is `.tmp-<that name>.partial`, a name no engine's
`*.parquet` glob matches (DuckDB's glob does not skip dot files, so the suffix
matters). Partition values are rendered from a `date` or validated as a language
code: nothing taken from a page ever becomes a path.
"""

from __future__ import annotations

import os
import re
import socket
from datetime import date

from warehouse import schema

_LANG = re.compile(r"^[a-z]{2,3}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")
UNKNOWN_LANG = "und"
TMP_PREFIX = ".tmp-"
TMP_SUFFIX = ".partial"
#: File kinds: what a writer flushes, and what compaction merges them into.
PART = "part"
COMPACT = "compact"


class PartitionError(ValueError):
    """A partition path or value that is not one of ours."""


def valid_date(day: date) -> str:
    """A partition date: always rendered from a date object, so always YYYY-MM-DD."""
    if not isinstance(day, date):
        raise TypeError(f"partition date must be a date, not {type(day).__name__}")
    return day.isoformat()


def valid_lang(code: str) -> str:
    """A partition language: an ISO 639 code of 2-3 lower-case letters, else 'und'."""
    code = (code or "").strip().lower()
    return code if _LANG.fullmatch(code) else UNKNOWN_LANG


def partition_dir(table: str, keys: tuple[str, ...], values: tuple[str, ...]) -> str:
    parts = [table] + [f"{k}={v}" for k, v in zip(keys, values, strict=True)]
    return "/".join(parts)


def parse_partition(spec: str) -> tuple[str | None, tuple[tuple[str, str], ...]]:
    """`[table/]key=value[/key=value]` -> (table or None, ((key, value), ...)), validated.

    This is what `winnow compact --partition` accepts: `articles/date=2026-11-03`,
    `date=2026-11-03/lang=en` (any table with those keys), `runs`.
    """
    parts = [p for p in spec.strip().strip("/").split("/") if p]
    if not parts:
        raise PartitionError("empty partition")
    table = None
    if "=" not in parts[0]:
        table = parts.pop(0)
        if table not in schema.TABLES:
            raise PartitionError(f"unknown table {table!r} (tables: {', '.join(schema.TABLES)})")
    pairs = []
    for part in parts:
        key, sep, value = part.partition("=")
        if not sep:
            raise PartitionError(f"{part!r} is not key=value")
        pairs.append((key, check_value(key, value)))
    keys = tuple(k for k, _ in pairs)
    tables = [table] if table else list(schema.TABLES)
    if not any(schema.PARTITIONS[t][: len(keys)] == keys for t in tables):
        raise PartitionError(f"no table is partitioned by {'/'.join(keys)} (in that order)")
    return table, tuple(pairs)


def check_value(key: str, value: str) -> str:
    """A partition value read back from a path or typed by a user, checked for its key."""
    if key == "date":
        if _DATE.fullmatch(value):
            try:
                return date.fromisoformat(value).isoformat()
            except ValueError:
                pass
        raise PartitionError(f"date={value!r} is not a YYYY-MM-DD date")
    if key == "lang":
        if _LANG.fullmatch(value):
            return value
        raise PartitionError(f"lang={value!r} is not a 2-3 letter language code")
    raise PartitionError(f"unknown partition key {key!r}")


def host_tag() -> str:
    """This host's name, safe as a file-name part."""
    return _SAFE.sub("-", socket.gethostname())[:40] or "host"


def process_tag() -> str:
    """host and pid: unique per process, safe as a file-name part."""
    return f"{host_tag()}-{os.getpid()}"


def writer_tag(run_id: str) -> str:
    """run id, host and pid: unique per writing process, safe as a file-name part."""
    return f"{_SAFE.sub('-', run_id)[:40]}-{process_tag()}"


def file_name(tag: str, seq: int, kind: str = PART) -> str:
    return f"{kind}-{tag}-{seq:06d}.parquet"


def is_data_file(name: str) -> bool:
    """A complete, visible data file (not a temporary one, not a foreign dot file)."""
    return name.endswith(".parquet") and not name.startswith((".", "_"))


def is_compacted(name: str) -> bool:
    return name.startswith(COMPACT + "-")


def tmp_name(name: str) -> str:
    return f"{TMP_PREFIX}{name}{TMP_SUFFIX}"


def tmp_local_pid(name: str) -> int | None:
    """The pid of the process on this host writing temporary file `name`, if the name says so."""
    if not name.startswith(TMP_PREFIX):
        return None
    stem = name[len(TMP_PREFIX) :].removesuffix(TMP_SUFFIX).removesuffix(".parquet")
    head, _, seq = stem.rpartition("-")
    head, _, pid = head.rpartition("-")
    if seq.isdigit() and pid.isdigit() and head.endswith("-" + host_tag()):
        return int(pid)
    return None
