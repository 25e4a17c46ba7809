"""`winnow schedule`: run each source on its interval or cron expression, for months.

Plain code over plain data:

* `next_due(source, runs, max_backoff)` says when a source is due, from its run history
  (the warehouse's `runs` table; see winnow/history.py), so a restarted scheduler
  carries on where it stopped. A run missed during downtime is due now, once. After a
  failure the source is retried at its next interval, then after 2, 4, 8... intervals
  (capped), while the other sources keep their own times.
* A runner starts one crawl of one source and says when it has ended: `LocalRunner`
  starts a `winnow crawl SOURCE --run-id ID` child process, `ScrapydRunner` hands the
  crawl to a scrapyd server. The crawl writes its own `runs` row; a run that ended
  without one (killed, crashed, never started) gets a `failed` row from the scheduler,
  with the reason.
* `Scheduler` ties them together: never two runs of one source at once, at most
  `max_parallel` runs, and on SIGTERM the running crawls stop cleanly (each writes its
  row) before it exits. The runs in flight are noted in the warehouse
  (`_state/schedule.json`), so a restarted scheduler waits for a crawl that outlived it
  instead of starting a second one.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

import psutil

from settings.sources import Source, SourceError, load_sources, sources_file
from warehouse import schema
from warehouse.state import read_json, write_json
from warehouse.writer import WarehouseWriter
from winnow.crawl import new_run_id
from winnow.history import Run, consecutive_failures, find_run, load_history
from winnow.scrapyd import Scrapyd, ScrapydError

log = logging.getLogger("winnow.schedule")

STATE = "schedule.json"
#: The longest wait between two attempts of a failing source (unless its interval is longer).
MAX_BACKOFF = 6 * 3600.0


def utcnow() -> datetime:
    return datetime.now(UTC)


# --- when is a source due ----------------------------------------------------------------


def next_due(
    source: Source, runs: list[Run], max_backoff: float = MAX_BACKOFF
) -> tuple[datetime | None, str]:
    """When `source` is next due after its `runs` (oldest first), and why; None: now.

    A time in the past means due now: however many runs were missed, one run catches up.
    """
    if not runs:
        return None, "never run"
    last = runs[-1].started_at
    failures = consecutive_failures(runs)
    if source.cron:
        return _cron_due(source.cron, last, failures, max_backoff)
    steps = 2 ** min(failures - 1, 30) if failures else 1
    delay = min(source.interval * steps, max(source.interval, max_backoff))
    why = f"every {_duration(source.interval)}"
    if failures:
        why = f"retry after {failures} failure(s): waits {_duration(delay)}"
    return last + timedelta(seconds=delay), why


def _cron_due(cron: str, last: datetime, failures: int, max_backoff: float) -> tuple[datetime, str]:
    from croniter import croniter

    times = croniter(cron, last)
    due = times.get_next(datetime)
    if not failures:
        return due, f"cron {cron!r} (UTC)"
    # Back off by skipping fire times: the 1st, 2nd, 4th, 8th... after the failed run.
    limit = max(due, last + timedelta(seconds=max_backoff))
    for _ in range(2 ** min(failures - 1, 16) - 1):
        later = times.get_next(datetime)
        if later > limit:
            break
        due = later
    return due, f"cron {cron!r} (UTC), retry after {failures} failure(s)"


def _duration(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


# --- runners ------------------------------------------------------------------------------


@dataclass
class Launch:
    """A crawl the scheduler started: enough to follow it, even from a restarted scheduler."""

    source: str
    run_id: str
    runner: str
    started_at: str  # ISO time, so the state file is plain JSON
    host: str
    pid: int | None = None
    job: str | None = None
    log: str | None = None

    @property
    def started(self) -> datetime:
        return datetime.fromisoformat(self.started_at)


class Runner(Protocol):
    name: str
    #: True when crawls outlive the scheduler (scrapyd's): shutdown leaves them running.
    detached: bool

    def start(self, source: Source, run_id: str) -> Launch: ...

    def ended(self, launches: list[Launch]) -> dict[str, str]:
        """Of these launches, the ones that have ended: run id -> what is known of the end."""
        ...

    def stop(self, launch: Launch, force: bool = False) -> None: ...


_ERROR_LINE = re.compile(r"ERROR|CRITICAL|Error\b|Exception\b|error:")


def log_reason(text: str) -> str:
    """The most telling line of a crawl's log: its last error, else its last line."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if _ERROR_LINE.search(line)]
    line = (errors or lines or [""])[-1]
    return line[:300]


def _exit_text(code: int) -> str:
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


