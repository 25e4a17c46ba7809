"""Run history: what the warehouse's `runs` table says about each source's crawls.

The table is the scheduler's memory: a restarted `winnow schedule` reads each source's
last run and its run of failures from here, so it needs no state of its own. `winnow
runs` prints the same history for people.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from warehouse.query import connect
from warehouse.storage import missing_warehouse

_COLUMNS = (
    "run_id, source, epoch_us(started_at), epoch_us(ended_at), status, pages_fetched, "
    "articles, rejects, errors, error_detail, runner, len(sources)"
)


@dataclass(frozen=True)
class Run:
    """One source's part in one crawl run (a run over several sources appears once per source)."""

    run_id: str
    source: str
    started_at: datetime
    ended_at: datetime | None
    status: str
    pages: int = 0
    articles: int = 0
    rejects: int = 0
    errors: int = 0
    detail: str | None = None
    runner: str | None = None
    #: Sources the run crawled: above 1, the counts are the whole run's, shared by them.
    sources: int = 1

    @property
    def failed(self) -> bool:
        return self.status == "failed"

    @property
    def seconds(self) -> float | None:
        return (self.ended_at - self.started_at).total_seconds() if self.ended_at else None


def _time(us: int | None) -> datetime | None:
    return None if us is None else datetime.fromtimestamp(us / 1e6, UTC)


def _query(warehouse: str | Path, where: str = "", params: list | None = None) -> list[Run]:
    if missing_warehouse(warehouse):
        return []  # no crawl has created it yet: no runs
    con = connect(str(warehouse))
    rows = con.execute(
        f"SELECT {_COLUMNS} FROM (SELECT *, unnest(sources) AS source FROM runs) {where} "
        "ORDER BY started_at, run_id",
        params or [],
    ).fetchall()
    return [
        Run(
            run_id=r[0],
            source=r[1],
            started_at=_time(r[2]),
            ended_at=_time(r[3]),
            status=r[4] or "unknown",
            pages=r[5] or 0,
            articles=r[6] or 0,
            rejects=r[7] or 0,
            errors=r[8] or 0,
            detail=r[9],
            runner=r[10],
            sources=r[11] or 1,
        )
        for r in rows
        if r[2] is not None
    ]


def load_history(warehouse: str | Path) -> dict[str, list[Run]]:
    """Every source's runs, oldest first."""
    history: dict[str, list[Run]] = {}
    for run in _query(warehouse):
        history.setdefault(run.source, []).append(run)
    return history


def find_run(warehouse: str | Path, run_id: str) -> list[Run]:
    """The rows one run wrote (none if it died before writing its row)."""
    return _query(warehouse, "WHERE run_id = ?", [run_id])


def consecutive_failures(runs: list[Run]) -> int:
    """How many of the latest runs failed in a row (runs oldest first)."""
    count = 0
    for run in reversed(runs):
        if not run.failed:
            break
        count += 1
    return count


def _when(t: datetime | None) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S") if t else ""


def format_history(history: dict[str, list[Run]], limit: int = 5) -> str:
    """Recent runs per source, newest first; sources whose latest run failed come first."""
    if not history:
        return "no runs yet"

    def order(name: str) -> tuple:
        runs = history[name]
        return (not runs[-1].failed, -consecutive_failures(runs), name)

    header = ("started (UTC)", "secs", "status", "pages", "articles", "rejects", "errors", "run")
    out = []
    for name in sorted(history, key=order):
        runs = history[name]
        failures = consecutive_failures(runs)
        note = f"  ({failures} failed in a row)" if failures else ""
        out.append(f"{name}: {len(runs)} run(s), last {runs[-1].status}{note}")
        cells = [header]
        details = []
        for run in reversed(runs[-limit:]):
            secs = run.seconds
            cells.append(
                (
                    _when(run.started_at),
                    "" if secs is None else f"{secs:.1f}",
                    run.status,
                    str(run.pages),
                    str(run.articles),
                    str(run.rejects),
                    str(run.errors),
                    run.run_id + ("" if run.sources < 2 else f" *{run.sources}"),
                )
            )
            details.append(run.detail if run.status != "ok" and run.detail else "")
        widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
        for k, row in enumerate(cells):
            line = "  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True))
            out.append(line.rstrip())
            if k and details[k - 1]:
                out.append(f"      why: {details[k - 1]}")
        out.append("")
    if any(r.sources > 1 for runs in history.values() for r in runs[-limit:]):
        out.append("*N: a run over N sources; its counts are the whole run's, under each source.")
    return "\n".join(out).rstrip()
