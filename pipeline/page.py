"""A fetched page: what a spider hands to the cleaning stage."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC (every timestamp in winnow is UTC)."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Page:
    """One HTTP response, as plain data.

    `headers` keys are lower-case; values are decoded as latin-1 (HTTP's own charset).
    `url` is the final URL after redirects; `source` names the configured source.
    """

    url: str
    body: bytes
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    fetched_at: datetime = field(default_factory=utcnow)
    source: str = ""
    #: The URL first asked for, when redirects led elsewhere.
    requested_url: str | None = None

    @property
    def content_type(self) -> str:
        """The media type without parameters, lower-case ('' when absent)."""
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()