class LocalRunner:
    """Each run is a `winnow crawl SOURCE` child process with its log in `log_dir`."""

    name = "local"
    detached = False

    def __init__(
        self,
        warehouse: str,
        log_dir: str | Path,
        sources_file: str | Path | None = None,
        allow_private: bool = False,
        command: Callable[[str, str], list[str]] | None = None,
    ) -> None:
        self.warehouse = warehouse
        self.log_dir = Path(log_dir)
        self.sources_file = sources_file
        self.allow_private = allow_private
        self.command = command or self.crawl_command
        self._children: dict[str, subprocess.Popen] = {}

    def crawl_command(self, source: str, run_id: str) -> list[str]:
        cmd = [sys.executable, "-m", "winnow.cli", "crawl", source, "--run-id", run_id]
        cmd += ["--warehouse", self.warehouse, "--log-level", "INFO"]
        if self.sources_file:
            cmd += ["--sources-file", str(self.sources_file)]
        if self.allow_private:
            cmd.append("--allow-private")
        return cmd

    def start(self, source: Source, run_id: str) -> Launch:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        path = self.log_dir / f"{run_id}.log"
        with path.open("wb") as out:
            # Its own session: a Ctrl-C at the terminal reaches the scheduler only, which
            # then asks each crawl to stop once (a second signal would kill it uncleanly).
            child = subprocess.Popen(
                self.command(source.name, run_id),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self._children[run_id] = child
        return Launch(
            source=source.name,
            run_id=run_id,
            runner=self.name,
            started_at=utcnow().isoformat(),
            host=socket.gethostname(),
            pid=child.pid,
            log=str(path),
        )

    def _tail(self, launch: Launch) -> str:
        try:
            with open(launch.log or "", "rb") as f:
                f.seek(max(0, os.path.getsize(f.name) - 64_000))
                return log_reason(f.read().decode("utf-8", "replace"))
        except OSError:
            return ""

    def ended(self, launches: list[Launch]) -> dict[str, str]:
        done = {}
        for launch in launches:
            child = self._children.get(launch.run_id)
            if child is not None:
                code = child.poll()
                if code is None:
                    continue
                del self._children[launch.run_id]
                why = f"the crawl process {_exit_text(code)}"
            elif launch.host != socket.gethostname() or not launch.pid:
                why = f"the crawl process on {launch.host} is out of this scheduler's sight"
            elif psutil.pid_exists(launch.pid):
                continue  # a crawl started before a restart: wait for it
            else:
                why = f"the crawl process (pid {launch.pid}) ended while no scheduler watched it"
            tail = self._tail(launch)
            done[launch.run_id] = f"{why}; last log line: {tail}" if tail else why
        return done

    def stop(self, launch: Launch, force: bool = False) -> None:
        if not launch.pid or launch.host != socket.gethostname():
            return
        try:
            if force:  # the crawl and its cleaning workers
                os.killpg(launch.pid, signal.SIGKILL)
            else:
                os.kill(launch.pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            pass


class ScrapydRunner:
    """Each run is a scrapyd job of the deployed project's `news` spider, job id = run id."""

    name = "scrapyd"
    detached = True

    def __init__(
        self,
        client: Scrapyd,
        warehouse: str,
        sources_file: str | Path | None = None,
        allow_private: bool = False,
        project: str = "winnow",
        spider: str = "news",
    ) -> None:
        self.client = client
        self.warehouse = warehouse
        self.sources_file = sources_file
        self.allow_private = allow_private
        self.project = project
        self.spider = spider

    def start(self, source: Source, run_id: str) -> Launch:
        settings = {"WINNOW_WAREHOUSE": self.warehouse, "WINNOW_RUNNER": self.name}
        if self.sources_file:
            settings["WINNOW_SOURCES"] = str(self.sources_file)
        if self.allow_private:
            settings["WINNOW_ALLOW_PRIVATE"] = "1"
        job = self.client.schedule(
            self.project,
            self.spider,
            jobid=run_id,
            settings=settings,
            args={"sources": source.name, "run_id": run_id},
        )
        return Launch(
            source=source.name,
            run_id=run_id,
            runner=self.name,
            started_at=utcnow().isoformat(),
            host=self.client.url,
            job=job,
        )

    def ended(self, launches: list[Launch]) -> dict[str, str]:
        if not launches:
            return {}
        try:
            jobs = self.client.jobs(self.project)
        except ScrapydError as exc:
            log.warning("cannot follow the scrapyd jobs: %s", exc)
            return {}
        done = {}
        for launch in launches:
            job = jobs.get(launch.job or launch.run_id)
            if job is None:
                done[launch.run_id] = (
                    f"scrapyd at {self.client.url} no longer knows job {launch.job} (restarted?)"
                )
            elif job.state == "finished":
                tail = log_reason(self.client.log(job))
                why = f"scrapyd job {job.id} finished"
                done[launch.run_id] = f"{why}; last log line: {tail}" if tail else why
        return done

    def stop(self, launch: Launch, force: bool = False) -> None:
        try:
            self.client.cancel(
                self.project, launch.job or launch.run_id, "KILL" if force else "TERM"
            )
        except ScrapydError as exc:
            log.warning("could not cancel scrapyd job %s: %s", launch.job, exc)


# --- the scheduler ---------------------------------------------------------------------------


@dataclass
class Scheduler:
    """Runs due sources through a runner and records every run in the warehouse."""

    warehouse: str
    runner: Runner
    sources_file: str | Path | None = None
    max_parallel: int = 4
    max_backoff: float = MAX_BACKOFF
    poll: float = 1.0
    grace: float = 90.0
    clock: Callable[[], datetime] = utcnow
    stop_event: threading.Event = field(default_factory=threading.Event)
    signals: int = 0
    sources: dict[str, Source] = field(default_factory=dict)
    history: dict[str, list[Run]] = field(default_factory=dict)
    running: dict[str, Launch] = field(default_factory=dict)
    finished: list[Run] = field(default_factory=list)
    #: Runs this scheduler's shutdown killed (after --grace, or a second signal).
    stopped_at_once: set[str] = field(default_factory=set)
    _sources_stamp: tuple | None = None

    # state ----------------------------------------------------------------------------------
    def load(self) -> None:
        """Read the sources, the run history and the runs a previous scheduler left in flight."""
        self.reload_sources()
        self.history = load_history(self.warehouse)
        state = read_json(self.warehouse, STATE, {})
        for data in state.get("running", []) if isinstance(state, dict) else []:
            try:
                launch = Launch(**data)
            except TypeError:
                continue
            self.running[launch.source] = launch
            log.info(
                "%s: run %s is still in flight from before; waiting for it",
                launch.source,
                launch.run_id,
            )

    def save(self) -> None:
        write_json(self.warehouse, STATE, {"running": [asdict(x) for x in self.running.values()]})

    def reload_sources(self) -> None:
        """(Re)read the sources file when it changed; a broken edit keeps the last good one."""
        path = Path(self.sources_file) if self.sources_file else sources_file()
        try:
            st = path.stat()
            stamp = (st.st_mtime_ns, st.st_size)
        except OSError:
            stamp = None
        if stamp is not None and stamp == self._sources_stamp:
            return
        try:
            self.sources = load_sources(path)
        except SourceError as exc:
            if not self.sources:
                raise
            log.error("keeping the previous sources: %s", exc)
        self._sources_stamp = stamp

    # planning -------------------------------------------------------------------------------
    def plan(self) -> list[tuple[Source, datetime | None, str]]:
        """Each source with its due time (None: now) and why, soonest first."""
        rows = [
            (s, *next_due(s, self.history.get(s.name, []), self.max_backoff))
            for s in self.sources.values()
        ]
        epoch = datetime.min.replace(tzinfo=UTC)
        return sorted(rows, key=lambda r: (r[1] or epoch, r[0].name))

    def due(self, now: datetime) -> list[Source]:
        return [
            s
            for s, when, _ in self.plan()
            if s.name not in self.running and (when is None or when <= now)
        ]

    def wait_seconds(self, now: datetime) -> float:
        waits = [self.poll]
        for s, when, _ in self.plan():
            if s.name not in self.running and when is not None:
                waits.append((when - now).total_seconds())
        return max(0.05, min(waits))

    # running ----------------------------------------------------------------------------------
    def start(self, source: Source) -> None:
        run_id = new_run_id(source.name)
        try:
            launch = self.runner.start(source, run_id)
        except (OSError, ScrapydError) as exc:
            now = self.clock().isoformat()
            launch = Launch(source.name, run_id, self.runner.name, now, socket.gethostname())
            self.record(launch, f"could not start the crawl: {exc}")
            return
        self.running[source.name] = launch
        self.save()
        log.info("%s: started run %s (%s)", source.name, run_id, self.runner.name)

    def collect(self) -> None:
        """Record the runs that have ended."""
        if not self.running:
            return
        ended = self.runner.ended(list(self.running.values()))
        for launch in list(self.running.values()):
            if launch.run_id in ended:
                del self.running[launch.source]
                self.record(launch, ended[launch.run_id])
        if ended:
            self.save()

    def record(self, launch: Launch, why: str) -> None:
        """Take the run's own row, or write a `failed` one with the reason when it left none."""
        rows = [r for r in find_run(self.warehouse, launch.run_id) if r.source == launch.source]
        if not rows and launch.run_id in self.stopped_at_once:
            # killed by this scheduler's own shutdown: a stop asked for, not a failure
            why = f"stopped by the scheduler's shutdown before it wrote its row ({why})"
            rows = [self._write_row(launch, "interrupted", why)]
        elif not rows:
            rows = [self._write_row(launch, "failed", why)]
        runs = self.history.setdefault(launch.source, [])
        known = {r.run_id for r in runs}  # a run that ended while no scheduler ran is loaded
        for run in rows:
            if run.run_id not in known:
                runs.append(run)
            self.finished.append(run)
        run = rows[-1]
        source = self.sources.get(launch.source)
        after = self.next_note(source, runs)
        if run.failed:
            log.warning("%s: run %s failed: %s%s", launch.source, run.run_id, run.detail, after)
        else:
            log.info(
                "%s: run %s %s: %d pages, %d articles, %d rejects%s",
                launch.source,
                run.run_id,
                run.status,
                run.pages,
                run.articles,
                run.rejects,
                after,
            )

    def _write_row(self, launch: Launch, status: str, why: str) -> Run:
        started, ended = launch.started, self.clock()
        writer = WarehouseWriter(self.warehouse, launch.run_id)
        writer.add_run(
            schema.run_row(
                run_id=launch.run_id,
                sources=[launch.source],
                started_at=started,
                ended_at=ended,
                status=status,
                counters={"errors": 1},
                host=socket.gethostname(),
                pid=launch.pid or os.getpid(),
                runner=launch.runner,
                error_detail=why,
            )
        )
        writer.close()
        return Run(launch.run_id, launch.source, started, ended, status, errors=1, detail=why)

    def room(self) -> int:
        return max(0, self.max_parallel - len(self.running))

    def run(self, once: bool = False) -> int:
        """Until stopped (or, with `once`, until the sources due now have run); 1 if a run failed."""
        self.load()
        log.info(
            "scheduling %d source(s) with the %s runner into %s",
            len(self.sources),
            self.runner.name,
            self.warehouse,
        )
        todo: list[str] | None = None
        while True:
            self.collect()
            if self.stop_event.is_set():
                break
            now = self.clock()
            self.reload_sources()
            due = self.due(now)
            if once:
                if todo is None:
                    todo = [s.name for s in due]
                    if not todo:
                        log.info("nothing is due")
                for name in list(todo):
                    if self.room() and name in self.sources and name not in self.running:
                        todo.remove(name)
                        self.start(self.sources[name])
                if not todo and not self.running:
                    break
            else:
                for source in due[: self.room()]:
                    self.start(source)
            self.stop_event.wait(self.wait_seconds(self.clock()))
        self.shutdown()
        return 1 if once and any(r.failed for r in self.finished) else 0

    def request_stop(self, *_: object) -> None:
        """Signal handler: the first signal stops cleanly, a second one stops at once."""
        self.signals += 1
        self.stop_event.set()

    def shutdown(self) -> None:
        """Let the local crawls stop cleanly (each writes its row); scrapyd's keep running."""
        if self.runner.detached or not self.running:
            if self.running:
                log.info("leaving %d run(s) to %s", len(self.running), self.runner.name)
            return
        log.info("stopping %d running crawl(s)", len(self.running))
        for launch in self.running.values():
            self.runner.stop(launch)
        deadline = time.monotonic() + self.grace
        seen = self.signals
        while self.running and time.monotonic() < deadline and self.signals <= max(seen, 1):
            time.sleep(0.2)
            self.collect()
        for launch in list(self.running.values()):
            self.stopped_at_once.add(launch.run_id)
            self.runner.stop(launch, force=True)
        deadline = time.monotonic() + 10
        while self.running and time.monotonic() < deadline:
            time.sleep(0.1)
            self.collect()
        for launch in self.running.values():  # a restarted scheduler waits for these
            log.error(
                "%s: run %s (pid %s) would not stop", launch.source, launch.run_id, launch.pid
            )
        self.save()

    def next_note(self, source: Source | None, runs: list[Run]) -> str:
        """'; next ...' for a finished run's log line: none once this scheduler stops."""
        if source is None or self.stop_event.is_set():
            return ""
        when, reason = next_due(source, runs, self.max_backoff)
        if when is None or when <= self.clock():
            return f"; next due now ({reason})"
        return f"; next {when:%H:%M:%S} UTC ({reason})"

    def describe(self) -> str:
        """The plan as text: when each source is next due and why."""
        now = self.clock()
        lines = []
        for s, when, why in self.plan():
            if s.name in self.running:
                at = f"running ({self.running[s.name].run_id})"
            elif when is None or when <= now:
                at = "due now"
            else:
                at = f"{when:%Y-%m-%d %H:%M:%S} UTC"
            lines.append(f"{s.name}\t{at}\t{why}")
        return "\n".join(lines) or "no sources"


def warehouse_for_workers(warehouse: str) -> str:
    """The warehouse as another process sees it: local paths made absolute."""
    return warehouse if "://" in warehouse else str(Path(warehouse).resolve())
