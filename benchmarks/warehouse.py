"""Warehouse benchmark: write throughput, bytes per article, and typical query times.

Generates N article rows (default 1,000,000) as a crawl would deliver them (fetch
time ascending over `--days` days, 8 languages, 40 sources, ~600-word texts drawn
from Zipf-distributed synthetic vocabularies, so the text compresses like prose and
not like repeated filler), writes them with `WarehouseWriter` (flushing every
`--flush-rows` rows, as the Scrapy pipeline does), and prints:

* write throughput: rows/s of `add()` + flushes, generation excluded (and included);
* bytes on disk per article, before and after `winnow compact`;
* three queries, count by language for one day, `ILIKE` over one week and top sources
  over one week, each with its window as a filter on the partition column `date`
  (pruned: only that window's files are opened), as a `fetched_at` range (every file
  opened, row groups skipped by statistics) and as an expression nothing can skip on
  (full scan); plus top sources over everything. Median of `--repeat` runs, warm OS
  cache, before and after `winnow compact`.

    .venv/bin/python benchmarks/warehouse.py [--rows N] [--days D] [--dir PATH] [--keep]
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

# This script shares its name with the package it measures: import the package.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

from pipeline.record import Article  # noqa: E402
from warehouse.compact import compact  # noqa: E402
from warehouse.query import connect, scan_stats  # noqa: E402
from warehouse.writer import WarehouseWriter  # noqa: E402

LANGS = ("en", "fr", "de", "es", "it", "pt", "ru", "ar")
LANG_SHARE = (0.35, 0.15, 0.12, 0.12, 0.08, 0.07, 0.06, 0.05)
START = datetime(2026, 10, 1, tzinfo=UTC)
RARE = "earthquake"
BATCH = 5000


def vocabulary(rng: np.random.Generator, size: int = 30000) -> list[str]:
    """Synthetic words of 1-4 syllables; which syllables depends on the seed (language)."""
    consonants = [*"bcdfghklmnprstvz", "ch", "sh", "th", "tr", "gr", "st"]
    vowels = [*"aeiou", "ai", "ou", "ie", "ea"]
    syllables = [c + v for c in consonants for v in vowels]
    words = set()
    while len(words) < size:
        n = int(rng.integers(1, 5))
        words.add("".join(syllables[i] for i in rng.integers(0, len(syllables), n)))
    return sorted(words, key=lambda w: (len(w), w))  # short words are the frequent ones


class Generator:
    """Articles in fetch-time order, with realistic text sizes and metadata."""

    def __init__(self, rows: int, days: int, seed: int = 7) -> None:
        self.rng = np.random.default_rng(seed)
        self.rows = rows
        self.days = days
        self.vocab = {lang: vocabulary(np.random.default_rng(i)) for i, lang in enumerate(LANGS)}
        ranks = np.arange(1, 30001)
        weights = 1.0 / ranks**1.07
        self.cdf = np.cumsum(weights / weights.sum())
        self.sources = [f"source{i:02d}" for i in range(40)]
        self.by_lang = {lang: self.sources[k :: len(LANGS)] for k, lang in enumerate(LANGS)}
        self.authors = [f"Author {i}" for i in range(500)]
        self.tags = [f"tag{i}" for i in range(60)]

    def words(self, n: int) -> np.ndarray:
        return np.searchsorted(self.cdf, self.rng.random(n))

    def batches(self):
        seconds = self.days * 86400
        offsets = np.sort(self.rng.integers(0, seconds, self.rows))
        for start in range(0, self.rows, BATCH):
            yield self._batch(start, offsets[start : start + BATCH])

    def _batch(self, start: int, offsets: np.ndarray) -> list[Article]:
        n = len(offsets)
        lengths = np.clip(self.rng.lognormal(np.log(550), 0.55, n), 80, 5000).astype(int)
        idx = self.words(int(lengths.sum()) + 8 * n).tolist()
        langs = self.rng.choice(len(LANGS), n, p=LANG_SHARE)
        out = []
        pos = 0
        for k in range(n):
            lang = LANGS[langs[k]]
            vocab = self.vocab[lang]
            title = " ".join(map(vocab.__getitem__, idx[pos : pos + 8])).capitalize()
            pos += 8
            body = idx[pos : pos + lengths[k]]
            pos += lengths[k]
            words = list(map(vocab.__getitem__, body))
            for p in range(90, len(words), 90):  # paragraphs
                words[p] = words[p] + ".\n"
            text = " ".join(words)
            if self.rng.random() < 0.005:
                text += f" The {RARE} struck at dawn."
            i = start + k
            if self.rng.random() < 0.8:  # most sources write one language
                source = self.by_lang[lang][int(self.rng.integers(0, 5))]
            else:
                source = self.sources[int(self.rng.integers(0, 40))]
            fetched = START + timedelta(seconds=int(offsets[k]))
            url = f"https://www.{source}.example/{fetched:%Y/%m/%d}/story-{i}"
            out.append(
                Article(
                    id=hashlib.sha256(url.encode()).hexdigest()[:16],
                    url=url,
                    canonical_url=url,
                    source=source,
                    site=f"www.{source}.example",
                    title=title,
                    text=text,
                    lang=lang,
                    lang_score=float(0.9 + self.rng.random() * 0.1),
                    fetched_at=fetched,
                    content_hash=hashlib.blake2b(text.encode(), digest_size=16).hexdigest(),
                    word_count=int(lengths[k]),
                    author=self.authors[i % 500],
                    published=fetched - timedelta(hours=int(self.rng.integers(0, 48))),
                    sitename=source.title(),
                    description=" ".join(words[:25]),
                    tags=[self.tags[i % 60], self.tags[(i * 7) % 60]],
                    image=f"https://img.{source}.example/{i}.jpg",
                    spin_score=float(self.rng.random() * 0.2),
                )
            )
        return out


def disk_bytes(root: Path) -> tuple[int, int]:
    files = list((root / "articles").rglob("*.parquet"))
    return len(files), sum(p.stat().st_size for p in files)


FORMS = ("date partition", "fetched_at range", "full scan")


def queries(days: int) -> list[tuple[str, list[str]]]:
    """(name, [SQL per form]): one time window, filtered three ways (see FORMS).

    The partition filter prunes files before they are opened; the `fetched_at` range
    opens every file but skips row groups by their min/max statistics (rows arrive
    in fetch order, so that is nearly as selective); the `strftime` form can use
    neither and reads everything.
    """
    day = START.date() + timedelta(days=days // 2)
    week_end = day + timedelta(days=6)

    def window(first, last) -> list[str]:
        end = last + timedelta(days=1)
        return [
            f"date BETWEEN DATE '{first}' AND DATE '{last}'",
            f"fetched_at >= TIMESTAMPTZ '{first} 00:00:00+00' "
            f"AND fetched_at < TIMESTAMPTZ '{end} 00:00:00+00'",
            f"strftime(fetched_at, '%Y-%m-%d') BETWEEN '{first}' AND '{last}'",
        ]

    out = []
    sql = "SELECT lang, count(*) AS n FROM articles WHERE {} GROUP BY lang ORDER BY n DESC"
    out.append(("count by language, one day", [sql.format(w) for w in window(day, day)]))
    sql = f"SELECT count(*) FROM articles WHERE {{}} AND text ILIKE '%{RARE.upper()}%'"
    out.append(("text ILIKE, one week", [sql.format(w) for w in window(day, week_end)]))
    sql = "SELECT source, count(*) AS n FROM articles WHERE {} GROUP BY source ORDER BY n DESC, source LIMIT 10"
    out.append(("top sources, one week", [sql.format(w) for w in window(day, week_end)]))
    return out


def timed(con, sql: str, repeat: int) -> tuple[float, object]:
    times = []
    result = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = con.execute(sql).fetchall()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def run_queries(root: Path, days: int, repeat: int) -> None:
    t0 = time.perf_counter()
    con = connect(root)
    print(f"  connect() (list files, define views): {time.perf_counter() - t0:.2f} s")
    con.execute("SET TimeZone = 'UTC'")
    print("  ms (files opened / row groups scanned)")
    print(f"  {'query':<28}" + "".join(f"{form:>24}" for form in FORMS))
    for name, forms in queries(days):
        cells = []
        results = []
        for sql in forms:
            took, result = timed(con, sql, repeat)
            stats = scan_stats(con, sql)
            results.append(result)
            cells.append(f"{took * 1000:.0f} ({stats.files}/{stats.row_groups})")
        assert all(r == results[0] for r in results), f"{name}: the forms disagree"
        print(f"  {name:<28}" + "".join(f"{c:>24}" for c in cells))
    sql = "SELECT source, count(*) AS n FROM articles GROUP BY source ORDER BY n DESC LIMIT 10"
    took, _ = timed(con, sql, repeat)
    stats = scan_stats(con, sql)
    cell = f"{took * 1000:.0f} ({stats.files}/{stats.row_groups})"
    print(f"  {'top sources, all time':<28}{'':>24}{'':>24}{cell:>24}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--flush-rows", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--dir", type=Path, default=None, help="warehouse directory (default: a temporary one)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the warehouse afterwards")
    args = parser.parse_args()

    root = args.dir or Path(tempfile.mkdtemp(prefix="winnow-bench-")) / "warehouse"
    if root.exists() and any(root.iterdir()):
        raise SystemExit(f"{root} is not empty")
    print(
        f"warehouse: {root}  rows: {args.rows:,}  days: {args.days}  flush every {args.flush_rows} rows"
    )
    gen = Generator(args.rows, args.days)
    writer = WarehouseWriter(root, "bench", max_rows=args.flush_rows, max_age=1e9)
    gen_s = write_s = 0.0
    text_bytes = 0
    t0 = time.perf_counter()
    batches = gen.batches()
    while True:
        t1 = time.perf_counter()
        batch = next(batches, None)
        t2 = time.perf_counter()
        gen_s += t2 - t1
        if batch is None:
            break
        text_bytes += sum(len(a.text.encode()) for a in batch)
        t3 = time.perf_counter()
        for article in batch:
            writer.add(article)
        write_s += time.perf_counter() - t3
    t4 = time.perf_counter()
    writer.close()
    write_s += time.perf_counter() - t4
    total = time.perf_counter() - t0
    print("\nwrite")
    print(f"  generation: {gen_s:.1f} s; writer (add + flush): {write_s:.1f} s")
    print(
        f"  throughput: {args.rows / write_s:,.0f} rows/s writer only, {args.rows / total:,.0f} rows/s with generation"
    )
    files, size = disk_bytes(root)
    print(f"  text: {text_bytes / args.rows:,.0f} bytes/article uncompressed (UTF-8)")
    print(
        f"  on disk: {files:,} files, {size / 1e6:,.0f} MB, {size / args.rows:,.0f} bytes/article"
    )

    print(f"\nqueries on the files as written ({files:,} files), median of {args.repeat}")
    run_queries(root, args.days, args.repeat)

    t0 = time.perf_counter()
    results = compact(root, grace=0)
    took = time.perf_counter() - t0
    files, size = disk_bytes(root)
    rows = sum(r.rows for r in results)
    print(f"\ncompact: {took:.1f} s ({rows / took:,.0f} rows/s), {len(results)} partitions")
    print(
        f"  on disk: {files:,} files, {size / 1e6:,.0f} MB, {size / args.rows:,.0f} bytes/article"
    )

    print(f"\nqueries after compaction ({files:,} files), median of {args.repeat}")
    run_queries(root, args.days, args.repeat)

    if not args.keep and args.dir is None:
        shutil.rmtree(root.parent)


if __name__ == "__main__":
    main()
