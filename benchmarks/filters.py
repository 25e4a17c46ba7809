"""Filter benchmark: what the language and quality filters reject on real pages, and their cost.

Runs `pipeline.clean.clean` over the trafilatura evaluation pages (990 real pages of
many kinds, nearly all of them genuine content) and prints how many pages each reason
rejects, then one line per rejected page so a person can judge whether it was a real
article. In the same run it repeats clean()'s steps one by one, timed apart, and prints
the CPU time of the filters (language + quality rules) against extraction alone.

    .venv/bin/python benchmarks/filters.py [--limit N] [--data PATH] [--backend fasttext]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

from extraction import DEFAULT_DATA, EvalPage, load_pages, page_of, short

from pipeline.clean import CleanConfig, clean
from pipeline.decode import decode_html
from pipeline.extract import extract, parse_html
from pipeline.language import detect_language
from pipeline.quality import Doc, first_failure
from pipeline.record import Article
from pipeline.trailers import strip_trailers

STEPS = ("decode", "extract", "strip", "language", "quality")


def mirror(item: EvalPage, config: CleanConfig, cpu: dict[str, float]) -> str:
    """clean()'s steps on one page, each timed into `cpu`; returns the verdict's reason."""
    page = page_of(item)
    clock = time.process_time
    t0 = clock()
    html, _ = decode_html(page.body, page.headers.get("content-type", ""))
    t1 = clock()
    tree = parse_html(html)
    found = extract(tree, page.url) if tree is not None else None
    t2 = clock()
    cpu["decode"] += t1 - t0
    cpu["extract"] += t2 - t1
    if found is None:
        return "empty"
    lines = [line.strip() for line in found.text.splitlines() if line.strip()]
    if not lines:
        return "quality:js_shell" if found.js_shell else "empty"
    stripped = strip_trailers(lines, found.title, templates=config.templates)
    text = "\n".join(stripped.lines)
    t3 = clock()
    cpu["strip"] += t3 - t2
    if not text:
        return "quality:boilerplate_ratio"
    guess = detect_language(text, config.language_backend)
    t4 = clock()
    doc = Doc(
        text=text,
        lang=guess.lang,
        title=found.title or "",
        link_texts=found.link_texts,
        js_shell=found.js_shell,
        stripped_chars=sum(len(line) for line, why in stripped.removed if why != "title"),
    )
    failed = first_failure(doc, config.thresholds)
    t5 = clock()
    cpu["language"] += t4 - t3
    cpu["quality"] += t5 - t4
    cpu["filtered pages"] += 1
    if failed is not None:
        return f"quality:{failed.rule}"
    if not guess.lang or guess.score < config.lang_floor:
        return "language"
    if config.languages and guess.lang not in config.languages:
        return "language"
    return "kept"


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
    mirror(pages[0], config, defaultdict(float))

    cpu: dict[str, float] = defaultdict(float)
    clean_cpu = 0.0
    rejected = []
    reasons: Counter[str] = Counter()
    langs: Counter[str] = Counter()
    mismatches = []
    for n, item in enumerate(pages, 1):
        start = time.process_time()
        record = clean(page_of(item), config)
        clean_cpu += time.process_time() - start
        verdict = "kept" if isinstance(record, Article) else record.reason
        reasons[verdict] += 1
        if isinstance(record, Article):
            langs[record.lang] += 1
        else:
            rejected.append((item, record))
        mirrored = mirror(item, config, cpu)
        if mirrored != verdict:
            mismatches.append((item.file, verdict, mirrored))
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
    print(
        f"CPU ms per page, mirrored steps ({count} pages, filters ran on {cpu['filtered pages']:.0f}):"
    )
    for step in STEPS:
        print(f"  {step:<9} {1000 * cpu[step] / count:8.3f}")
    print(f"  {'clean()':<9} {1000 * clean_cpu / count:8.3f}  (the whole stage, timed separately)")
    print(
        f"filters (language + quality) / extraction (parse + trafilatura): "
        f"{filters / cpu['extract']:.3f}  (target <= 0.15)"
    )
    print(f"  language alone / extraction: {cpu['language'] / cpu['extract']:.3f}")
    print(f"  quality alone / extraction:  {cpu['quality'] / cpu['extract']:.3f}")
    print(f"  with decode counted as extraction: {filters / (cpu['extract'] + cpu['decode']):.3f}")
    print(f"  trailer stripping / extraction: {cpu['strip'] / cpu['extract']:.3f}")
    if mismatches:
        print(f"mirror disagrees with clean() on {len(mismatches)} pages (update mirror()):")
        for file, verdict, mirrored in mismatches[:10]:
            print(f"  {file}: clean {verdict}, mirror {mirrored}")
    else:
        print("mirror agrees with clean() on every page")


if __name__ == "__main__":
    main()
