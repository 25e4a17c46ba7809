"""Duplicate checks: the same story once, whatever URL, site or synonyms it comes under.

`DuplicateIndex` holds every kept article of the warehouse (loaded at crawl start)
and of this run, and judges a new article, in this order:

1. `duplicate_url`: the same canonical URL (rel=canonical / og:url on the same site,
   tracking parameters dropped, host and scheme normalised: pipeline/urls.py);
2. `duplicate_content`: the same words in the same order (`content_hash`);
3. `near_duplicate`: an estimated Jaccard similarity of word 5-gram sets of at
   least `NEAR_DUPLICATE` (0.5) with a kept article: the agency story under another
   headline, lede and trailer. MinHash + LSH: 32 bands of 4 one-byte values;
4. `spun_copy`: an estimated Jaccard similarity of the *stop-word* 4-gram sets of at
   least `SPUN_COPY` with a kept article in the same language: a synonym-swapped
   copy, whose content words were replaced but whose function-word skeleton is
   intact (pipeline/fingerprints.py). 16 bands of 4 values.

A reject's `duplicate_of` is the kept article's id and `similarity` the estimate
(1.0 for URL and content copies). Signatures are of the text as the cleaning worker
left it; the writer's later stripping of learned site templates changes a few lines
at most.

Which copy is kept (the guarantee):

* Across runs, the first copy written wins: a kept article is never un-kept, so a
  copy fetched a day later is rejected even if it was published earlier.
* Within a run, the choice does not depend on the order pages arrive in, for the
  copies that arrive within one hold window: the crawl holds new articles
  (item_pipelines.DuplicatePipeline) until the crawl is idle, or the first one held
  has waited `WINNOW_DUPLICATE_HOLD_SECONDS` (default: the writer's flush interval,
  30 s), or `WINNOW_DUPLICATE_HOLD` (1,000) are held, then decides the batch in
  `keep_order`: earliest publication date first (articles without one after all
  dated ones), then source name, then the page fetched at its own canonical URL
  before its aliases, then URL. Of two copies the one earlier in that order is
  kept. A run that fetches everything within the window is one batch; copies in
  different batches are decided like copies in different runs. A run stopped
  before it went idle decides what it holds at its close.
* Several crawler processes writing to one local warehouse at once (the scheduler's
  parallel runs) take turns to decide a batch (`decide_shared`: a file lock in the
  index's folder), each first reading the segments the others saved, so a story they
  fetch at the same time is kept once. On object storage, which has no lock, a batch
  still reads the others' saved segments first, but two batches decided at the same
  moment can each keep a copy.

Memory is bounded per kept article and holds no Python object per article: 8-byte
keys for the id, URL and text hash in sorted numpy arrays (plus 4-byte row numbers),
128 + 64 bytes of b-bit MinHash, and one packed 8-byte entry per LSH band (48 of
them): 625 bytes an article, 56 MB for 90,000 (benchmarks/duplicates.py), with a
ceiling of 2**27 articles set by the packed row number. Articles added during a run
sit in small dictionaries (the LSH entries of at most `FOLD_EVERY` articles, then a
small sorted array) that are merged into the sorted arrays every `MERGE_EVERY`
articles.

The index persists with the warehouse as Parquet segments under
`WAREHOUSE/_index/duplicates/` (a `_` name that no table glob reads), written through
the warehouse's filesystem (local or S3). It is a cache of the `articles` table: on
load, entries whose article is not in the warehouse are dropped (a crawl that died
before its writer flushed) and articles missing from it are fingerprinted from their
text (a deleted index, or one written with other parameters, is rebuilt).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline.fingerprints import (
    MINHASH_PERM,
    PARAMS,
    SKELETON_PERM,
    add_fingerprints,
    content_hash,
    content_key,
    estimate,
)
from pipeline.record import Article, Record, Reject, record_id
from pipeline.urls import canonical_url

log = logging.getLogger(__name__)

#: Estimated Jaccard similarity of word 5-gram sets from which a copy is a near duplicate.
NEAR_DUPLICATE = 0.5
#: Estimated Jaccard similarity of stop-word 4-gram sets from which a copy is a spun copy.
SPUN_COPY = 0.5
#: Articles added during a run are merged into the sorted arrays this often.
MERGE_EVERY = 4096
#: ... and their LSH entries leave the (40 times larger per entry) dict this often.
FOLD_EVERY = 128
#: Candidate pairs compared at once when a batch is judged (`_BandIndex.best_many`).
BEST_CHUNK = 200_000
#: Where the index lives, relative to the warehouse root.
INDEX_DIR = "_index/duplicates"
#: The lock that crawls writing to one warehouse take to decide a batch (`decide_shared`).
DECIDE_LOCK = f"{INDEX_DIR}/.decide.lock"
#: More segment files than this and `save` merges them into one.
MAX_SEGMENTS = 16

_ROWS = 4  # one-byte MinHash values per LSH band: a 32-bit band key
_ROW_BITS = 27  # packed LSH entry: band (5 bits) | band key (32) | row (27)
_ROW_MASK = np.uint64((1 << _ROW_BITS) - 1)
MAX_ARTICLES = 1 << _ROW_BITS

SEGMENT_SCHEMA = pa.schema(
    [
        pa.field("id", pa.uint64(), nullable=False),
        pa.field("url_key", pa.uint64(), nullable=False),
        pa.field("content_key", pa.uint64(), nullable=False),
        pa.field("minhash", pa.binary(MINHASH_PERM), nullable=False),
        pa.field("skeleton", pa.binary(SKELETON_PERM)),
    ],
    metadata={b"winnow.index": b"duplicates", b"winnow.params": PARAMS.encode()},
)


def url_key(url: str) -> int:
    """64 bits of a canonical URL's hash."""
    return int.from_bytes(hashlib.blake2b(url.encode("utf-8"), digest_size=8).digest(), "little")


