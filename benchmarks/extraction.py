"""Extraction benchmark: bare trafilatura against winnow's cleaning stage on real pages.

Runs, over the same pages and in one process, `trafilatura.extract` with default
settings, `trafilatura.extract(favor_precision=True)` and `pipeline.clean.clean`, and
scores each the way trafilatura's own evaluation does: every "with" segment found in
the output is a true positive (else a false negative), every "without" segment found
is a false positive (else a true negative). winnow is scored twice: on what a user gets
(a Reject outputs nothing) and on the stripped text whatever the verdict ("extraction
only"), so trailer stripping is judged apart from the filters.

The data is read from the tarball at run time and never copied into the repository:

    .venv/bin/python benchmarks/extraction.py [--limit N] [--data PATH]
"""

from __future__ import annotations

import argparse
import json
import sys
import tarfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import trafilatura

from pipeline.clean import Trace, clean
from pipeline.config import CleanConfig
from pipeline.page import Page
from pipeline.record import Article, Record
from pipeline.trailers import strip_trailers

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared/devdata/trafilatura-eval.tgz"
#: Where trafilatura's evaluation looks for a page: the cache first, then the eval folder.
PAGE_FOLDERS = ("tests/cache/", "tests/eval/")
HEADERS = {"content-type": "text/html"}
TOP = 20


@dataclass(frozen=True, slots=True)
class EvalPage:
    """One page of the evaluation set with the segments it must and must not yield."""

    url: str
    file: str
    body: bytes
    with_: tuple[str, ...]
    without: tuple[str, ...]


def load_pages(data: Path, limit: int | None = None) -> list[EvalPage]:
    """The evaluation pages, in evaldata.json order, read straight from the tarball."""
    with tarfile.open(data) as tar:
        members = {m.name: m for m in tar.getmembers() if m.isfile()}
        index = json.load(tar.extractfile(members["tests/evaldata.json"]))
        pages = []
        for url, item in index.items():
            if limit is not None and len(pages) >= limit:
                break
            member = next(
                (members[f + item["file"]] for f in PAGE_FOLDERS if f + item["file"] in members),
                None,
            )
            if member is None:
                print(f"missing from the tarball: {item['file']}", file=sys.stderr)
                continue
            pages.append(
                EvalPage(
                    url=url,
                    file=item["file"],
                    body=tar.extractfile(member).read(),
                    with_=tuple(item["with"]),
                    without=tuple(item["without"]),
                )
            )
    return pages


def page_of(item: EvalPage) -> Page:
    """The eval page as winnow's cleaning stage receives it from a spider."""
    return Page(url=item.url, body=item.body, headers=HEADERS)


@dataclass
class Score:
    """Segment counts of one system over the pages, as in trafilatura's evaluation."""

    tp: int = 0
    fn: int = 0
    fp: int = 0
    tn: int = 0

    def add(self, item: EvalPage, output: str) -> None:
        for segment in item.with_:
            if segment in output:
                self.tp += 1
            else:
                self.fn += 1
        for segment in item.without:
            if segment in output:
                self.fp += 1
            else:
                self.tn += 1

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def accuracy(self) -> float:
        total = self.tp + self.fn + self.fp + self.tn
        return (self.tp + self.tn) / total if total else 0.0


def extraction_only(item: EvalPage, record: Record, config: CleanConfig) -> tuple[str, Trace]:
    """The stripped text whatever the verdict, by re-running clean() with a trace (untimed)."""
    trace = Trace()
    again = clean(page_of(item), config, trace)
    if isinstance(again, Article):
        return again.text, trace
    lines = [line.strip() for line in trace.extracted.splitlines() if line.strip()]
    if not lines:
        return "", trace
    title = record.title if not isinstance(record, Article) else None
    stripped = strip_trailers(lines, title, templates=config.templates)
    return "\n".join(stripped.lines), trace


def timed(fn: Callable[[], object]) -> tuple[object, float]:
    start = time.process_time()
    result = fn()
    return result, time.process_time() - start


def systems(item: EvalPage, config: CleanConfig) -> Iterator[tuple[str, Callable[[], object]]]:
    yield "default", lambda: trafilatura.extract(item.body, url=item.url)
    yield (
        "precision",
        lambda: trafilatura.extract(item.body, url=item.url, favor_precision=True),
    )
    yield "winnow", lambda: clean(page_of(item), config)


def cause_of_loss(segment: str, record: Record, trace: Trace) -> str:
    """Why winnow's output lacks a segment: the reject, the strip rule, or the extractor."""
    rejected = "" if isinstance(record, Article) else f"rejected {record.reason}; "
    if segment not in trace.extracted:
        return rejected + "not extracted by winnow's trafilatura call"
    for line, why in trace.removed:
        if segment in line or (len(line) > 20 and line in segment):
            return f"{rejected}stripped by {why or 'blank'}"
    if rejected:
        return rejected.removesuffix("; ")
    return "in extraction, lost across stripped lines"


