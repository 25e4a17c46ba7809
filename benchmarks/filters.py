"""Filter benchmark: what the language and quality filters reject on real pages, and their cost.

Runs `pipeline.clean.clean` over the trafilatura evaluation pages (990 real pages of
many kinds, nearly all of them genuine content) and prints how many pages each reason
rejects, then one line per rejected page so a person can judge whether it was a real
article. In the same run it prints the CPU time of the filters (language + quality
rules) against extraction alone, from the per-step laps clean() records in its Trace.

    .venv/bin/python benchmarks/filters.py [--limit N] [--data PATH] [--backend fasttext]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

from extraction import DEFAULT_DATA, load_pages, page_of, short

from pipeline.clean import Trace, clean
from pipeline.config import CleanConfig
from pipeline.record import Article

STEPS = ("decode", "extract", "strip", "language", "quality")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="trafilatura-eval.tgz")
    parser.add_argument("--limit", type=int, default=None, help="first N pages only")
    parser.add_argument("--backend", default="langdetect", help="language backend")
    args = parser.parse_args(argv)

    pages = load_pages(args.data, args.limit)
    config = CleanConfig(language_backend=args.backend)
    print(f"data: {args.data}  pages: {len(pages)}  language backend: {args.backend}")

    # Warm-up (untimed): langdetect profiles, trailer library, stop words.
    clean(page_of(pages[0]), config)

    cpu: dict[str, float] = defaultdict(float)
    clean_cpu = 0.0
    rejected = []
    reasons: Counter[str] = Counter()
    langs: Counter[str] = Counter()
    filtered = 0
    for n, item in enumerate(pages, 1):
        trace = Trace()
        start = time.process_time()
        record = clean(page_of(item), config, trace)
        clean_cpu += time.process_time() - start
        for step, seconds in trace.cpu.items():
            cpu[step] += seconds
        filtered += "quality" in trace.cpu
        verdict = "kept" if isinstance(record, Article) else record.reason
        reasons[verdict] += 1
        if isinstance(record, Article):
            langs[record.lang] += 1
        else:
            rejected.append((item, record))
        if n % 100 == 0:
            print(f"  ... {n} pages", file=sys.stderr, flush=True)

    count = len(pages)
    print()
    print(f"kept {reasons['kept']} of {count}; rejected {len(rejected)}")
    print("rejects by reason:")
    for reason, c in reasons.most_common():
        if reason != "kept":
            print(f"  {c:>4}  {reason}")
    print("kept articles by language: " + ", ".join(f"{k} {v}" for k, v in langs.most_common()))

    print()
    print("rejected pages (reason | file | url | detail | text):")
    for item, record in sorted(rejected, key=lambda p: (p[1].reason, p[0].file)):
        print(
            f"  {record.reason} | {item.file} | {item.url} | {record.detail} |"
            f" {short((record.text or '').replace(chr(10), ' ¶ '), 120)}"
        )

    print()
    filters = cpu["language"] + cpu["quality"]
    print(f"CPU ms per page, per step of clean() ({count} pages, filters ran on {filtered}):")
    for step in STEPS:
        print(f"  {step:<9} {1000 * cpu[step] / count:8.3f}")
    print(
        f"  {'clean()':<9} {1000 * clean_cpu / count:8.3f}  (the whole stage, fingerprints included)"
    )
    print(
        f"filters (language + quality) / extraction (parse + trafilatura): "
        f"{filters / cpu['extract']:.3f}  (target <= 0.15)"
    )
    print(f"  language alone / extraction: {cpu['language'] / cpu['extract']:.3f}")
    print(f"  quality alone / extraction:  {cpu['quality'] / cpu['extract']:.3f}")
    print(f"  with decode counted as extraction: {filters / (cpu['extract'] + cpu['decode']):.3f}")
    print(f"  trailer stripping / extraction: {cpu['strip'] / cpu['extract']:.3f}")


if __name__ == "__main__":
    main()
