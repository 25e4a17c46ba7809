"""Where files go: partition directories and unique, hidden-until-complete file names."""

from __future__ import annotations

import os
import re
import socket
from datetime import date

_LANG = re.compile(r"^[a-z]{2,3}$")
_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")
UNKNOWN_LANG = "und"
TMP_PREFIX = ".tmp-"


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


def host_tag() -> str:
    """This host's name, safe as a file-name part."""
    return _SAFE.sub("-", socket.gethostname())[:40] or "host"


def writer_tag(run_id: str) -> str:
    """run id, host and pid: unique per writing process, safe as a file-name part."""
    return f"{_SAFE.sub('-', run_id)[:40]}-{host_tag()}-{os.getpid()}"


def file_name(tag: str, seq: int) -> str:
    return f"part-{tag}-{seq:06d}.parquet"
