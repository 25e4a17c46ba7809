"""The cleaning stage's configuration: plain data, cheap to import.

The crawler process builds one `CleanConfig` per source and sends it with each page
to the cleaning workers; it never cleans, so it imports this module and not
`pipeline.clean` (trafilatura, lxml and langdetect: ~0.2 s of its start).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
#: langdetect's probability below which the language counts as undetermined. Its
#: trials disagree on mixed or list-like text; one of three going astray gives 0.67.
DEFAULT_LANG_FLOOR = 0.5


@dataclass(frozen=True)
class CleanConfig:
    """Read-only settings of the cleaning stage (one per source; see settings/sources.py)."""

    languages: tuple[str, ...] = ()
    lang_floor: float = DEFAULT_LANG_FLOOR
    language_backend: str = "langdetect"
    thresholds: Mapping[str, float] = field(default_factory=dict)
    max_bytes: int = DEFAULT_MAX_BYTES
    #: The site's learned template lines (normalised), stripped like trailers.
    templates: frozenset[str] = frozenset()


DEFAULT_CONFIG = CleanConfig()
