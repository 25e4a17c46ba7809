"""Sources: the news sites winnow crawls, described in `sources.toml` and validated on load.

```toml
[[source]]
name = "meridian"                       # required, [a-z0-9_-]
feeds = ["https://example.com/feed/"]   # RSS 2.0, Atom or JSON Feed
sitemaps = ["https://example.com/sitemap.xml"]   # sitemap, index, gzipped, news sitemap
start_urls = ["https://example.com/"]   # homepages and section pages
allowed_domains = ["example.com"]       # default: the hosts of the URLs above
article_pattern = "/20\\d\\d/"          # optional regex an article URL must match
languages = ["en"]                      # wanted languages; default any
interval = "30m"                        # how often `winnow schedule` runs it (s, m, h, d)
cron = "*/30 * * * *"                   # or a cron expression instead of interval
budget = 1000                           # pages fetched per run at most
lang_floor = 0.5                        # language confidence floor
[source.quality]                        # per-source rule thresholds
too_short = 80
```
Every error names the file, the source and the field.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from pipeline.config import DEFAULT_LANG_FLOOR

DEFAULT_FILE = Path(__file__).with_name("sources.toml")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_KNOWN = {
    "name",
    "feeds",
    "sitemaps",
    "start_urls",
    "allowed_domains",
    "article_pattern",
    "languages",
    "interval",
    "cron",
    "budget",
    "lang_floor",
    "quality",
    "title",
}


class SourceError(ValueError):
    """sources.toml is invalid; the message names the source and the field."""


@dataclass(frozen=True)
class Source:
    name: str
    feeds: tuple[str, ...] = ()
    sitemaps: tuple[str, ...] = ()
    start_urls: tuple[str, ...] = ()
    allowed_domains: tuple[str, ...] = ()
    article_pattern: str | None = None
    languages: tuple[str, ...] = ()
    interval: float = 3600.0
    cron: str | None = None
    budget: int = 5000
    lang_floor: float = DEFAULT_LANG_FLOOR
    quality: dict[str, float] = field(default_factory=dict)
    title: str = ""

    @property
    def entry_points(self) -> tuple[str, ...]:
        return self.feeds + self.sitemaps + self.start_urls


def parse_duration(value: object) -> float:
    """'90', '90s', '30m', '6h', '1d' or a number of seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(f"{value!r} is not a duration like '30m', '6h' or 3600")
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds <= 0:
        raise ValueError("must be positive")
    return seconds


