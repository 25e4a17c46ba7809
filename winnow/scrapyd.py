"""A small client for scrapyd's JSON API: schedule a crawl, follow its job, read why it ended.

Only the standard library: the scheduler talks to scrapyd over plain HTTP. Basic auth
comes from the URL (`http://user:pass@host:6800`), as scrapyd-client's targets do.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass


class ScrapydError(RuntimeError):
    """scrapyd refused a call or could not be reached; the message says which and why."""


@dataclass(frozen=True)
class Job:
    id: str
    state: str  # pending, running or finished
    spider: str = ""
    log_url: str | None = None


class Scrapyd:
    def __init__(self, url: str, timeout: float = 30.0) -> None:
        parts = urllib.parse.urlsplit(url if "://" in url else "http://" + url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ScrapydError(f"{url!r} is not a scrapyd URL like http://127.0.0.1:6800")
        netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
        self.url = f"{parts.scheme}://{netloc}{parts.path.rstrip('/')}"
        self.timeout = timeout
        self._auth = None
        if parts.username:
            pair = f"{urllib.parse.unquote(parts.username)}:{urllib.parse.unquote(parts.password or '')}"
            self._auth = "Basic " + base64.b64encode(pair.encode()).decode()

    def _open(
        self, path: str, data: list[tuple[str, str]] | None = None, query: dict | None = None
    ):
        url = self.url + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(url, data=body)
        if self._auth:
            request.add_header("Authorization", self._auth)
        try:
            return urllib.request.urlopen(request, timeout=self.timeout)
        except urllib.error.HTTPError as exc:
            raise ScrapydError(f"scrapyd at {self.url}: {path} answered HTTP {exc.code}") from exc
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ScrapydError(f"scrapyd at {self.url} is unreachable: {reason}") from exc

    def call(self, endpoint: str, data: list[tuple[str, str]] | None = None, **query: str) -> dict:
        """One API call (POST when `data` is given); returns the JSON answer or raises ScrapydError."""
        with self._open("/" + endpoint, data, query or None) as response:
            try:
                answer = json.load(response)
            except ValueError as exc:
                raise ScrapydError(
                    f"scrapyd at {self.url}: {endpoint} did not answer JSON"
                ) from exc
        if answer.get("status") != "ok":
            raise ScrapydError(
                f"scrapyd at {self.url}: {endpoint}: {answer.get('message', answer)}".strip()
            )
        return answer

    def schedule(
        self,
        project: str,
        spider: str,
        jobid: str,
        settings: dict[str, str] | None = None,
        args: dict[str, str] | None = None,
    ) -> str:
        """Queue a crawl; `settings` become `-s` and `args` become `-a` of its `scrapy crawl`."""
        data = [("project", project), ("spider", spider), ("jobid", jobid)]
        data += [("setting", f"{k}={v}") for k, v in (settings or {}).items()]
        data += [(k, str(v)) for k, v in (args or {}).items()]
        return self.call("schedule.json", data)["jobid"]

    def jobs(self, project: str) -> dict[str, Job]:
        """Every job scrapyd knows for the project, by id."""
        answer = self.call("listjobs.json", project=project)
        found = {}
        for state in ("pending", "running", "finished"):
            for job in answer.get(state, []):
                found[job["id"]] = Job(job["id"], state, job.get("spider", ""), job.get("log_url"))
        return found

    def cancel(self, project: str, job: str, signal: str = "TERM") -> str | None:
        """Stop a job (Scrapy shuts down cleanly on TERM or INT); returns its state before."""
        return self.call("cancel.json", [("project", project), ("job", job), ("signal", signal)])[
            "prevstate"
        ]

    def log(self, job: Job, limit: int = 2_000_000) -> str:
        """The job's Scrapy log ('' when scrapyd keeps no logs)."""
        if not job.log_url:
            return ""
        path = job.log_url if job.log_url.startswith("/") else "/" + job.log_url
        try:
            with self._open(path) as response:
                return response.read(limit).decode("utf-8", "replace")
        except ScrapydError:
            return ""