def id_key(record: str) -> int:
    """A record id (16 hex characters, see pipeline.record.record_id) as an integer."""
    try:
        return int(record, 16) & 0xFFFFFFFFFFFFFFFF
    except ValueError:  # not one of ours: still a stable key, though not reversible
        return url_key(record)


def id_text(key: int) -> str:
    return f"{key:016x}"


def keep_order(article: Article) -> tuple:
    """The order in which copies are decided: the first is kept (see the module docstring)."""
    published = article.published
    if published is not None and published.tzinfo is None:
        published = published.replace(tzinfo=UTC)
    return (
        published is None,
        published or datetime.max.replace(tzinfo=UTC),
        article.source,
        canonical_url(article.url) != article.canonical_url,
        article.url,
    )


class _Rows:
    """Per-article columns, grown by doubling."""

    def __init__(self) -> None:
        self.n = 0
        self.ids = np.empty(0, np.uint64)
        self.url_keys = np.empty(0, np.uint64)
        self.content_keys = np.empty(0, np.uint64)
        self.minhash = np.empty((0, MINHASH_PERM), np.uint8)
        self.skeleton = np.empty((0, SKELETON_PERM), np.uint8)
        self.has_skeleton = np.empty(0, bool)

    def _reserve(self, extra: int) -> None:
        need = self.n + extra
        if need <= len(self.ids):
            return
        size = max(need, 2 * len(self.ids), 1024)
        for name in ("ids", "url_keys", "content_keys", "minhash", "skeleton", "has_skeleton"):
            old = getattr(self, name)
            new = np.zeros((size, *old.shape[1:]), old.dtype)
            new[: self.n] = old[: self.n]
            setattr(self, name, new)

    def extend(self, ids, url_keys, content_keys, minhash, skeleton, has_skeleton) -> np.ndarray:
        count = len(ids)
        if self.n + count > MAX_ARTICLES:
            raise OverflowError(f"the duplicate index holds at most {MAX_ARTICLES} articles")
        self._reserve(count)
        sl = slice(self.n, self.n + count)
        self.ids[sl], self.url_keys[sl], self.content_keys[sl] = ids, url_keys, content_keys
        self.minhash[sl], self.skeleton[sl], self.has_skeleton[sl] = (
            minhash,
            skeleton,
            has_skeleton,
        )
        self.n += count
        return np.arange(sl.start, sl.stop, dtype=np.uint64)

    def nbytes(self) -> int:
        return sum(
            getattr(self, name)[: self.n].nbytes
            for name in ("ids", "url_keys", "content_keys", "minhash", "skeleton", "has_skeleton")
        )


class _KeyIndex:
    """64-bit key -> first row with it: a sorted array plus a dict of recent additions."""

    def __init__(self) -> None:
        self.keys = np.empty(0, np.uint64)
        self.rows = np.empty(0, np.uint32)
        self.pending: dict[int, int] = {}

    def extend(self, keys: np.ndarray, rows: np.ndarray) -> None:
        keys = np.concatenate([self.keys, keys.astype(np.uint64)])
        rows = np.concatenate([self.rows, rows.astype(np.uint32)])
        order = np.argsort(keys, kind="stable")
        self.keys, self.rows = keys[order], rows[order]

    def get_many(self, keys: list[int]) -> list[int]:
        """The first row of each key, -1 for a key not in the index."""
        rows = [-1] * len(keys)
        if len(self.keys):
            wanted = np.asarray(keys, np.uint64)
            i = np.minimum(np.searchsorted(self.keys, wanted), len(self.keys) - 1)
            found = np.where(self.keys[i] == wanted, self.rows[i].astype(np.int64), -1)
            rows = found.tolist()
        if self.pending:
            rows = [
                self.pending.get(k, -1) if r < 0 else r for k, r in zip(keys, rows, strict=True)
            ]
        return rows

    def add_many(self, keys: list[int], rows: list[int]) -> None:
        """Add keys with their rows; a key the index has keeps its first row."""
        for key, row, known in zip(keys, rows, self.get_many(keys), strict=True):
            if known < 0:
                self.pending.setdefault(key, row)
        if len(self.pending) >= MERGE_EVERY:
            self.merge()

    def merge(self) -> None:
        if self.pending:
            keys = np.fromiter(self.pending, np.uint64, len(self.pending))
            rows = np.fromiter(self.pending.values(), np.uint32, len(self.pending))
            self.pending = {}
            self.extend(keys, rows)

    def nbytes(self) -> int:
        return self.keys.nbytes + self.rows.nbytes + 100 * len(self.pending)


