"""The `winnow` command line."""

from __future__ import annotations

import argparse
import json
import os
import sys
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

    print(run_demo(Path(args.warehouse), log_level="DEBUG" if args.verbose else "WARNING"))
    return 0


def cmd_crawl(args: argparse.Namespace) -> int:
    from winnow.crawl import run_crawl
    from winnow.report import report

    if not args.sources and not args.url:
        from settings.sources import load_sources

        args.sources = sorted(load_sources(args.sources_file))
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
    print(report(args.warehouse, stats["run_id"]))
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
    from pipeline.clean import CleanConfig, Trace, clean

    config = CleanConfig(
        languages=tuple(args.languages or ()), language_backend=args.language_backend
    )
    for name in args.files:
        try:
            page = _page_from_file(name, args.url)
        except OSError as exc:
            print(json.dumps({"file": name, "error": str(exc)}), file=sys.stderr)
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
    return 0


def cmd_query(args: argparse.Namespace) -> int:
    from warehouse.query import connect

    con = connect(args.warehouse)
    try:
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
        table = rel.fetch_arrow_table()
        import pyarrow.csv as pacsv

        pacsv.write_csv(table, args.output or sys.stdout.buffer)
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


def _render_table(rel) -> str:
    cols = rel.columns
    rows = rel.fetchall()
    cells = [cols] + [
        ["" if v is None else str(v).replace("\n", "\\n") for v in row] for row in rows
    ]
    widths = [min(60, max(len(r[i]) for r in cells)) for i in range(len(cols))]
    lines = []
    for k, row in enumerate(cells):
        lines.append(" | ".join(c[:60].ljust(w) for c, w in zip(row, widths, strict=True)))
        if k == 0:
            lines.append("-+-".join("-" * w for w in widths))
    lines.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(lines)


def cmd_stats(args: argparse.Namespace) -> int:
    from winnow.report import report

    print(report(args.warehouse, args.run))
    return 0


def cmd_discover(args: argparse.Namespace) -> int:
    from winnow.probe import probe

    result = probe(args.url, args.allow_private)
    if result.error:
        print(f"cannot read {args.url}: {result.error}", file=sys.stderr)
        return 2 if result.error.startswith("refused") else 1
    for found in result.found:
        date = found.published.isoformat() if found.published else ""
        print(f"{found.url}\t{found.kind}\t{date}".rstrip())
    return 0


def cmd_sources(args: argparse.Namespace) -> int:
    from settings.sources import SourceError, load_sources

    try:
        sources = load_sources(args.sources_file)
    except SourceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.action == "check":
        if args.name not in sources:
            print(f"error: no source named {args.name!r} (see `winnow sources`)", file=sys.stderr)
            return 2
        return _check_source(sources[args.name], args.allow_private)
    for s in sources.values():
        langs = ",".join(s.languages) or "any"
        every = s.cron or f"every {s.interval:g}s"
        print(f"{s.name}\t{langs}\t{every}\tbudget {s.budget}\t{len(s.entry_points)} entry point(s)")
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
        print(f"ok   {url}: {result.kind}, {len(result.articles)} article URL(s), {len(result.sitemaps)} sitemap(s)")
        for sub in result.sitemaps[:20]:
            inner = probe(sub.url, allow_private)
            state = inner.error or f"{len(inner.articles)} article URL(s)"
            print(f"       {sub.url}: {state}")
        for found in result.articles[:5]:
            print(f"       e.g. {found.url}")
    return 1 if failures else 0


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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
