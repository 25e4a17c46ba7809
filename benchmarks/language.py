"""Language benchmark: accuracy, speed and determinism of the language backends.

Texts come from the repository's own pages: the 15-language trailer test pages
(tests/trailer_pages/<lang>.json, their "paragraphs") and the kept articles of the
junk corpus (tests/corpus, extracted with pipeline.extract). From them it builds three
lengths per language: single sentences, single paragraphs, and whole articles (all the
language's paragraphs, cut into ~500-word texts where there is enough of them). For
each backend it prints accuracy per length and docs per CPU second (process time, so
a busy machine skews it less), then checks that two separate worker processes give
identical answers for every text.

    .venv/bin/python benchmarks/language.py [--repeat N] [--backends langdetect,fasttext]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import re
import time
import tomllib
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from pipeline.decode import decode_html
from pipeline.extract import extract, parse_html
from pipeline.language import backend, detect_language
from pipeline.quality import count_words

REPO = Path(__file__).resolve().parents[1]
TRAILER_PAGES = REPO / "tests/trailer_pages"
CORPUS = REPO / "tests/corpus"
LENGTHS = ("sentence", "paragraph", "article")
ARTICLE_WORDS = 500
#: Texts per language and length at most (articles: as many ~500-word texts as there is text for).
PER_LANG = 10
_SENTENCE_END = re.compile(r"(?<=[.!?؟۔])\s+|(?<=[。！？])")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]")


@dataclass(frozen=True, slots=True)
class Sample:
    lang: str
    length: str
    text: str


def _corpus_documents() -> dict[str, list[list[str]]]:
    """The lines of each corpus page expected to be kept, by language, extracted the winnow way."""
    expected = tomllib.loads((CORPUS / "expected.toml").read_text("utf-8"))["page"]
    found: dict[str, list[list[str]]] = defaultdict(list)
    for entry in expected:
        if entry["expect"] != "keep":
            continue
        html, _ = decode_html((CORPUS / entry["file"]).read_bytes(), "text/html")
        tree = parse_html(html)
        if tree is None:
            continue
        text = extract(tree, f"https://corpus.example/{entry['file']}").text
        found[entry["lang"]].append([line.strip() for line in text.splitlines() if line.strip()])
    return found


def _articles(documents: list[list[str]]) -> list[str]:
    """~500-word texts: long documents cut at paragraph breaks, short ones joined to the next.

    A document's remainder of at least 4/5 of the target stands alone (it is a whole
    article or a whole article's end); a shorter one runs on into the next document.
    """
    articles: list[list[str]] = []
    current: list[str] = []
    for lines in documents:
        for line in lines:
            current.append(line)
            if count_words("\n".join(current)) >= ARTICLE_WORDS:
                articles.append(current)
                current = []
        if current and count_words("\n".join(current)) >= ARTICLE_WORDS * 4 // 5:
            articles.append(current)
            current = []
    if current and articles:
        articles[-1] += current
    elif current:
        articles.append(current)
    return ["\n".join(lines) for lines in articles]


def _is_paragraph(line: str) -> bool:
    cjk = len(_CJK.findall(line))
    return cjk >= 60 if cjk else len(line.split()) >= 25


def _is_sentence(text: str) -> bool:
    cjk = len(_CJK.findall(text))
    return cjk >= 12 if cjk else len(text.split()) >= 6


def _spread(items: list[str], n: int) -> list[str]:
    """n items evenly spread over the list (all of them when there are fewer)."""
    if len(items) <= n:
        return items
    return [items[int(k * len(items) / n)] for k in range(n)]


def build_samples() -> tuple[list[Sample], dict[str, list[int]]]:
    """The texts to judge, and the word counts of each language's article texts."""
    corpus = _corpus_documents()
    samples: list[Sample] = []
    article_words: dict[str, list[int]] = {}
    for path in sorted(TRAILER_PAGES.glob("*.json")):
        page = json.loads(path.read_text("utf-8"))
        lang = page["lang"]
        documents = [[p.strip() for p in page["paragraphs"] if p.strip()], *corpus.get(lang, [])]
        lines = [line for document in documents for line in document]
        paragraphs = [line for line in lines if _is_paragraph(line)]
        sentences = [
            s.strip() for p in paragraphs for s in _SENTENCE_END.split(p) if _is_sentence(s)
        ]
        samples += [Sample(lang, "sentence", s) for s in _spread(sentences, PER_LANG)]
        samples += [Sample(lang, "paragraph", p) for p in _spread(paragraphs, PER_LANG)]
        articles = _articles(documents)[:PER_LANG]
        article_words[lang] = [count_words(a) for a in articles]
        samples += [Sample(lang, "article", a) for a in articles]
    return samples, article_words