class _BandIndex:
    """LSH over b-bit MinHash signatures: rows sharing any band's 4 values are candidates.

    Each (band, 32-bit band key, row) is packed into one uint64. Entries live in three
    levels, so that neither memory nor merge work grows with a run's additions: a
    dict for the last `FOLD_EVERY` articles added, a sorted `recent` array that the
    dict is folded into, and the sorted main array that `recent` is merged into
    every `MERGE_EVERY` articles (a linear merge of two sorted runs). A lookup is two
    `searchsorted` calls per sorted level for all bands at once.
    """

    def __init__(self, perm: int) -> None:
        self.bands = perm // _ROWS
        self._band_bits = np.arange(self.bands, dtype=np.uint64) << np.uint64(59)
        self.packed = np.empty(0, np.uint64)
        self.recent = np.empty(0, np.uint64)
        self.pending: dict[int, list[int]] = {}
        self._pending_rows = 0
        self._recent_rows = 0

    def prefixes(self, sigs: np.ndarray) -> np.ndarray:
        """(n, perm) uint8 signatures -> (n, bands) packed entries without the row."""
        keys = np.ascontiguousarray(sigs).view("<u4").astype(np.uint64)
        return self._band_bits | (keys << np.uint64(_ROW_BITS))

    def extend(self, rows: np.ndarray, sigs: np.ndarray) -> None:
        if not len(rows):
            return
        packed = (self.prefixes(sigs) | rows.astype(np.uint64)[:, None]).ravel()
        packed.sort()
        self.packed = _merge_sorted(self.packed, packed)

    def add(self, row: int, sig: np.ndarray) -> None:
        for prefix in self.prefixes(sig[None, :])[0].tolist():
            self.pending.setdefault(prefix, []).append(row)
        self._pending_rows += 1
        if self._pending_rows >= FOLD_EVERY:
            self._fold()
            if self._recent_rows >= MERGE_EVERY:
                self.merge()

    def add_many(self, rows: np.ndarray, sigs: np.ndarray) -> None:
        """Add several rows at once: a few as `add` does, many straight into `recent`."""
        if len(rows) < FOLD_EVERY:
            for row, sig in zip(rows.tolist(), sigs, strict=True):
                self.add(row, sig)
            return
        packed = (self.prefixes(sigs) | rows.astype(np.uint64)[:, None]).ravel()
        packed.sort()
        self.recent = _merge_sorted(self.recent, packed)
        self._recent_rows += len(rows)
        if self._recent_rows >= MERGE_EVERY:
            self.merge()

    def best_many(
        self, prefixes: np.ndarray, store: np.ndarray, sigs: np.ndarray
    ) -> tuple[list[int], list[float]]:
        """For each of n signatures (with their (n, bands) `prefixes`), the kept row most
        similar to it among those sharing a band (the earliest of equals; -1: none) and
        the estimated similarity. `store` holds the kept rows' signatures."""
        n = len(prefixes)
        best_rows = np.full(n, -1, np.int64)
        best_sims = np.zeros(n)
        flat = prefixes.ravel()
        owner = np.repeat(np.arange(n), self.bands)
        ranges = []
        for level in (self.packed, self.recent):
            if len(level):
                lo = np.searchsorted(level, flat, side="left")
                hi = np.searchsorted(level, flat | _ROW_MASK, side="right")
                ranges.append((level, lo, hi - lo))
        if not ranges and not self.pending:
            return best_rows.tolist(), best_sims.tolist()
        # Candidates are compared a chunk of signatures at a time, so that a band shared
        # by very many kept rows does not make one huge comparison.
        per_owner = np.zeros(n, np.int64)
        for _, _, count in ranges:
            per_owner += count.reshape(n, self.bands).sum(axis=1)
        start = 0
        while start < n:
            stop = start + max(1, int(np.searchsorted(np.cumsum(per_owner[start:]), BEST_CHUNK)))
            rows, owners = [], []
            part = slice(start * self.bands, stop * self.bands)
            for level, lo, count in ranges:
                hit = np.flatnonzero(count[part]) + part.start
                if len(hit):
                    c = count[hit]
                    offsets = np.arange(c.sum()) - np.repeat(np.cumsum(c) - c, c)
                    rows.append(
                        (level[np.repeat(lo[hit], c) + offsets] & _ROW_MASK).astype(np.int64)
                    )
                    owners.append(np.repeat(owner[hit], c))
            # the dict level: at most FOLD_EVERY rows, and often empty
            for k, prefix in enumerate(flat[part].tolist() if self.pending else ()):
                got = self.pending.get(prefix)
                if got:
                    rows.append(np.asarray(got, np.int64))
                    owners.append(np.full(len(got), owner[part.start + k]))
            if rows:
                rows_, owners_ = np.concatenate(rows), np.concatenate(owners)
                sims = estimate(np.mean(store[rows_] == sigs[owners_], axis=1))
                order = np.lexsort((rows_, -sims, owners_))
                ranked = owners_[order]
                first = order[np.r_[True, ranked[1:] != ranked[:-1]]]
                best_rows[owners_[first]] = rows_[first]
                best_sims[owners_[first]] = sims[first]
            start = stop
        return best_rows.tolist(), best_sims.tolist()

    def _fold(self) -> None:
        """Move the dict's entries into the sorted `recent` array."""
        if not self.pending:
            return
        packed = np.fromiter(
            (prefix | row for prefix, rows in self.pending.items() for row in rows), np.uint64
        )
        packed.sort()
        self.recent = _merge_sorted(self.recent, packed)
        self._recent_rows += self._pending_rows
        self.pending, self._pending_rows = {}, 0

    def merge(self) -> None:
        """Move every addition into the main sorted array."""
        self._fold()
        if len(self.recent):
            self.packed = _merge_sorted(self.packed, self.recent)
        self.recent, self._recent_rows = np.empty(0, np.uint64), 0

    def nbytes(self) -> int:
        return self.packed.nbytes + self.recent.nbytes + 100 * self.bands * self._pending_rows


