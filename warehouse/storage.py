"""The warehouse root as a pyarrow filesystem: a local directory or an S3-compatible URI.

For `s3://bucket/prefix` the endpoint and credentials come from the environment
(`AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`), the
same variables boto3 and DuckDB read.

`publish()` is how every data file is created: written under a hidden temporary name,
then renamed (local: an atomic rename after fsync, so even a machine crash cannot
leave an empty file under the final name; S3: a server-side copy, which makes the
object appear complete or not at all), so no reader ever sees half a file.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from pyarrow import fs as pafs

from warehouse.layout import tmp_name


@dataclass(frozen=True)
class Root:
    """A filesystem and the base path inside it; `uri` is what the user gave."""

    fs: pafs.FileSystem
    base: str
    uri: str

    @property
    def is_local(self) -> bool:
        return isinstance(self.fs, pafs.LocalFileSystem)

    def path(self, *parts: str) -> str:
        return "/".join([self.base.rstrip("/"), *parts])

    def relative(self, path: str) -> str:
        """A path inside the root, relative to it (`articles/date=.../x.parquet`)."""
        return path[len(self.base.rstrip("/")) + 1 :]

    def uri_of(self, path: str) -> str:
        """The URI an outside engine (DuckDB) opens for a path inside the root."""
        if self.is_local:
            return path
        return f"s3://{path}"


class MissingWarehouse(FileNotFoundError):
    """A reader was given a local warehouse path that is not there (see `missing_warehouse`)."""


def open_root(uri: str | os.PathLike[str], create: bool = True) -> Root:
    """Resolve a warehouse root; local paths are made absolute (and created, for writers).

    A reader (`create=False`) gets MissingWarehouse for a local path that is not a
    directory: a typo'd path is an error, not an empty warehouse.
    """
    text = str(uri)
    if text.startswith("s3://"):
        bucket_path = text[len("s3://") :].rstrip("/")
        endpoint = os.environ.get("AWS_ENDPOINT_URL") or os.environ.get("WINNOW_S3_ENDPOINT")
        kwargs: dict = {"region": os.environ.get("AWS_REGION", "us-east-1")}
        if endpoint:
            scheme, _, host = endpoint.partition("://")
            kwargs.update(endpoint_override=host or scheme, scheme=scheme if host else "https")
        if os.environ.get("AWS_ACCESS_KEY_ID"):
            kwargs.update(
                access_key=os.environ["AWS_ACCESS_KEY_ID"],
                secret_key=os.environ.get("AWS_SECRET_ACCESS_KEY", ""),
                session_token=os.environ.get("AWS_SESSION_TOKEN"),
            )
        return Root(pafs.S3FileSystem(**kwargs), bucket_path, text)
    path = Path(text).expanduser().resolve()
    if create:
        path.mkdir(parents=True, exist_ok=True)
    elif missing := missing_warehouse(text):
        raise MissingWarehouse(missing)
    return Root(pafs.LocalFileSystem(), path.as_posix(), path.as_posix())


def missing_warehouse(uri: str | os.PathLike[str]) -> str | None:
    """Why a local warehouse to read is not there (None if it is, and for S3, where an
    empty prefix is a valid empty warehouse)."""
    text = str(uri)
    if text.startswith("s3://"):
        return None
    path = Path(text).expanduser()
    if path.is_dir():
        return None
    if path.exists():
        return f"the warehouse {text} is not a directory"
    return (
        f"no warehouse at {path.resolve()} (check --warehouse or $WINNOW_WAREHOUSE; "
        "`winnow crawl` creates it)"
    )


@contextlib.contextmanager
def publish(root: Root, directory: str, name: str) -> Iterator[BinaryIO]:
    """A stream for a new file that appears as `directory/name` only once complete.

    On any error the temporary file is removed and the final name never appears.
    """
    final = root.path(directory, name)
    tmp = root.path(directory, tmp_name(name))
    root.fs.create_dir(root.path(directory), recursive=True)
    try:
        if root.is_local:
            with open(tmp, "wb") as out:
                yield out
                out.flush()
                os.fsync(out.fileno())
            os.rename(tmp, final)
        else:
            with root.fs.open_output_stream(tmp) as out:
                yield out
            root.fs.move(tmp, final)
    except BaseException:
        with contextlib.suppress(OSError):
            root.fs.delete_file(tmp)
        raise


@contextlib.contextmanager
def exclusive(root: Root, name: str, wait: bool = True) -> Iterator[bool]:
    """Hold an exclusive lock on the file `name` in a local warehouse for the block.

    Yields True once held; with `wait` off, False at once if another process holds it.
    Object storage has no such lock: there it yields True without one.
    """
    if not root.is_local:
        yield True
        return
    path = Path(root.path(name))
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
