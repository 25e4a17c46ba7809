"""Duplicate detection: MinHash library choice, throughput and memory, detection rates.

Prints, measured in one run on generated English-like articles (stop words at their
usual rate between Zipf-distributed content words, 400 words each):

  (a) the near-duplicate path over N articles (default 100,000; one in ten a copy of
      an earlier one with a new lede and trailer): signatures (word 5-gram MinHash
      plus the stop-word skeleton) per second, index lookups + inserts per second,
      both together, the index's bytes per article and the process's RSS growth, and
      the time and size of writing the index as a Parquet segment;
  (b) MinHash signatures/s of rensa and datasketch on the same shingles (the choice);
  (c) the detection rate (share of pairs rejected as `near_duplicate` of the right
      article) at true Jaccard similarity 0.5 / 0.7 / 0.8 / 0.9 of word 5-gram sets,
      exact similarity computed per pair, with the mean estimated similarity.

    .venv/bin/python benchmarks/duplicates.py              # N = 100,000
    .venv/bin/python benchmarks/duplicates.py -n 20000 --pairs 200
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline import fingerprints as fp  # noqa: E402
from pipeline.duplicates import DuplicateIndex  # noqa: E402
from pipeline.quality import stopwords  # noqa: E402
from pipeline.record import Article, Reject, record_id  # noqa: E402
from tests.factories import DAY  # noqa: E402

WORDS = 400


class Generator:
    """Articles of English stop words and synthetic content words, reproducibly."""

    def __init__(self, seed: int = 1, vocab: int = 60_000) -> None:
        self.rng = np.random.default_rng(seed)
        self.stop = np.array(sorted(stopwords()["en"]))
        self.content = np.array([f"k{i:05d}" for i in range(vocab)])
        ranks = np.arange(1, len(self.stop) + 1)
        self.p_stop = (1 / ranks) / (1 / ranks).sum()
        ranks = np.arange(1, vocab + 1)
        self.p_content = (1 / ranks**0.9) / (1 / ranks**0.9).sum()

    def words(self, n: int) -> list[str]:
        is_stop = self.rng.random(n) < 0.45
        out = self.content[self.rng.choice(len(self.content), n, p=self.p_content)]
        out[is_stop] = self.stop[self.rng.choice(len(self.stop), is_stop.sum(), p=self.p_stop)]
        return out.tolist()


def article(n: int, words: list[str]) -> Article:
    url = f"http://site{n % 500}.example/{n}"
    text = " ".join(words)
    return Article(
        id=record_id(url),
        url=url,
        canonical_url=url,
        source=f"site{n % 500}",
        site=f"site{n % 500}.example",
        title="",
        text=text,
        lang="en",
        lang_score=1.0,
        fetched_at=DAY,
        content_hash=fp.content_hash(text),
        word_count=len(words),
    )


def bench_libraries(gen: Generator, docs: int = 2000) -> None:
    import datasketch
    from rensa import RMinHash

    shingles = [fp.shingles(gen.words(WORDS)) for _ in range(docs)]
    t = time.perf_counter()
    for s in shingles:
        m = RMinHash(num_perm=fp.MINHASH_PERM, seed=1)
        m.update(s)
        m.digest()
    rensa = docs / (time.perf_counter() - t)
    t = time.perf_counter()
    for s in shingles[: docs // 4]:
        m = datasketch.MinHash(num_perm=fp.MINHASH_PERM, seed=1)
        m.update_batch([x.encode() for x in s])
        m.digest()
    sketch = (docs // 4) / (time.perf_counter() - t)
    print(f"(b) MinHash, {fp.MINHASH_PERM} permutations, {WORDS}-word documents (shingles given):")
    print(f"    rensa       {rensa:>9,.0f} signatures/s")
    print(f"    datasketch  {sketch:>9,.0f} signatures/s   -> rensa, {rensa / sketch:.0f}x faster")


#: Articles decided together, as the crawl's duplicate hold sends them (1,000 by default).
HOLD = 1000


def bench_index(gen: Generator, n: int) -> None:
    index = DuplicateIndex()
    sign = 0.0
    items: list = []
    bodies: list[list[str]] = []
    for i in range(n):
        if i % 10 == 9 and bodies:  # a syndicated copy: new lede, new trailer
            base = bodies[int(gen.rng.integers(len(bodies)))]
            words = gen.words(40) + base[40:-25] + gen.words(25)
        else:
            words = gen.words(WORDS)
            if len(bodies) < 500:
                bodies.append(words)
        item = article(i, words)
        t0 = time.perf_counter()
        words = fp.text_words(item.text)
        item.minhash = fp.minhash(fp.shingles(words))
        item.skeleton_hash = fp.skeleton_signature(item.text, item.lang, words)
        sign += time.perf_counter() - t0
        items.append(item)
    # as a crawl decides them: in batches of the duplicate hold (WINNOW_DUPLICATE_HOLD)
    outcomes: dict[str, int] = {}
    gc.collect()
    rss0 = psutil.Process().memory_info().rss  # the index's growth, not the articles'
    t0 = time.perf_counter()
    for start in range(0, n, HOLD):
        for verdict in index.decide(items[start : start + HOLD]):
            reason = verdict.reason if isinstance(verdict, Reject) else "kept"
            outcomes[reason] = outcomes.get(reason, 0) + 1
    decide = time.perf_counter() - t0
    index.near.merge()
    index.spun.merge()
    index.urls.merge()
    index.contents.merge()
    rss = psutil.Process().memory_info().rss - rss0
    one = DuplicateIndex()
    sample = items[: min(n, 10_000)]
    t0 = time.perf_counter()
    for item in sample:
        one.check(item)
    single = time.perf_counter() - t0
    print(f"(a) near-duplicate path over {n:,} articles of {WORDS} words:")
    print(f"    signatures (5-gram MinHash + skeleton)  {n / sign:>8,.0f} docs/s")
    print(f"    index lookup + insert, {HOLD:,} a batch   {n / decide:>8,.0f} docs/s")
    print(f"    signature + lookup                      {n / (sign + decide):>8,.0f} docs/s")
    print(
        f"    (one at a time, `check`, first {len(sample):,}: {len(sample) / single:,.0f} docs/s)"
    )
    print(f"    outcomes: {', '.join(f'{k} {v:,}' for k, v in sorted(outcomes.items()))}")
    kept = len(index)
    print(
        f"    index memory: {index.nbytes() / 1e6:.1f} MB for {kept:,} kept articles "
        f"({index.nbytes() / kept:.0f} bytes each); process RSS grew {rss / 1e6:.0f} MB"
    )
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        path = index.save(tmp, "bench")
        took = time.perf_counter() - t
        size = os.path.getsize(path)
        t = time.perf_counter()
        index._read_segments(__import__("warehouse.storage").storage.open_root(tmp))
        read = time.perf_counter() - t
    print(
        f"    persisted segment: {size / 1e6:.1f} MB, written in {took:.2f}s, read in {read:.2f}s"
    )


def _exact_jaccard(a: list[str], b: list[str]) -> float:
    x, y = set(fp.shingles(a)), set(fp.shingles(b))
    return len(x & y) / len(x | y)


def bench_detection(gen: Generator, pairs: int) -> None:
    print(f"(c) detection at true Jaccard similarity of word 5-grams ({pairs} pairs each):")
    print("    target   true (mean)  detected  mean estimate")
    for target in (0.5, 0.7, 0.8, 0.9):
        # Replacing a share p of words keeps about (1-p)^5 of the 5-grams.
        keep = (2 * target / (1 + target)) ** (1 / fp.SHINGLE_WORDS)
        index = DuplicateIndex()
        made: list[tuple[Article, list[str], float]] = []
        n = 0
        while len(made) < pairs:
            base = gen.words(WORDS)
            copy = [w if gen.rng.random() < keep else f"x{gen.rng.integers(1 << 40)}" for w in base]
            true = _exact_jaccard(base, copy)
            if abs(true - target) > 0.025:
                continue
            original = article(n, base)
            fp.add_fingerprints(original)
            index.add(original)
            made.append((original, copy, true))
            n += 1
        hits, estimates = 0, []
        for original, copy, _true in made:
            item = article(n, copy)
            n += 1
            fp.add_fingerprints(item)
            verdict = index.lookup(item)
            estimates.append(fp.similarity(original.minhash, item.minhash))
            if (
                isinstance(verdict, Reject)
                and verdict.reason == "near_duplicate"
                and verdict.duplicate_of == original.id
            ):
                hits += 1
        true_mean = np.mean([t for _, _, t in made])
        print(
            f"    {target:.1f}      {true_mean:.3f}        {hits / pairs:6.1%}    "
            f"{np.mean(estimates):.3f}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--articles", type=int, default=100_000)
    parser.add_argument("--pairs", type=int, default=400)
    args = parser.parse_args()
    gen = Generator()
    bench_index(gen, args.articles)  # first, so the RSS growth is the index's own
    bench_libraries(gen)
    bench_detection(gen, args.pairs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