class _Batch:
    """Articles being judged together, in order, against the index and each other.

    What the index held before the batch is looked up for every article at once: its
    URL and text keys, and its most similar LSH candidate (`_BandIndex.best_many`). The
    batch's own keepers get rows from `len(index)` on, in the order they are kept, and
    sit in dicts until `commit` adds them to the index in one go: a later article of
    the batch is judged against both, so the verdicts are those of judging the
    articles one by one.
    """

    def __init__(self, index: DuplicateIndex, articles: list[Article], judge: bool = True) -> None:
        for article in articles:
            if article.minhash is None:
                add_fingerprints(article)
        self.index, self.articles = index, articles
        n = len(articles)
        self.urls = [url_key(a.canonical_url) for a in articles]
        self.contents = [content_key(a.content_hash) for a in articles]
        joined = b"".join(a.minhash for a in articles)
        self.minhash = np.frombuffer(joined, np.uint8).reshape(n, MINHASH_PERM)
        self.has_skeleton = [a.skeleton_hash is not None for a in articles]
        empty = bytes(SKELETON_PERM)
        joined = b"".join(a.skeleton_hash or empty for a in articles)
        self.skeleton = np.frombuffer(joined, np.uint8).reshape(n, SKELETON_PERM)

        self.url_rows = index.urls.get_many(self.urls) if judge else [-1] * n
        self.content_rows = index.contents.get_many(self.contents) if judge else [-1] * n
        near_keys = index.near.prefixes(self.minhash)
        spun_keys = index.spun.prefixes(self.skeleton)
        self.near_keys, self.spun_keys = near_keys.tolist(), spun_keys.tolist()
        # an article the index has by URL or text is that copy: no similarity to find
        new = [
            judge and u < 0 and c < 0 for u, c in zip(self.url_rows, self.content_rows, strict=True)
        ]
        self.near_best = self._best_of_index(
            index.near, near_keys, index.rows.minhash, self.minhash, new
        )
        with_skeleton = [a and b for a, b in zip(new, self.has_skeleton, strict=True)]
        self.spun_best = self._best_of_index(
            index.spun, spun_keys, index.rows.skeleton, self.skeleton, with_skeleton
        )

        self.base = len(index)
        self.kept: list[int] = []  # positions of the keepers; row base + k is kept[k]
        self.kept_urls: dict[int, int] = {}
        self.kept_contents: dict[int, int] = {}
        self.kept_near: dict[int, list[int]] = {}
        self.kept_spun: dict[int, list[int]] = {}

    def verdict(self, i: int) -> Reject | None:
        """A duplicate Reject if a kept article (of the index or the batch) is a copy of
        article `i`, else None."""
        article, index = self.articles[i], self.index
        row = self._key_row(self.url_rows[i], self.kept_urls, self.urls[i])
        if row is not None:
            kept = self._id(row)
            return _reject(article, "duplicate_url", self._url_detail(i, row, kept), kept, 1.0)
        row = self._key_row(self.content_rows[i], self.kept_contents, self.contents[i])
        if row is not None:
            kept = self._id(row)
            return _reject(article, "duplicate_content", f"same text as {kept}", kept, 1.0)
        near_row, near_sim = self._best(
            i, self.near_best, self.kept_near, self.near_keys[i], self.minhash
        )
        if near_row is not None and near_sim >= index.near_threshold:
            kept = self._id(near_row)
            detail = (
                f"shares ~{near_sim:.0%} of its word 5-grams with {kept} "
                f"(estimated Jaccard {near_sim:.2f} >= {index.near_threshold:g})"
            )
            return _reject(article, "near_duplicate", detail, kept, near_sim)
        if not self.has_skeleton[i]:
            return None
        spun_row, spun_sim = self._best(
            i, self.spun_best, self.kept_spun, self.spun_keys[i], self.skeleton
        )
        if spun_row is not None and spun_sim >= index.spun_threshold:
            kept = self._id(spun_row)
            words = float(estimate(np.mean(self._minhash(spun_row) == self.minhash[i])))
            spin = "unknown" if article.spin_score is None else f"{article.spin_score:.2f}"
            detail = (
                f"same function-word skeleton as {kept} (estimated Jaccard of stop-word "
                f"4-grams {spun_sim:.2f} >= {index.spun_threshold:g}) but ~{words:.0%} of "
                f"word 5-grams in common: a synonym-swapped copy (spin score {spin})"
            )
            return _reject(article, "spun_copy", detail, kept, spun_sim)
        return None

    def keep(self, i: int) -> None:
        """Article `i` is kept: later articles of the batch are judged against it too."""
        row = self.base + len(self.kept)
        self.kept.append(i)
        # in `decide` a keeper's keys are new: an article with a known one is a copy
        self.kept_urls.setdefault(self.urls[i], row)
        self.kept_contents.setdefault(self.contents[i], row)
        for key in self.near_keys[i]:
            self.kept_near.setdefault(key, []).append(row)
        if self.has_skeleton[i]:
            for key in self.spun_keys[i]:
                self.kept_spun.setdefault(key, []).append(row)

    def commit(self) -> None:
        """Add the keepers to the index."""
        if not self.kept:
            return
        at = self.kept
        index = self.index
        has_skeleton = np.asarray([self.has_skeleton[i] for i in at], bool)
        rows = index.rows.extend(
            [id_key(self.articles[i].id) for i in at],
            [self.urls[i] for i in at],
            [self.contents[i] for i in at],
            self.minhash[at],
            self.skeleton[at],
            has_skeleton,
        )
        row_list = rows.tolist()
        index.urls.add_many([self.urls[i] for i in at], row_list)
        index.contents.add_many([self.contents[i] for i in at], row_list)
        index.near.add_many(rows, self.minhash[at])
        index.spun.add_many(rows[has_skeleton], self.skeleton[at][has_skeleton])
        self.kept = []

    @staticmethod
    def _best_of_index(
        bands: _BandIndex, keys: np.ndarray, store: np.ndarray, sigs: np.ndarray, wanted: list[bool]
    ) -> tuple[list[int], list[float]]:
        """`bands.best_many` for the wanted articles; row -1 for the others."""
        n = len(wanted)
        rows, sims = [-1] * n, [0.0] * n
        at = np.flatnonzero(wanted)
        if len(at):
            found = bands.best_many(keys[at], store, sigs[at])
            for i, row, sim in zip(at.tolist(), *found, strict=True):
                rows[i], sims[i] = row, sim
        return rows, sims

    def _key_row(self, index_row: int, kept: dict[int, int], key: int) -> int | None:
        return index_row if index_row >= 0 else kept.get(key)

    def _best(
        self,
        i: int,
        index_best: tuple[list[int], list[float]],
        kept_bands: dict[int, list[int]],
        keys: list[int],
        sigs: np.ndarray,
    ) -> tuple[int | None, float]:
        """The most similar candidate of article `i` (the earliest row of equals) and its
        similarity: the index's, found beforehand, or one of the batch's keepers."""
        row, sim = index_best[0][i], index_best[1][i]
        rows = {r for key in keys for r in kept_bands.get(key, ())}
        if rows:
            ordered = sorted(rows)
            theirs = sigs[[self.kept[r - self.base] for r in ordered]]
            equal = (theirs == sigs[i]).sum(axis=1)  # the most equal values: the most similar
            best = int(np.argmax(equal))
            best_sim = float(estimate(int(equal[best]) / sigs.shape[1]))
            if row < 0 or best_sim > sim:  # an index row is earlier than any keeper's
                row, sim = ordered[best], best_sim
        return (row if row >= 0 else None), sim

    def _id(self, row: int) -> str:
        if row < self.base:
            return self.index._id(row)
        return id_text(id_key(self.articles[self.kept[row - self.base]].id))

    def _url_detail(self, i: int, row: int, kept: str) -> str:
        article = self.articles[i]
        if kept != record_id(article.url):
            return f"same canonical URL as {kept}"
        # the page itself, fetched again (`--refresh`): the stored article stays
        if row < self.base:
            stored = int(self.index.rows.content_keys[row])
        else:
            stored = self.contents[self.kept[row - self.base]]
        changed = "its text has changed" if stored != self.contents[i] else "same text"
        return f"this URL's article is already in the warehouse as {kept} ({changed})"

    def _minhash(self, row: int) -> np.ndarray:
        if row < self.base:
            return self.index.rows.minhash[row]
        return self.minhash[self.kept[row - self.base]]