def short(text: str, width: int = 90) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="trafilatura-eval.tgz")
    parser.add_argument("--limit", type=int, default=None, help="first N pages only")
    args = parser.parse_args(argv)

    pages = load_pages(args.data, args.limit)
    config = CleanConfig()
    print(f"data: {args.data}  pages: {len(pages)}  trafilatura {trafilatura.__version__}")

    # Warm-up (untimed): lazy imports, langdetect profiles, trailer library, caches.
    for _, fn in systems(pages[0], config):
        fn()

    scores = {name: Score() for name in ("default", "precision", "winnow", "winnow_extraction")}
    cpu: dict[str, float] = defaultdict(float)
    reasons: Counter[str] = Counter()
    outputs: dict[str, dict[str, str]] = defaultdict(dict)
    records: dict[str, Record] = {}
    traces: dict[str, Trace] = {}
    for n, item in enumerate(pages, 1):
        for name, fn in systems(item, config):
            result, seconds = timed(fn)
            cpu[name] += seconds
            if name == "winnow":
                records[item.file] = result
                reasons["kept" if isinstance(result, Article) else result.reason] += 1
                text = result.text if isinstance(result, Article) else ""
                outputs["winnow_extraction"][item.file], traces[item.file] = extraction_only(
                    item, result, config
                )
            else:
                text = result or ""
            outputs[name][item.file] = text
        for name, score in scores.items():
            score.add(item, outputs[name][item.file])
        if n % 100 == 0:
            print(f"  ... {n} pages", file=sys.stderr, flush=True)

    count = len(pages)
    rows = [
        ("trafilatura default", "default", "default"),
        ("trafilatura favor_precision", "precision", "precision"),
        ("winnow clean() output", "winnow", "winnow"),
        ("winnow extraction only", "winnow_extraction", "winnow"),
    ]
    print()
    print(
        f"{'system':<30} {'precision':>9} {'recall':>7} {'F1':>7} {'accuracy':>8}"
        f" {'tp':>5} {'fn':>5} {'fp':>5} {'tn':>5} {'CPU ms/page':>11}"
    )
    for label, key, timing in rows:
        s = scores[key]
        print(
            f"{label:<30} {s.precision:>9.4f} {s.recall:>7.4f} {s.f1:>7.4f} {s.accuracy:>8.4f}"
            f" {s.tp:>5} {s.fn:>5} {s.fp:>5} {s.tn:>5} {1000 * cpu[timing] / count:>11.2f}"
        )
    print("(winnow extraction only = the stripped text whatever the verdict; same timed run)")
    ratio = cpu["winnow"] / cpu["default"]
    print()
    print(f"CPU ratio winnow clean() / trafilatura default: {ratio:.3f}  (target <= 1.25)")
    print(
        f"CPU ratio winnow clean() / trafilatura favor_precision: {cpu['winnow'] / cpu['precision']:.3f}"
    )
    best_name = max(("default", "precision"), key=lambda k: scores[k].f1)
    best = scores[best_name]
    default = scores["default"]
    # Like for like: trafilatura.extract never rejects a page, so the stripped text is
    # compared first; then what a user gets, where a Reject outputs nothing.
    for label, key in (
        ("extraction only", "winnow_extraction"),
        ("clean() output", "winnow"),
    ):
        win = scores[key]
        print(
            f"winnow {label}: F1 - trafilatura best ({best_name}) {win.f1 - best.f1:+.4f}"
            f" (target >= +0.02); recall - trafilatura default {win.recall - default.recall:+.4f}"
            " (target >= -0.005)"
        )
    print(
        f"winnow verdicts: kept {reasons['kept']}, rejected {count - reasons['kept']}: "
        + ", ".join(f"{r} {c}" for r, c in reasons.most_common() if r != "kept")
    )

    # Boilerplate left in: "without" segments in winnow's stripped text (any verdict).
    left: dict[str, list[str]] = defaultdict(list)
    for item in pages:
        for segment in item.without:
            if segment in outputs["winnow_extraction"][item.file]:
                left[segment].append(item.file)
    total_left = sum(len(v) for v in left.values())
    print()
    print(
        f"'without' segments still in winnow's stripped text: {total_left} on"
        f" {len({f for v in left.values() for f in v})} pages; top {TOP}"
        " (p = also left by favor_precision, R = page rejected anyway):"
    )
    ranked = sorted(left.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:TOP]
    for segment, files in ranked:
        marks = []
        for f in files[:4]:
            mark = "p" if segment in outputs["precision"][f] else ""
            mark += "R" if not isinstance(records[f], Article) else ""
            marks.append(f"{f}{'[' + mark + ']' if mark else ''}")
        more = f" +{len(files) - 4} more" if len(files) > 4 else ""
        print(f"  {len(files):>3}  {short(segment, 60)!r:<64} {', '.join(marks)}{more}")

    # Article text lost: "with" segments trafilatura default keeps and winnow's output lacks.
    lost: dict[str, list[str]] = defaultdict(list)
    causes: Counter[str] = Counter()
    for item in pages:
        for segment in item.with_:
            if (
                segment in outputs["default"][item.file]
                and segment not in outputs["winnow"][item.file]
            ):
                lost[segment].append(item.file)
                cause = cause_of_loss(segment, records[item.file], traces[item.file])
                causes[cause.split(";")[0] if cause.startswith("rejected") else cause] += 1
    total_lost = sum(len(v) for v in lost.values())
    print()
    print(
        f"'with' segments trafilatura default keeps and winnow's output loses: {total_lost} on"
        f" {len({f for v in lost.values() for f in v})} pages; by cause:"
    )
    for cause, c in causes.most_common():
        print(f"  {c:>4}  {cause}")
    print(f"top {TOP} (stripping losses first, then extraction, then rejects):")

    def rank(kv: tuple[str, list[str]]) -> tuple[int, int, str]:
        segment, files = kv
        cause = cause_of_loss(segment, records[files[0]], traces[files[0]])
        order = 0 if cause.startswith("stripped") or cause.startswith("in extraction") else 1
        order = 2 if cause.startswith("rejected") else order
        return (-len(files), order, files[0])

    for segment, files in sorted(lost.items(), key=rank)[:TOP]:
        f = files[0]
        cause = cause_of_loss(segment, records[f], traces[f])
        more = f" +{len(files) - 1} more" if len(files) > 1 else ""
        print(f"  {len(files):>3}  {short(segment, 60)!r:<64} {f}{more}  <- {cause}")


if __name__ == "__main__":
    main()
