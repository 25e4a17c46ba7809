"""Trailer stripping: remove the furniture extractors leave inside the article text.

The library of trailers is data (`trailers.toml`, next to this module): each entry
has a language, a kind and either a whole-line `text` or an anchored `pattern`.
Lines are compared after `normalise_line`. Three rules decide what goes:

* a line equal to a `text` entry goes wherever it stands;
* a line fully matched by a `pattern` goes only at the head or tail edge of the
  body (a run of trailer lines reaching the first or last line) or among its last
  `TAIL_WINDOW` lines (within its last `SECTION_TAIL_SHARE`), where trailers sit
  between related headlines and author notes no pattern knows; except kinds in
  `ANYWHERE_KINDS`, whose patterns are specific enough to trust anywhere;
* in the tail, a section opener ("Related posts", "Leave a Reply", ...) takes with
  it the short lines that follow it (related headlines, form labels).

A pattern is always matched against a whole line, so a sentence that merely contains
a common word ("Share prices fell") is never touched. The title repeated as the first
line is dropped too: the title is a column, not text.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache

from pipeline.datafiles import packaged_toml

#: Kinds whose patterns may strip a line anywhere in the body, not just at its edges.
ANYWHERE_KINDS = frozenset({"photo_credit", "shortcode"})
#: Kinds that open a trailing section: what follows them, if short, goes with them.
SECTION_KINDS = frozenset(
    {"comment_form", "comment_count", "related", "newsletter", "share", "follow"}
)
#: No pattern claims a line longer than this: it is a paragraph.
MAX_PATTERN_LINE_CHARS = 320
#: A section opener ("Related posts", "Leave a Reply") is a heading of at most this many words.
SECTION_OPENER_MAX_WORDS = 8
#: A line longer than this (in words) is article text, whatever a section opener says.
SECTION_LINE_MAX_WORDS = 16
#: A tail line that is only a link, and no longer than this, is a link to elsewhere.
LINK_LINE_MAX_WORDS = 20
#: A line this long that appears twice is a repeated paragraph, not a trailer.
REPEATED_PARAGRAPH_WORDS = 8
#: Patterns apply to each of this many last lines, not only to a run reaching the end.
TAIL_WINDOW = 8
#: A tail section opener must sit in the last part of the body to cut what follows; the
#: tail window too stays within it.
SECTION_TAIL_SHARE = 0.4

_EDGE_CHARS_CATEGORIES = ("P", "S", "Z", "C")


def _is_edge_char(ch: str) -> bool:
    return unicodedata.category(ch)[0] in _EDGE_CHARS_CATEGORIES


def normalise_line(line: str) -> str:
    """NFKC, casefold, one space between words, punctuation and symbols trimmed at both ends."""
    text = " ".join(unicodedata.normalize("NFKC", line).casefold().split())
    start, end = 0, len(text)
    while start < end and _is_edge_char(text[start]):
        start += 1
    while end > start and _is_edge_char(text[end - 1]):
        end -= 1
    return text[start:end]


def line_words(line: str) -> int:
    """Words in a line; scripts written without spaces count one word per ~7 characters."""
    return max(len(line.split()), len(line) // 7)


@dataclass(frozen=True, slots=True)
class Trailer:
    """One library entry."""

    lang: str
    kind: str
    text: str | None = None
    pattern: str | None = None  # a regular expression, matched against a whole line
    anywhere: bool = False

    @property
    def rule(self) -> str:
        """The name shown by `winnow extract --explain`: kind, language and the entry."""
        what = self.text if self.text is not None else self.pattern or ""
        return f"{self.kind}[{self.lang}]:{what}"

    def fullmatch(self, line: str) -> bool:
        return self.pattern is not None and _compiled(self.pattern).fullmatch(line) is not None


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    # Compiled on first use: a line reaches its entry only once the library's one
    # alternation has matched it, so most entries never are (a worker starts sooner).
    return re.compile(pattern)


def _union(group: list[Trailer]) -> re.Pattern[str] | None:
    """One alternation of the group's patterns, or the error that names a bad one."""
    if not group:
        return None
    try:
        return re.compile("|".join(f"(?:{t.pattern})" for t in group))
    except re.error:
        for trailer in group:
            try:
                re.compile(trailer.pattern)
            except re.error as exc:
                raise ValueError(f"trailer pattern {trailer.rule!r} is not valid: {exc}") from exc
        raise


@dataclass(frozen=True)
class TrailerLibrary:
    """The compiled library: an exact-line table and a list of patterns.

    Most lines match no pattern, so each group of patterns is also compiled into one
    alternation that rules a line out in a single pass; only a line it matches is tried
    against the patterns one by one, to name the entry.
    """

    exact: dict[str, Trailer]
    patterns: tuple[Trailer, ...]
    any_edge: re.Pattern[str] | None = field(default=None, compare=False)
    any_anywhere: re.Pattern[str] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "any_edge", _union(list(self.patterns)))
        object.__setattr__(self, "any_anywhere", _union([t for t in self.patterns if t.anywhere]))

    @classmethod
    def from_entries(cls, entries: Iterable[dict]) -> TrailerLibrary:
        exact: dict[str, Trailer] = {}
        patterns: list[Trailer] = []
        for entry in entries:
            kind, lang = entry["kind"], entry.get("lang", "*")
            anywhere = bool(entry.get("anywhere", kind in ANYWHERE_KINDS))
            if "text" in entry:
                key = normalise_line(entry["text"])
                if key:
                    exact.setdefault(key, Trailer(lang, kind, text=entry["text"], anywhere=True))
            elif "pattern" in entry:
                patterns.append(Trailer(lang, kind, pattern=entry["pattern"], anywhere=anywhere))
            else:
                raise ValueError(f"trailer entry needs 'text' or 'pattern': {entry}")
        return cls(exact, tuple(patterns))

    def match(self, normalised: str, at_edge: bool) -> Trailer | None:
        """The entry that claims this (normalised) line, if any."""
        if not normalised:
            return None
        hit = self.exact.get(normalised)
        if hit is not None:
            return hit
        if len(normalised) > MAX_PATTERN_LINE_CHARS:
            return None
        screen = self.any_edge if at_edge else self.any_anywhere
        if screen is None or screen.fullmatch(normalised) is None:
            return None
        for trailer in self.patterns:
            if (at_edge or trailer.anywhere) and trailer.fullmatch(normalised):
                return trailer
        return None


