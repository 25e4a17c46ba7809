"""The seen-URL index: which canonical URLs already have an article in the warehouse.

Kept as a sorted numpy array of 64-bit hashes (8 bytes a URL: ten million URLs in
80 MB) plus a small set for URLs added during the run. It is rebuilt from the
warehouse's `articles.canonical_url` column, so it persists with the warehouse.
"""

from __future__ import annotations

import hashlib

import numpy as np


def url_key(url: str) -> int:
    return int.from_bytes(hashlib.blake2b(url.encode("utf-8"), digest_size=8).digest(), "little")


class SeenUrls:
    def __init__(self, keys: np.ndarray | None = None) -> None:
        self._sorted = np.unique(keys if keys is not None else np.empty(0, dtype=np.uint64))
        self._new: set[int] = set()

    @classmethod
    def from_urls(cls, urls) -> SeenUrls:
        return cls(np.fromiter((url_key(u) for u in urls), dtype=np.uint64))

    @classmethod
    def from_warehouse(cls, warehouse: str) -> SeenUrls:
        from warehouse.query import dataset

        table = dataset(warehouse, "articles").to_table(columns=["canonical_url"])
        return cls.from_urls(table.column("canonical_url").to_pylist())

    def __len__(self) -> int:
        return len(self._sorted) + len(self._new)

    def contains(self, url: str) -> bool:
        key = url_key(url)
        if key in self._new:
            return True
        i = np.searchsorted(self._sorted, np.uint64(key))
        return bool(i < len(self._sorted) and self._sorted[i] == key)

    def add(self, url: str) -> None:
        self._new.add(url_key(url))