def _merge_sorted(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """One sorted array of two: the stable sort (timsort) merges two runs in linear time."""
    if not len(a):
        return b
    return np.sort(np.concatenate([a, b]), kind="stable")


class DuplicateIndex:
    """The kept articles' fingerprints; `check` judges a new article against them."""

    def __init__(self, near: float = NEAR_DUPLICATE, spun: float = SPUN_COPY) -> None:
        self.near_threshold = near
        self.spun_threshold = spun
        self.rows = _Rows()
        self.urls = _KeyIndex()
        self.contents = _KeyIndex()
        self.near = _BandIndex(MINHASH_PERM)
        self.spun = _BandIndex(SKELETON_PERM)
        #: Rows from here on are not in any saved segment yet.
        self.unsaved_from = 0
        self._segments: list[str] = []

    def __len__(self) -> int:
        return self.rows.n

    def nbytes(self) -> int:
        """Memory held by the index's arrays and pending additions."""
        parts = (self.rows, self.urls, self.contents, self.near, self.spun)
        return sum(p.nbytes() for p in parts)

    # --- judging ---------------------------------------------------------------

    def lookup(self, article: Article) -> Reject | None:
        """A duplicate Reject if a kept article is a copy of this one, else None."""
        return _Batch(self, [article]).verdict(0)

    def _id(self, row: int) -> str:
        return id_text(int(self.rows.ids[row]))

    def add(self, article: Article) -> None:
        """Remember a kept article."""
        batch = _Batch(self, [article], judge=False)
        batch.keep(0)
        batch.commit()

    def check(self, article: Article) -> Record:
        """The article itself if it is new (and remember it), else a duplicate Reject."""
        return self.decide([article])[0]

    def decide(self, articles: Iterable[Article]) -> list[Record]:
        """Judge a batch in `keep_order`, so the result does not depend on arrival order.

        Each article is judged against the kept articles and the batch's earlier
        keepers, as `check` one by one in that order would, but what the index holds is
        looked up for the whole batch at once (see `_Batch`).
        """
        batch = _Batch(self, sorted(articles, key=keep_order))
        records: list[Record] = []
        for i, article in enumerate(batch.articles):
            verdict = batch.verdict(i)
            if verdict is None:
                batch.keep(i)
            records.append(article if verdict is None else verdict)
        batch.commit()
        return records

    def decide_shared(self, warehouse, articles: Iterable[Article], run_id: str) -> list[Record]:
        """`decide` a batch as one of the crawls writing to a warehouse at once.

        Under the warehouse's decision lock (local warehouses: object storage has no lock),
        the index first catches up on what the other crawls kept, then decides, then saves
        its keepers before letting go: a story that two crawls fetch at the same time is
        kept by one of them only.
        """
        from warehouse.storage import Root, exclusive, open_root

        root = warehouse if isinstance(warehouse, Root) else open_root(warehouse)
        with exclusive(root, DECIDE_LOCK):
            self.catch_up(root)
            records = self.decide(articles)
            self.save(root, run_id)
        return records

    def _bulk(self, ids, url_keys, content_keys, minhash, skeleton, has_skeleton) -> None:
        rows = self.rows.extend(ids, url_keys, content_keys, minhash, skeleton, has_skeleton)
        self.urls.extend(np.asarray(url_keys, np.uint64), rows)
        self.contents.extend(np.asarray(content_keys, np.uint64), rows)
        self.near.extend(rows, np.asarray(minhash, np.uint8))
        mask = np.asarray(has_skeleton, bool)
        self.spun.extend(rows[mask], np.asarray(skeleton, np.uint8)[mask])

    # --- persistence -----------------------------------------------------------

    @classmethod
    def from_warehouse(cls, warehouse, **thresholds: float) -> DuplicateIndex:
        """The index of a warehouse's kept articles: saved segments, reconciled with `articles`."""
        from warehouse.dataset import dataset
        from warehouse.storage import Root, open_root

        root = warehouse if isinstance(warehouse, Root) else open_root(warehouse)
        index = cls(**thresholds)
        kept = dataset(root, "articles").to_table(columns=["id"]).column("id").to_pylist()
        kept_keys = np.unique(np.fromiter((id_key(i) for i in kept), np.uint64, len(kept)))
        segments, loaded = index._read_segments(root)
        if loaded is not None and loaded.num_rows:
            ids = loaded.column("id").to_numpy()
            _, first = np.unique(ids, return_index=True)
            first.sort()
            index._bulk_table(loaded.take(pa.array(first[np.isin(ids[first], kept_keys)])))
        index._segments = segments
        index.unsaved_from = len(index)
        missing = np.setdiff1d(kept_keys, index.rows.ids[: len(index)])
        if len(missing):
            index._rebuild(root, missing)
        return index

    def catch_up(self, warehouse) -> int:
        """Add what other crawler processes kept since this index last looked: the rows of
        segments it has not read, less the articles it holds. Returns how many were added.

        Called under `decision_lock` just before a batch is decided and saved, so that
        crawls writing to one warehouse at once keep one copy of a story between them.
        """
        from warehouse.storage import Root, open_root

        root = warehouse if isinstance(warehouse, Root) else open_root(warehouse)
        known = set(self._segments)
        new = [path for path in _segment_paths(root) if path not in known]
        tables = []
        for path in new:
            table = _read_segment(root, path)
            if table is not None:  # else: tried again at the next look
                self._segments.append(path)
                tables.append(table)
        table = pa.concat_tables(tables) if tables else None
        if table is None or not table.num_rows:
            return 0
        ids = table.column("id").to_numpy()
        _, first = np.unique(ids, return_index=True)
        first.sort()
        fresh = first[~np.isin(ids[first], self.rows.ids[: len(self)])]
        saved = self.unsaved_from == len(self)
        self._bulk_table(table.take(pa.array(fresh)))
        if saved:  # they are in their own segments: not this process's to save again
            self.unsaved_from = len(self)
        return len(fresh)

    def _bulk_table(self, table: pa.Table) -> None:
        skeleton = table.column("skeleton")
        self._bulk(
            table.column("id").to_numpy(),
            table.column("url_key").to_numpy(),
            table.column("content_key").to_numpy(),
            _fixed(table.column("minhash"), MINHASH_PERM),
            _fixed(skeleton.fill_null(bytes(SKELETON_PERM)), SKELETON_PERM),
            skeleton.is_valid().to_numpy(zero_copy_only=False),
        )

    def _read_segments(self, root) -> tuple[list[str], pa.Table | None]:
        tables, segments = [], []
        for path in _segment_paths(root):
            table = _read_segment(root, path)
            if table is not None:
                segments.append(path)
                tables.append(table)
        return segments, pa.concat_tables(tables) if tables else None

    def _rebuild(self, root, missing: np.ndarray) -> None:
        """Fingerprint kept articles that no segment covers, from their text."""
        import pyarrow.dataset as ds

        from warehouse.dataset import dataset

        log.info("duplicate index: fingerprinting %d article(s) from the warehouse", len(missing))
        wanted = pa.array([id_text(int(k)) for k in missing])
        table = dataset(root, "articles").to_table(
            columns=["id", "url", "canonical_url", "text", "lang", "content_hash", "source"],
            filter=ds.field("id").isin(wanted),
        )
        seen: set[str] = set()
        for row in table.to_pylist():
            if row["id"] in seen:
                continue
            seen.add(row["id"])
            article = _stored_article(row)
            self.add(article)

    def save(self, warehouse, run_id: str) -> str | None:
        """Write the articles added since the last save as a new segment; returns its path."""
        from warehouse.layout import file_name, writer_tag
        from warehouse.storage import Root, open_root
        from warehouse.writer import next_sequence, write_table

        root = warehouse if isinstance(warehouse, Root) else open_root(warehouse)
        start = self.unsaved_from
        if start >= len(self):
            return None
        compact = len(self._segments) + 1 > MAX_SEGMENTS
        if compact:
            start = 0
        kind = "compact" if compact else "part"
        name = file_name(writer_tag(run_id), next_sequence(), kind=kind)
        path = write_table(root, INDEX_DIR, name, self._segment(start, len(self)))
        if compact:
            for old in self._segments:
                try:
                    root.fs.delete_file(old)
                except FileNotFoundError:
                    pass  # merged away already, by another crawl's compaction
                except OSError as exc:
                    log.warning("duplicate index: could not remove merged segment %s: %s", old, exc)
            self._segments = []
        self._segments.append(path)
        self.unsaved_from = len(self)
        return path

    def _segment(self, start: int, stop: int) -> pa.Table:
        r = self.rows
        skeleton = pa.FixedSizeBinaryArray.from_buffers(
            pa.binary(SKELETON_PERM),
            stop - start,
            [None, pa.py_buffer(np.ascontiguousarray(r.skeleton[start:stop]).tobytes())],
        )
        valid = pa.array(r.has_skeleton[start:stop])
        skeleton = pc.if_else(valid, skeleton, pa.scalar(None, pa.binary(SKELETON_PERM)))
        minhash = pa.FixedSizeBinaryArray.from_buffers(
            pa.binary(MINHASH_PERM),
            stop - start,
            [None, pa.py_buffer(np.ascontiguousarray(r.minhash[start:stop]).tobytes())],
        )
        return pa.Table.from_arrays(
            [
                pa.array(r.ids[start:stop]),
                pa.array(r.url_keys[start:stop]),
                pa.array(r.content_keys[start:stop]),
                minhash,
                skeleton,
            ],
            schema=SEGMENT_SCHEMA,
        )


def _segment_paths(root) -> list[str]:
    """The index's segment files, oldest first."""
    from pyarrow import fs as pafs

    selector = pafs.FileSelector(root.path(INDEX_DIR), recursive=False, allow_not_found=True)
    return sorted(
        info.path
        for info in root.fs.get_file_info(selector)
        if info.type == pafs.FileType.File
        and info.base_name.endswith(".parquet")
        and not info.base_name.startswith((".", "_"))
    )


def _read_segment(root, path: str) -> pa.Table | None:
    """One segment's rows (none if it was made with other parameters), or None if it
    cannot be read."""
    try:
        table = pq.read_table(path, filesystem=root.fs)
    except (OSError, pa.ArrowInvalid) as exc:
        log.warning("duplicate index: skipping unreadable segment %s: %s", path, exc)
        return None
    params = (table.schema.metadata or {}).get(b"winnow.params", b"").decode()
    if params != PARAMS:
        log.info("duplicate index: %s was made with other parameters; rebuilding", path)
        return SEGMENT_SCHEMA.empty_table()
    return table.select(SEGMENT_SCHEMA.names).cast(SEGMENT_SCHEMA)


def _fixed(column: pa.ChunkedArray, width: int) -> np.ndarray:
    """A fixed-size binary column as an (n, width) uint8 matrix."""
    chunks = [
        np.frombuffer(c.buffers()[1], np.uint8)[c.offset * width : (c.offset + len(c)) * width]
        for c in column.chunks
    ]
    data = np.concatenate(chunks) if chunks else np.empty(0, np.uint8)
    return data.reshape(-1, width)


def _stored_article(row: dict) -> Article:
    """An Article from a warehouse row, with just what the index needs."""
    return add_fingerprints(
        Article(
            id=row["id"],
            url=row["url"],
            canonical_url=row["canonical_url"],
            source=row["source"] or "",
            site="",
            title="",
            text=row["text"] or "",
            lang=row["lang"] or "",
            lang_score=0.0,
            fetched_at=datetime.now(UTC),
            content_hash=row["content_hash"] or content_hash(row["text"] or ""),
            word_count=0,
        )
    )


def _reject(article: Article, reason: str, detail: str, kept: str, similarity: float) -> Reject:
    return Reject(
        id=record_id(article.url),
        url=article.url,
        source=article.source,
        reason=reason,
        detail=detail,
        fetched_at=article.fetched_at,
        http_status=article.http_status,
        title=article.title,
        text=article.text,
        lang=article.lang,
        lang_score=article.lang_score,
        duplicate_of=kept,
        similarity=round(similarity, 4),
    )


@dataclass
class Copies:
    """An article and the pages judged copies of it (for `winnow duplicates`)."""

    kept: dict | None
    copies: list[dict]
    #: The reject the user named, when they named a copy rather than the kept article.
    asked: dict | None = None


def copies_of(warehouse, key: str) -> Copies | None:
    """The kept article a URL or id names (directly or through a copy) and all its copies."""
    from warehouse.query import connect

    con = connect(warehouse)
    key = key.strip()
    article_cols = "id, url, canonical_url, source, title, published, spin_score, fetched_at"
    reject_cols = "id, url, source, reason, similarity, detail, duplicate_of, fetched_at"

    def rows(sql: str, params: list) -> list[dict]:
        rel = con.execute(sql, params)
        names = [d[0] for d in rel.description]
        return [dict(zip(names, row, strict=True)) for row in rel.fetchall()]

    kept = rows(
        f"select {article_cols} from articles where id = ? or url = ? or canonical_url = ? "
        "order by fetched_at limit 1",
        [key, key, canonical_url(key)],
    )
    asked = None
    if not kept:
        named = rows(
            f"select {reject_cols} from rejects where (id = ? or url = ?) "
            "and duplicate_of is not null order by fetched_at desc limit 1",
            [key, key],
        )
        if not named:
            return None
        asked = named[0]
        kept = rows(
            f"select {article_cols} from articles where id = ? limit 1", [asked["duplicate_of"]]
        )
    kept_id = kept[0]["id"] if kept else asked["duplicate_of"]
    copies = rows(
        f"select {reject_cols} from rejects where duplicate_of = ? "
        "order by similarity desc, fetched_at, url",
        [kept_id],
    )
    return Copies(kept[0] if kept else None, copies, asked)
