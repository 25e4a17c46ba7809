"""The `winnow` command line."""

from __future__ import annotations

import argparse
import faulthandler
import json
import os
import signal
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path


def default_warehouse() -> str:
    return os.environ.get("WINNOW_WAREHOUSE", "data")


def _add_warehouse(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--warehouse",
        default=default_warehouse(),
        help="warehouse root: a directory or s3://bucket/prefix (default: ./data or $WINNOW_WAREHOUSE)",
    )


def cmd_demo(args: argparse.Namespace) -> int:
    from winnow.demo.run import run_demo

    text, stats = run_demo(Path(args.warehouse), log_level="DEBUG" if args.verbose else "WARNING")
    print(text)
    return _crawl_exit(stats)


def cmd_crawl(args: argparse.Namespace) -> int:
    from settings.sources import SourceError
    from warehouse.writer import WarehouseError
    from winnow.crawl import run_crawl
    from winnow.report import report

    try:
        stats = run_crawl(
            sources=args.sources,
            urls=args.url,
            warehouse=args.warehouse,
            sources_file=args.sources_file,
            allow_private=args.allow_private or None,
            refresh=args.refresh or None,
            log_level=args.log_level,
            run_id=args.run_id,
            extra={"JOBDIR": args.jobdir} if args.jobdir else None,
        )
    except (SourceError, WarehouseError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if stats.get("winnow/warehouse_error"):
        print(f"error: the crawl stopped: {stats['winnow/warehouse_error']}", file=sys.stderr)
        return 1
    if "finish_reason" not in stats:  # the spider never closed: a forced shutdown
        print(
            "error: the crawl was stopped at once (a second Ctrl-C or SIGTERM): no `runs` row "
            "was written, and articles it held for the duplicate check were not; the next "
            "crawl fetches them",
            file=sys.stderr,
        )
        return 1
    print(report(args.warehouse, stats["run_id"]))
    return _crawl_exit(stats)


def _crawl_exit(stats: dict) -> int:
    """The exit status of a crawl that wrote its report: 1 if its run is not `ok`."""
    if stats.get("winnow/cleaning_error"):
        print(f"error: the crawl stopped: {stats['winnow/cleaning_error']}", file=sys.stderr)
    return 0 if stats.get("winnow/run_status", "ok") == "ok" else 1


def _page_from_file(name: str, url: str | None):
    from pipeline.page import Page

    if name == "-":
        body = sys.stdin.buffer.read()
        default_url = "stdin:///"
    else:
        body = Path(name).read_bytes()
        default_url = Path(name).resolve().as_uri()
    return Page(
        url=url or default_url,
        body=body,
        headers={"content-type": "text/html"},
        fetched_at=datetime.now(UTC),
    )


def _explain(name: str, record, trace) -> str:
    out = [
        f"== {name}",
        f"url: {record.url}",
        f"verdict: {'kept' if record.kept else 'rejected: ' + record.reason}",
    ]
    if not record.kept:
        out.append(f"detail: {record.detail}")
    out.append(f"encoding: {trace.encoding}")
    if trace.body_from == "json-ld":
        out.append("body: the page's JSON-LD articleBody (the markup held much less text)")
    elif trace.body_from != "markup":
        out.append(f"body: {trace.body_from} (the first extraction made no article)")
    if trace.guess is not None:
        out.append(
            f"language: {trace.guess.lang or '?'} ({trace.guess.score:.3f}) {trace.guess.detail}"
        )
    out.append("stripped lines:")
    out += [f"  - {line!r}  <- {why}" for line, why in trace.removed if why] or ["  (none)"]
    out.append("quality rules (value vs threshold):")
    for check in trace.checks:
        value = "n/a" if check.value is None else f"{check.value:.3f}"
        op = ">=" if check.minimum else "<="
        out.append(
            f"  {'FAIL' if check.failed else 'ok  '} quality:{check.rule:<18} {value:>9}  (must be {op} {check.threshold:g})"
        )
    out.append("text:")
    out.append(record.text or "")
    return "\n".join(out)


def cmd_extract(args: argparse.Namespace) -> int:
    from pipeline.clean import Trace, clean
    from pipeline.config import CleanConfig

    config = CleanConfig(
        languages=tuple(args.languages or ()), language_backend=args.language_backend
    )
    unread = 0
    for name in args.files:
        try:
            page = _page_from_file(name, args.url)
        except OSError as exc:
            print(json.dumps({"file": name, "error": str(exc)}), file=sys.stderr)
            unread += 1
            continue
        trace = Trace()
        record = clean(page, config, trace)
        if args.explain:
            print(_explain(name, record, trace))
            continue
        out = {
            "file": name,
            "url": record.url,
            "kept": record.kept,
            "reason": None if record.kept else record.reason,
            "detail": None if record.kept else record.detail,
            "title": record.title,
            "text": record.text,
            "lang": record.lang,
            "lang_score": record.lang_score,
        }
        if record.kept:
            out.update(
                author=record.author,
                published=record.published,
                sitename=record.sitename,
                canonical_url=record.canonical_url,
                tags=record.tags,
                word_count=record.word_count,
            )
        print(json.dumps(out, ensure_ascii=False, default=str))
    return 1 if unread else 0


def cmd_query(args: argparse.Namespace) -> int:
    from warehouse.query import connect
    from warehouse.readonly import check_read_only, seal
    from warehouse.storage import open_root

    if not args.sql.strip():
        print("query failed: no SQL given", file=sys.stderr)
        return 2
    root = open_root(args.warehouse, create=False)  # a query never creates the warehouse
    con = connect(root)
    try:
        check_read_only(args.sql)
        seal(con, root)
        rel = con.sql(args.sql)
    except Exception as exc:  # duckdb raises many error types; all are the user's SQL
        print(f"query failed: {exc}", file=sys.stderr)
        return 2
    if rel is None:
        return 0
    fmt = args.format
    if fmt == "table":
        text = _render_table(rel)
        if args.output:
            Path(args.output).write_text(text + "\n")
        else:
            print(text)
    elif fmt == "csv":
        import io

        import pyarrow.csv as pacsv

        out = io.BytesIO()  # written whole or not at all: no empty file on an error
        pacsv.write_csv(_flat(rel).fetch_arrow_table(), out)
        if args.output:
            Path(args.output).write_bytes(out.getvalue())
        else:
            sys.stdout.buffer.write(out.getvalue())
    elif fmt == "json":
        cols = rel.columns
        lines = [
            json.dumps(dict(zip(cols, row, strict=True)), ensure_ascii=False, default=str)
            for row in rel.fetchall()
        ]
        text = "\n".join(lines)
        if args.output:
            Path(args.output).write_text(text + "\n")
        else:
            print(text)
    elif fmt == "parquet":
        if not args.output:
            print("--format parquet needs --output FILE", file=sys.stderr)
            return 2
        import pyarrow.parquet as pq

        pq.write_table(rel.fetch_arrow_table(), args.output, compression="zstd")
    return 0


def _flat(rel):
    """The relation with its list, struct and map columns as text, as CSV holds them
    (`winnow export --format csv` writes them alike: [a, b])."""
    nested = ("[", "STRUCT", "MAP", "UNION")  # lists and arrays end in [] or [N]
    columns = [
        f'CAST("{c}" AS VARCHAR) AS "{c}"' if any(m in str(t) for m in nested) else f'"{c}"'
        for c, t in zip((c.replace('"', '""') for c in rel.columns), rel.types, strict=True)
    ]
    return rel.project(", ".join(columns))


#: Widest a cell of `winnow query`'s table is; longer values end in "…".
CELL_CHARS = 60


def _cell(value, is_float32: bool) -> str:
    if value is None:
        return ""
    if is_float32:  # shown as float32 holds it (0.9999), not as the double it became
        import numpy as np

        return str(np.float32(value))
    return str(value).replace("\n", "\\n")


def _render_table(rel) -> str:
    cols = rel.columns
    floats = [str(t) == "FLOAT" for t in rel.types]
    rows = rel.fetchall()
    cells = [cols] + [[_cell(v, f) for v, f in zip(row, floats, strict=True)] for row in rows]
    cut = False
    for row in cells:
        for i, text in enumerate(row):
            if len(text) > CELL_CHARS:
                row[i], cut = text[: CELL_CHARS - 1] + "…", True
    widths = [max(len(r[i]) for r in cells) for i in range(len(cols))]
    lines = []
    for k, row in enumerate(cells):
        lines.append(" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
        if k == 0:
            lines.append("-+-".join("-" * w for w in widths))
    footer = f"({len(rows)} row{'s' if len(rows) != 1 else ''}"
    if cut:
        footer += f"; values over {CELL_CHARS} characters end in …, --format json shows them whole"
    lines.append(footer + ")")
    return "\n".join(lines)


def cmd_compact(args: argparse.Namespace) -> int:
    from warehouse.compact import CompactionError, compact
    from warehouse.layout import PartitionError

    try:
        results = compact(
            args.warehouse,
            partitions=args.partition,
            target_bytes=int(args.target_size * 1024 * 1024),
            grace=args.grace,
        )
    except (CompactionError, PartitionError) as exc:
        print(f"compact: {exc}", file=sys.stderr)
        return 2
    for r in results:
        print(
            f"{r.partition}: {r.files_before} files ({r.bytes_before / 1e6:.1f} MB) -> "
            f"{r.files_after} ({r.bytes_after / 1e6:.1f} MB), {r.rows} rows merged"
        )
    before = sum(r.files_before for r in results)
    after = sum(r.files_after for r in results)
    print(f"compacted {len(results)} partition(s): {before} files -> {after}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from warehouse.export import ExportError, export

    try:
        rows = export(args.warehouse, args.output, args.format, args.table, args.where)
    except ExportError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    print(f"{rows} row(s) of {args.table} written to {args.output}", file=sys.stderr)
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    from winnow.history import find_run
    from winnow.report import report

    if args.run and not find_run(args.warehouse, args.run):
        print(f"error: no run {args.run} in {args.warehouse} (see `winnow runs`)", file=sys.stderr)
        return 1
    print(report(args.warehouse, args.run))
    return 0


#: What `winnow discover` read a URL as, by spiders.discovery.kind_of's names.
FORMAT_NAMES = {
    "rss": "an RSS feed",
    "atom": "an Atom feed",
    "rdf": "an RSS 1.0 (RDF) feed",
    "jsonfeed": "a JSON Feed",
    "sitemap": "a sitemap",
    "sitemapindex": "a sitemap index",
    "robots.txt": "robots.txt",
    "html": "a page",
}


def cmd_discover(args: argparse.Namespace) -> int:
    from winnow.probe import probe

    result = probe(args.url, args.allow_private)
    if result.error:
        print(f"cannot read {args.url}: {result.error}", file=sys.stderr)
        return 2 if result.error.startswith("refused") else 1
    for found in result.found:
        date = found.published.isoformat() if found.published else ""
        print(f"{found.url}\t{found.kind}\t{date}".rstrip())
    if not result.found:
        what = FORMAT_NAMES.get(result.kind, result.kind)
        print(
            f"found nothing in {args.url}: read as {what} with no article URLs "
            "(expected a feed, a sitemap, robots.txt or a page with article links)",
            file=sys.stderr,
        )
        return 1
    return 0


def cmd_sources(args: argparse.Namespace) -> int:
    from settings.sources import SourceError, load_sources

    try:
        sources = load_sources(args.sources_file)
    except SourceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.action == "check":
        if args.name is None:
            print("error: name the source to check: winnow sources check NAME", file=sys.stderr)
            return 2
        if args.name not in sources:
            print(f"error: no source named {args.name!r} (see `winnow sources`)", file=sys.stderr)
            return 2
        return _check_source(sources[args.name], args.allow_private)
    for s in sources.values():
        langs = ",".join(s.languages) or "any"
        every = s.cron or f"every {s.interval:g}s"
        print(
            f"{s.name}\t{langs}\t{every}\tbudget {s.budget}\t{len(s.entry_points)} entry point(s)"
        )
    return 0


def _check_source(source, allow_private: bool) -> int:
    """Fetch each entry point (and the sitemaps it lists, one level) and say what it found."""
    from winnow.probe import probe

    failures = 0
    for url in source.entry_points:
        result = probe(url, allow_private)
        if result.error:
            failures += 1
            print(f"FAIL {url}: {result.error}")
            continue
        print(
            f"ok   {url}: {result.kind}, {len(result.articles)} article URL(s), {len(result.sitemaps)} sitemap(s)"
        )
        for sub in result.sitemaps[:20]:
            inner = probe(sub.url, allow_private)
            if inner.error:
                failures += 1  # a listed sitemap that fails hides its articles: a failure
                print(f"FAIL   {sub.url}: {inner.error}")
            else:
                print(f"       {sub.url}: {len(inner.articles)} article URL(s)")
        for found in result.articles[:5]:
            print(f"       e.g. {found.url}")
    return 1 if failures else 0


def cmd_schedule(args: argparse.Namespace) -> int:
    import logging
    import signal

    from settings.sources import SourceError, parse_duration
    from winnow.schedule import LocalRunner, Scheduler, ScrapydRunner, warehouse_for_workers
    from winnow.scrapyd import Scrapyd, ScrapydError

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr
    )
    warehouse = warehouse_for_workers(args.warehouse)
    sources_file = str(Path(args.sources_file).resolve()) if args.sources_file else None
    try:
        max_backoff = parse_duration(args.max_backoff)
        if args.scrapyd:
            runner = ScrapydRunner(
                Scrapyd(args.scrapyd),
                warehouse,
                sources_file,
                args.allow_private,
                project=args.project,
            )
        else:
            runner = LocalRunner(warehouse, args.log_dir, sources_file, args.allow_private)
    except (ValueError, ScrapydError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    scheduler = Scheduler(
        warehouse,
        runner,
        sources_file=sources_file,
        max_parallel=args.max_parallel,
        max_backoff=max_backoff,
        grace=args.grace,
    )
    try:
        if args.plan:
            scheduler.load()
            print(scheduler.describe())
            return 0
        signal.signal(signal.SIGTERM, scheduler.request_stop)
        signal.signal(signal.SIGINT, scheduler.request_stop)
        return scheduler.run(once=args.once)
    except SourceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def cmd_runs(args: argparse.Namespace) -> int:
    from winnow.history import format_history, load_history

    history = load_history(args.warehouse)
    if args.source:
        history = {k: v for k, v in history.items() if k in args.source}
    print(format_history(history, limit=args.limit))
    return 0


def cmd_duplicates(args: argparse.Namespace) -> int:
    from pipeline.duplicates import copies_of

    found = copies_of(args.warehouse, args.url_or_id)
    if found is None:
        print(f"no article or copy matches {args.url_or_id}", file=sys.stderr)
        return 1
    if found.asked is not None:
        a = found.asked
        print(f"{a['url']} is a copy ({a['reason']}, similarity {a['similarity']:.2f}) of:")
    k = found.kept
    if k is None:
        print(f"kept: {found.asked['duplicate_of']} (no longer in the warehouse)")
    else:
        spin = "n/a" if k["spin_score"] is None else f"{k['spin_score']:.2f}"
        print(f"kept: {k['id']}  {k['url']}")
        print(f"  source {k['source']}, published {k['published'] or '?'}, spin score {spin}")
        print(f"  title: {k['title']}")
    print(f"copies: {len(found.copies)}")
    for c in found.copies:
        print(f"  {c['reason']:<17} {c['similarity'] or 0:.2f}  {c['url']}  ({c['source']})")
        print(f"    why: {c['detail']}")
    return 0


def _positive(kind: type) -> Callable[[str], float]:
    """An argparse type: a number above zero."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be above 0, not {text}")
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="winnow", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser(
        "demo", help="serve the bundled demo sites on loopback, crawl them, print the report"
    )
    _add_warehouse(p)
    p.add_argument("-v", "--verbose", action="store_true")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("crawl", help="crawl sources from sources.toml and/or URLs")
    p.add_argument("sources", nargs="*", help="source names (default: all in sources.toml)")
    p.add_argument(
        "--url", action="append", default=[], help="a feed, sitemap or homepage URL (repeatable)"
    )
    _add_warehouse(p)
    p.add_argument(
        "--sources-file", default=None, help="sources file (default: settings/sources.toml)"
    )
    p.add_argument(
        "--allow-private", action="store_true", help="allow loopback and private addresses"
    )
    p.add_argument(
        "--refresh", action="store_true", help="fetch again URLs already in the warehouse"
    )
    p.add_argument(
        "--jobdir", default=None, help="Scrapy JOBDIR: a killed crawl started again with it resumes"
    )
    p.add_argument("--run-id", default=None, help="the run id to record (default: a new one)")
    p.add_argument("--log-level", default="INFO")
    p.set_defaults(func=cmd_crawl)

    p = sub.add_parser("extract", help="run the cleaning stage on saved HTML files")
    p.add_argument("files", nargs="+", help="HTML files ('-' reads standard input)")
    p.add_argument("--url", default=None, help="the URL the page was fetched from")
    p.add_argument(
        "--explain", action="store_true", help="show stripped lines and every rule's value"
    )
    p.add_argument("--languages", nargs="*", help="wanted languages (default: any)")
    p.add_argument("--language-backend", default="langdetect", choices=["langdetect", "fasttext"])
    p.set_defaults(func=cmd_extract)

    p = sub.add_parser("query", help="SQL over the warehouse (views: articles, rejects, runs)")
    p.add_argument("sql")
    _add_warehouse(p)
    p.add_argument("--format", default="table", choices=["table", "csv", "json", "parquet"])
    p.add_argument("--output", default=None, help="write the result to this file")
    p.set_defaults(func=cmd_query)

    p = sub.add_parser(
        "compact", help="merge each partition's small files into few large ones, atomically"
    )
    _add_warehouse(p)
    p.add_argument(
        "--partition",
        action="append",
        default=None,
        help="only this partition, e.g. articles/date=2026-11-03 or date=2026-11-03/lang=en (repeatable)",
    )
    p.add_argument(
        "--target-size",
        type=_positive(float),
        default=256,
        help="size of merged files in MB (default 256)",
    )
    p.add_argument(
        "--grace",
        type=float,
        default=60,
        help="seconds merged files stay for readers that listed them before deletion (default 60)",
    )
    p.set_defaults(func=cmd_compact)

    p = sub.add_parser("export", help="write a filtered subset of a table as jsonl, csv or parquet")
    _add_warehouse(p)
    p.add_argument("--format", required=True, choices=["jsonl", "csv", "parquet"])
    p.add_argument("--output", required=True, help="the file to write")
    p.add_argument(
        "--where", default=None, help="SQL condition, e.g. \"date = '2026-11-03' and lang = 'en'\""
    )
    p.add_argument("--table", default="articles", choices=["articles", "rejects", "runs"])
    p.set_defaults(func=cmd_export)

    p = sub.add_parser(
        "stats", help="where the pages went: articles per source and language, rejects per reason"
    )
    _add_warehouse(p)
    p.add_argument("--run", default=None, help="only this run id")
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser(
        "discover",
        help="print the article URLs a feed, sitemap or page lists, without fetching them",
    )
    p.add_argument("url")
    p.add_argument("--allow-private", action="store_true")
    p.set_defaults(func=cmd_discover)

    p = sub.add_parser("sources", help="list the configured sources, or `check NAME` one")
    p.add_argument("action", nargs="?", default="list", choices=["list", "check"])
    p.add_argument("name", nargs="?", help="the source to check")
    p.add_argument("--sources-file", default=None)
    p.add_argument("--allow-private", action="store_true")
    p.set_defaults(func=cmd_sources)

    p = sub.add_parser(
        "schedule", help="run each source on its interval or cron expression, recording every run"
    )
    _add_warehouse(p)
    p.add_argument(
        "--sources-file", default=None, help="sources file (default: settings/sources.toml)"
    )
    p.add_argument("--once", action="store_true", help="run what is due now, then exit (for cron)")
    p.add_argument("--plan", action="store_true", help="print when each source is due and exit")
    p.add_argument(
        "--scrapyd", metavar="URL", default=None, help="hand the runs to this scrapyd server"
    )
    p.add_argument("--project", default="winnow", help="the scrapyd project (default: winnow)")
    p.add_argument("--max-parallel", type=int, default=4, help="runs at once at most (default: 4)")
    p.add_argument(
        "--max-backoff",
        default="6h",
        help="longest wait between attempts of a failing source (default: 6h)",
    )
    p.add_argument(
        "--grace",
        type=float,
        default=90.0,
        help="seconds crawls get to stop cleanly on SIGTERM (default: 90)",
    )
    p.add_argument(
        "--log-dir",
        default=os.environ.get("WINNOW_LOG_DIR", "logs"),
        help="where local crawls' logs go, one file per run (default: ./logs)",
    )
    p.add_argument(
        "--allow-private", action="store_true", help="allow loopback and private addresses"
    )
    p.set_defaults(func=cmd_schedule)

    p = sub.add_parser("runs", help="recent runs per source, failing sources first")
    _add_warehouse(p)
    p.add_argument("--source", action="append", default=None, help="only this source (repeatable)")
    p.add_argument(
        "--limit", type=_positive(int), default=5, help="runs shown per source (default: 5)"
    )
    p.set_defaults(func=cmd_runs)

    p = sub.add_parser(
        "duplicates", help="the copies of an article (by URL or id) and why each is a copy"
    )
    p.add_argument(
        "url_or_id", help="an article's URL or id, or the URL or id of one of its copies"
    )
    _add_warehouse(p)
    p.set_defaults(func=cmd_duplicates)
    return parser


#: Commands that read a warehouse that must already be there (a typo'd path is an error,
#: not an empty warehouse).
READS_WAREHOUSE = frozenset({"query", "stats", "runs", "export", "compact", "duplicates"})


def main(argv: list[str] | None = None) -> int:
    # `kill -USR1 PID` prints where every thread of a stuck winnow is, and it goes on.
    if hasattr(signal, "SIGUSR1"):  # not on Windows
        faulthandler.register(signal.SIGUSR1, all_threads=True)
    args = build_parser().parse_args(argv)
    if args.command in READS_WAREHOUSE:
        from warehouse.storage import missing_warehouse

        missing = missing_warehouse(args.warehouse)
        if missing:
            print(f"error: {missing}", file=sys.stderr)
            return 2
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