def _url_list(where: str, key: str, value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SourceError(f"{where}: field '{key}': expected a list of URLs")
    for url in value:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SourceError(f"{where}: field '{key}': {url!r} is not an http(s) URL")
    return tuple(value)


def source_from_dict(data: dict, where: str = "sources.toml") -> Source:
    """Validate one [[source]] table."""
    name = data.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise SourceError(
            f"{where}: source {name!r}: field 'name': use lower-case letters, digits, '-' and '_'"
        )
    where = f"{where}: source '{name}'"
    unknown = set(data) - _KNOWN
    if unknown:
        raise SourceError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    feeds = _url_list(where, "feeds", data.get("feeds"))
    sitemaps = _url_list(where, "sitemaps", data.get("sitemaps"))
    starts = _url_list(where, "start_urls", data.get("start_urls"))
    if not (feeds or sitemaps or starts):
        raise SourceError(f"{where}: needs at least one of 'feeds', 'sitemaps', 'start_urls'")
    domains = data.get("allowed_domains")
    if domains is None:
        domains = sorted(
            {urlsplit(u).hostname for u in feeds + sitemaps + starts if urlsplit(u).hostname}
        )
    elif not isinstance(domains, list) or not all(isinstance(d, str) and d for d in domains):
        raise SourceError(f"{where}: field 'allowed_domains': expected a list of host names")
    pattern = data.get("article_pattern")
    if pattern is not None:
        try:
            re.compile(pattern)
        except (re.error, TypeError) as exc:
            raise SourceError(
                f"{where}: field 'article_pattern': not a regular expression ({exc})"
            ) from None
    languages = data.get("languages", [])
    if not isinstance(languages, list) or not all(
        isinstance(x, str) and re.fullmatch(r"[a-z]{2,3}", x) for x in languages
    ):
        raise SourceError(
            f'{where}: field \'languages\': expected ISO 639-1 codes like ["en", "fr"]'
        )
    try:
        interval = parse_duration(data.get("interval", 3600))
    except ValueError as exc:
        raise SourceError(f"{where}: field 'interval': {exc}") from None
    cron = data.get("cron")
    if cron is not None:
        from croniter import croniter

        if not isinstance(cron, str) or not croniter.is_valid(cron):
            raise SourceError(f"{where}: field 'cron': {cron!r} is not a cron expression")
        if "interval" in data:
            raise SourceError(f"{where}: field 'cron': set 'cron' or 'interval', not both")
    budget = data.get("budget", 5000)
    if not isinstance(budget, int) or isinstance(budget, bool) or budget <= 0:
        raise SourceError(f"{where}: field 'budget': expected a positive whole number of pages")
    floor = data.get("lang_floor", DEFAULT_LANG_FLOOR)
    if not isinstance(floor, int | float) or isinstance(floor, bool) or not 0 <= floor <= 1:
        raise SourceError(f"{where}: field 'lang_floor': expected a number between 0 and 1")
    quality = data.get("quality", {})
    from pipeline.quality import RULE_NAMES

    if not isinstance(quality, dict):
        raise SourceError(f"{where}: field 'quality': expected a table of rule = threshold")
    for rule, value in quality.items():
        if rule not in RULE_NAMES:
            raise SourceError(
                f"{where}: field 'quality.{rule}': no such rule (rules: {', '.join(RULE_NAMES)})"
            )
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise SourceError(f"{where}: field 'quality.{rule}': expected a number")
    return Source(
        name=name,
        feeds=feeds,
        sitemaps=sitemaps,
        start_urls=starts,
        allowed_domains=tuple(domains),
        article_pattern=pattern,
        languages=tuple(languages),
        interval=interval,
        cron=cron,
        budget=budget,
        lang_floor=float(floor),
        quality={k: float(v) for k, v in quality.items()},
        title=str(data.get("title", "")),
    )


def sources_file() -> Path:
    """The sources file in force: $WINNOW_SOURCES, else settings/sources.toml."""
    return Path(os.environ.get("WINNOW_SOURCES") or DEFAULT_FILE)


def load_sources(path: str | os.PathLike[str] | None = None) -> dict[str, Source]:
    """Read and validate a sources file; returns sources by name."""
    path = Path(path) if path else sources_file()
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise SourceError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise SourceError(f"{path}: is a directory, not a sources file") from None
    except UnicodeDecodeError as exc:
        raise SourceError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise SourceError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise SourceError(f"{path}: not valid TOML ({exc})") from None
    unknown = sorted(set(data) - {"source"})
    if unknown:
        raise SourceError(
            f"{path}: unknown top-level key(s) {', '.join(unknown)} (a source is a [[source]] table)"
        )
    entries = data.get("source", [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise SourceError(f"{path}: use [[source]] tables")
    found: dict[str, Source] = {}
    for entry in entries:
        source = source_from_dict(entry, str(path))
        if source.name in found:
            raise SourceError(f"{path}: source '{source.name}': field 'name': defined twice")
        found[source.name] = source
    return found


def select_sources(
    names: list[str], path: str | os.PathLike[str] | None = None
) -> dict[str, Source]:
    """The named sources of a sources file, or every one when none is named.

    Raises SourceError for a name the file does not define, or a file that is not valid.
    """
    available = load_sources(path)
    missing = [name for name in names if name not in available]
    if missing:
        raise SourceError(
            f"{Path(path) if path else sources_file()}: unknown source(s): {', '.join(missing)} "
            f"(defined: {', '.join(sorted(available)) or 'none'}; see `winnow sources`)"
        )
    return {name: available[name] for name in names} if names else available
