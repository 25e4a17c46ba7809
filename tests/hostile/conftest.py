"""Hostile input: hypothesis profiles and helpers to crawl a hostile local site.

Hypothesis profiles (`HYPOTHESIS_PROFILE=long` for the on-demand run):
* `ci` (default): derandomized (a fixed seed per test), sized so the fuzz tests of the
  cleaning stage together run FUZZ_CI_TOTAL inputs, in well under a minute.
* `long`: random seeds and twenty times as many inputs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from hypothesis import HealthCheck, settings

from tests.conftest import winnow_cmd
from warehouse.query import connect
from winnow.demo.server import Site

#: Inputs the `ci` profile runs through `clean` across tests/hostile/test_fuzz.py.
FUZZ_CI_TOTAL = 10_000
_COMMON = {
    "deadline": None,  # no timed assertions; a hang is caught by pytest-timeout
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
    "print_blob": True,
}
settings.register_profile("ci", derandomize=True, database=None, **_COMMON)
settings.register_profile("long", **_COMMON)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
#: Multiplies every fuzz test's share of examples.
FUZZ_SCALE = 20 if PROFILE == "long" else 1

Route = Callable[[BaseHTTPRequestHandler], None]


def respond(
    status: int, body: bytes, ctype: str = "text/html", headers: Mapping[str, str] | None = None
) -> Route:
    """A route that sends one fixed response."""
    return lambda h: h.send_bytes(status, body, ctype, headers)


def sitemap_of(paths: list[str]) -> Route:
    """A route serving a sitemap that lists `paths` on the same site (relative locs)."""
    locs = "".join(f"<url><loc>{p}</loc></url>" for p in paths)
    body = f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{locs}</urlset>'
    return respond(200, body.encode(), "application/xml")


def hostile_site(name: str, routes: dict[str, Route]) -> Site:
    """A site with no files, only routes; `/robots.txt` allows everything."""
    routes = {"/robots.txt": respond(200, b"User-agent: *\nAllow: /\n", "text/plain"), **routes}
    return Site(name, None, routes=routes)


def write_sources(path: Path, **sources: dict) -> Path:
    """A sources.toml with one [[source]] per keyword (name = table of fields)."""
    lines = []
    for name, fields in sources.items():
        lines += ["[[source]]", f'name = "{name}"']
        lines += [f"{key} = {json.dumps(value)}" for key, value in fields.items()]
        lines.append("")
    path.write_text("\n".join(lines), "utf-8")
    return path


def crawl(
    warehouse: Path, *args: str, env: dict | None = None, check: bool = True, timeout: float = 240
):
    """`winnow crawl ARGS --warehouse W` in its own process, fast politeness for loopback."""
    return winnow_cmd(
        "crawl",
        *args,
        "--warehouse",
        str(warehouse),
        env={"WINNOW_START_DELAY": "0.01", **(env or {})},
        check=check,
        timeout=timeout,
    )


def table(warehouse: Path, sql: str) -> list[tuple]:
    """Rows of a query over the warehouse's views."""
    return connect(warehouse).execute(sql).fetchall()


def by_path(warehouse: Path, view: str, column: str) -> dict[str, object]:
    """{url path: column} for every row of `view` (URLs are all on loopback)."""
    return dict(
        table(warehouse, f"select regexp_replace(url, '^https?://[^/]+', ''), {column} from {view}")
    )
