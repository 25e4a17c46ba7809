"""The warehouse root as a pyarrow filesystem: a local directory or an S3-compatible URI.

For `s3://bucket/prefix` the endpoint and credentials come from the environment
(`AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`), the
same variables boto3 and DuckDB read.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pyarrow import fs as pafs


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

    def glob_uri(self, table: str) -> str:
        """A glob over a table's Parquet files, in the form DuckDB reads."""
        if self.is_local:
            return f"{self.base}/{table}/**/*.parquet"
        return f"{self.uri.rstrip('/')}/{table}/**/*.parquet"


def open_root(uri: str | os.PathLike[str]) -> Root:
    """Resolve a warehouse root; local paths are made absolute and created."""
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
            )
        return Root(pafs.S3FileSystem(**kwargs), bucket_path, text)
    path = Path(text).expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    return Root(pafs.LocalFileSystem(), path.as_posix(), path.as_posix())