@cache
def default_library() -> TrailerLibrary:
    """The library shipped with winnow (pipeline/trailers.toml)."""
    return TrailerLibrary.from_entries(packaged_toml("trailers.toml")["trailer"])


@dataclass(slots=True)
class Stripped:
    """The outcome of stripping: the lines kept and, for each removed line, why."""

    lines: list[str]
    removed: list[tuple[str, str]] = field(default_factory=list)


def strip_trailers(
    lines: Sequence[str],
    title: str | Iterable[str] | None = None,
    library: TrailerLibrary | None = None,
    templates: frozenset[str] = frozenset(),
    link_texts: frozenset[str] = frozenset(),
) -> Stripped:
    """Remove trailer lines from the body.

    `title` is the page's title, or every form of it the page shows (a title repeated as
    one of the first lines goes); `templates` are a site's learned template lines;
    `link_texts` the page's link texts (normalised): a short line at the tail that is
    nothing but a link is a related-article or navigation link.
    """
    library = library or default_library()
    norm = [normalise_line(line) for line in lines]
    reason: list[str | None] = [None] * len(lines)
    titles = [title] if isinstance(title, str) else list(title or ())
    title_keys = {key for t in titles if t and (key := normalise_line(t))}

    def claim(i: int, at_edge: bool) -> str | None:
        if norm[i] in templates:
            return "template"
        hit = library.match(norm[i], at_edge)
        return hit.rule if hit else None

    # Lines known anywhere; blank lines count as trailers so edges run through them.
    for i in range(len(lines)):
        if not norm[i]:
            reason[i] = ""
        elif i < 3 and norm[i] in title_keys:
            reason[i] = "title"
        elif (hit := library.exact.get(norm[i])) is not None or (
            hit := library.match(norm[i], at_edge=False)
        ) is not None:
            reason[i] = hit.rule

    def edge_claim(k: int, tail: bool = False) -> bool:
        if reason[k] is None:
            reason[k] = claim(k, True)
        if (
            reason[k] is None
            and tail
            and norm[k] in link_texts
            and line_words(norm[k]) <= LINK_LINE_MAX_WORDS
        ):
            reason[k] = "link"
        return reason[k] is not None

    # Head edge: walk in while lines are trailers; tail edge: walk back likewise.
    i = 0
    while i < len(lines) and edge_claim(i):
        i += 1
    j = len(lines) - 1
    while j > i and edge_claim(j, tail=True):
        j -= 1
    tail_start = max(i + 1, j - TAIL_WINDOW + 1, len(lines) - int(len(lines) * SECTION_TAIL_SHARE))
    for k in range(tail_start, j):
        if reason[k] is None:
            reason[k] = claim(k, True)
    _cut_tail_sections(lines, norm, reason, library, templates)
    _drop_repeated_paragraphs(norm, reason)

    kept = [line for line, why in zip(lines, reason, strict=True) if why is None]
    removed = [(line, why) for line, why in zip(lines, reason, strict=True) if why]
    return Stripped(kept, removed)


def _cut_tail_sections(
    lines: Sequence[str],
    norm: Sequence[str],
    reason: list[str | None],
    library: TrailerLibrary,
    templates: frozenset[str],
) -> None:
    """A section opener near the end takes the short lines after it (related links, labels)."""
    n = len(lines)
    start = int(n * (1 - SECTION_TAIL_SHARE))
    for i in range(max(start, 1), n):
        if line_words(norm[i]) > SECTION_OPENER_MAX_WORDS:  # an opener is a heading
            continue
        hit = library.match(norm[i], at_edge=True)
        if hit is None or hit.kind not in SECTION_KINDS:
            continue
        rest = range(i + 1, n)
        if all(
            reason[k] is not None or line_words(lines[k]) <= SECTION_LINE_MAX_WORDS for k in rest
        ):
            reason[i] = reason[i] or hit.rule
            for k in rest:
                if reason[k] is None:
                    reason[k] = f"after:{hit.rule}"
            return


def _drop_repeated_paragraphs(norm: Sequence[str], reason: list[str | None]) -> None:
    """A kept paragraph that comes again is the extractor reading the page twice (AMP and
    print copies, sticky teasers): its first kept occurrence stays."""
    seen: set[str] = set()
    for i, key in enumerate(norm):
        if reason[i] is not None or line_words(key) < REPEATED_PARAGRAPH_WORDS:
            continue
        if key in seen:
            reason[i] = "repeated"
        seen.add(key)