def answers(samples: list[Sample], backends: list[str]) -> dict[str, list[tuple[str, float]]]:
    """Every backend's (language, score) for every text, in order."""
    return {
        name: [
            (guess.lang, guess.score) for guess in (detect_language(s.text, name) for s in samples)
        ]
        for name in backends
    }


def _worker(samples: list[Sample], backends: list[str], queue: multiprocessing.Queue) -> None:
    queue.put((os.getpid(), answers(samples, backends)))


def in_workers(samples: list[Sample], backends: list[str], workers: int = 2) -> list[tuple]:
    """The answers of `workers` fresh (spawned) processes, each judging every text."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(samples, backends, queue)) for _ in range(workers)]
    for proc in procs:
        proc.start()
    results = [queue.get() for _ in procs]
    for proc in procs:
        proc.join()
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="timing passes over the texts")
    parser.add_argument("--backends", default="langdetect,fasttext")
    args = parser.parse_args(argv)
    backends = args.backends.split(",")

    samples, article_words = build_samples()
    langs = sorted({s.lang for s in samples})
    print(f"languages ({len(langs)}): {' '.join(langs)}")
    for length in LENGTHS:
        texts = [s for s in samples if s.length == length]
        words = sorted(count_words(s.text) for s in texts)
        print(
            f"  {length:<9} {len(texts):>4} texts, words min/median/max"
            f" {words[0]}/{words[len(words) // 2]}/{words[-1]}"
        )
    print(
        "  article words per language: "
        + ", ".join(f"{k} {'/'.join(map(str, v))}" for k, v in sorted(article_words.items()))
    )

    main_answers: dict[str, list[tuple[str, float]]] = {}
    print()
    print(
        f"{'backend':<11} {'length':<10} {'accuracy':>8} {'right':>7} {'docs/CPU-s':>10}"
        f"  wrong (expected->got)"
    )
    for name in backends:
        start = time.perf_counter()
        backend(name)
        init = time.perf_counter() - start
        main_answers[name] = answers(samples, [name])[name]
        for length in LENGTHS:
            idx = [i for i, s in enumerate(samples) if s.length == length]
            right = sum(main_answers[name][i][0] == samples[i].lang for i in idx)
            wrong = Counter(
                f"{samples[i].lang}->{main_answers[name][i][0] or '?'}"
                for i in idx
                if main_answers[name][i][0] != samples[i].lang
            )
            texts = [samples[i].text for i in idx]
            start = time.process_time()
            for _ in range(args.repeat):
                for text in texts:
                    detect_language(text, name)
            rate = len(texts) * args.repeat / (time.process_time() - start)
            print(
                f"{name:<11} {length:<10} {right / len(idx):>8.3f} {right:>3}/{len(idx):<3}"
                f" {rate:>10.0f}  {', '.join(f'{k} x{v}' for k, v in wrong.most_common()) or '-'}"
            )
        total = sum(a[0] == s.lang for a, s in zip(main_answers[name], samples, strict=True))
        print(
            f"{name:<11} {'all':<10} {total / len(samples):>8.3f} {total:>3}/{len(samples):<3}"
            f" (backend load {1000 * init:.0f} ms, not in docs/CPU-s)"
        )

    print()
    results = in_workers(samples, backends)
    pids = [pid for pid, _ in results]
    print(f"determinism: the same {len(samples)} texts in 2 spawned worker processes {pids}")
    same_all = True
    for name in backends:
        runs = [result[name] for _, result in results]
        between = runs[0] == runs[1]
        with_main = runs[0] == main_answers[name]
        differ = sum(a != b for a, b in zip(runs[0], runs[1], strict=True))
        same_all &= between and with_main
        print(
            f"  {name:<11} workers identical: {'yes' if between else f'no ({differ} differ)'};"
            f" same as this process: {'yes' if with_main else 'no'}"
        )
    print(f"deterministic: {'yes' if same_all else 'no'}")


if __name__ == "__main__":
    main()
