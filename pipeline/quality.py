"""Quality rules: named checks in the spirit of Gopher, C4 and FineWeb, tuned for news.

Each rule measures one number on the cleaned text and compares it with a threshold;
its name, prefixed with `quality:`, is the reject reason. Rules that need a language
resource (stop words) skip languages they have none for, so a Japanese or Chinese
article is never dropped for lacking English stop words. Thresholds are settings:
`QualityConfig.thresholds` overrides them globally or per source.

The junk-kind rules (soft 404, cookie wall, paywall, login wall, JS shell) come
first: a cookie wall is also short, but "cookie_wall" tells the user more.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache

from pipeline.datafiles import packaged_toml
from pipeline.trailers import normalise_line

_WORD = re.compile(r"\w+", re.UNICODE)
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
_TERMINAL = tuple(".!?…。！？:;»\"'”’)؟۔")


@cache
def stopwords() -> dict[str, frozenset[str]]:
    """Function words per language (pipeline/stopwords.toml)."""
    data = packaged_toml("stopwords.toml")
    return {
        lang: frozenset(unicodedata.normalize("NFKC", w).casefold() for w in words)
        for lang, words in data.items()
    }


@cache
def junk_phrases() -> dict[str, tuple[str, ...]]:
    """Phrases that mark soft 404s, cookie walls, paywalls and login walls (pipeline/junk_phrases.toml)."""
    data = packaged_toml("junk_phrases.toml")
    return {kind: tuple(entry["phrases"]) for kind, entry in data.items()}


def count_words(text: str) -> int:
    """Words, with text in scripts written without spaces counted as one word per two characters."""
    tokens = _WORD.findall(text)
    if not _CJK.search(text):
        return len(tokens)
    total = 0
    for token in tokens:
        cjk = len(_CJK.findall(token))
        total += max(1, cjk // 2) if cjk else 1
    return total


@dataclass(slots=True)
class Doc:
    """What the rules look at: the cleaned text and a few page signals."""

    text: str
    lang: str = ""
    title: str = ""
    link_texts: frozenset[str] = frozenset()
    js_shell: bool = False
    stripped_chars: int = 0
    #: The extracted text before trailer stripping: the junk-kind rules look for their
    #: phrases ("subscribe to continue", "we use cookies") where stripping may remove them.
    raw_text: str = ""
    lines: list[str] = field(init=False)
    words: list[str] = field(init=False)
    word_count: int = field(init=False)
    folded: str = field(init=False)

    def __post_init__(self) -> None:
        self.lines = [line.strip() for line in self.text.splitlines() if line.strip()]
        self.folded = " ".join(self.text.casefold().split())
        self.words = _WORD.findall(self.folded)
        self.word_count = count_words(self.text)


def _phrase_hits(doc: Doc, kind: str) -> int:
    haystack = " ".join((doc.raw_text or doc.text).casefold().split()) + " " + doc.title.casefold()
    return sum(1 for phrase in junk_phrases()[kind] if phrase in haystack)


def js_shell(doc: Doc) -> float:
    """1 when the page is a JavaScript app shell: a <noscript> plea and no text of its own."""
    return 1.0 if doc.js_shell and doc.word_count < 80 else 0.0


def soft_404(doc: Doc) -> float:
    """'Page not found' phrases on a short page served with status 200."""
    return float(_phrase_hits(doc, "soft_404")) if doc.word_count < 250 else 0.0


def cookie_wall(doc: Doc) -> float:
    """Share of lines that are about cookies and consent, on a page too short to be an article."""
    if doc.word_count >= 400 or not doc.lines:
        return 0.0
    phrases = junk_phrases()["cookie_wall"]
    lines = [line for line in (doc.raw_text or doc.text).splitlines() if line.strip()]
    hits = sum(1 for line in lines if any(p in line.casefold() for p in phrases))
    return hits / len(lines)


def paywall_stub(doc: Doc) -> float:
    """Subscription prompts on a page with no more than a teaser."""
    return float(_phrase_hits(doc, "paywall_stub")) if doc.word_count < 300 else 0.0


def login_wall(doc: Doc) -> float:
    """Sign-in and password phrases on a page with hardly any text besides the form."""
    return float(_phrase_hits(doc, "login_wall")) if doc.word_count < 150 else 0.0


def too_short(doc: Doc) -> float:
    """Words of text (scripts without spaces: one word per two characters)."""
    return float(doc.word_count)


#: A line of this many words is prose (scripts without spaces: characters / 2.5); a
#: shorter one is prose when it holds two sentences or more. A teaser, a caption, a
#: headline or a menu entry is one short sentence at most.
PROSE_LINE_WORDS = 15
PROSE_MIN_WORDS = 8
#: A short line cut off with ellipses on both sides is a search-result snippet.
PROSE_SNIPPET_WORDS = 40
#: A page with this many words of prose is an article, whatever else came with it.
PROSE_ENOUGH_WORDS = 150
#: Text hard-wrapped at a fixed width (plain-text posts, <pre> blocks, mail archives)
#: comes as one line per screen row: a line of at least this many words that ends
#: without a sentence mark runs on into a next line that starts in lower case, so the
#: paragraph is judged whole. Menu entries and headlines are shorter or start upper case.
PROSE_WRAP_WORDS = 6
#: A list post is a short text introducing a list (a ranking, show notes, a reading
#: list): on a page with at least PROSE_INTRO_WORDS words of prose outside its lists,
#: list items (bullets or numbers) count at PROSE_LIST_WEIGHT of their length. A tag,
#: search or archive page is lists and teasers with little or no prose of its own; and
#: an item that opens with a link of PROSE_HEADLINE_WORDS words or more is a headline,
#: an index entry, which counts in full (an author page: a bio, then its headlines).
PROSE_INTRO_WORDS = 50
PROSE_LIST_WEIGHT = 0.25
PROSE_HEADLINE_WORDS = 4
_HEADLINE_MAX_WORDS = 30
_LIST_MARKERS = ("- ", "* ", "• ")
_NUMBERED = re.compile(r"\d{1,3}[.)] ")
_SENTENCE_END = re.compile(r"[.!?…。！？؟](?:[\s\"'”’»)\]]|$)")


def _paragraphs(lines: list[str]) -> list[str]:
    """The lines with hard-wrapped paragraphs joined back into one line each."""
    out: list[str] = []
    last_words = 0
    for line in lines:
        if last_words >= PROSE_WRAP_WORDS and line[0].islower() and not out[-1].endswith(_TERMINAL):
            out[-1] += " " + line
        else:
            out.append(line)
        last_words = len(line.split())
    return out


def _is_prose(line: str, link_texts: frozenset[str]) -> bool:
    if normalise_line(line) in link_texts:
        return False
    if line.count("…") + line.count("...") >= 2 and len(line.split()) < PROSE_SNIPPET_WORDS:
        return False  # a search-result snippet
    if line.startswith(_LIST_MARKERS):  # bullet paragraphs are prose when they are long
        line = line[2:]
    if line.startswith("|"):  # layout tables: judge the cells' text
        line = " ".join(line.replace("|", " ").split())
    cjk = _CJK.search(line) is not None
    words = len(line) / 2.5 if cjk else len(line.split())
    if words >= PROSE_LINE_WORDS:
        return True
    return words >= PROSE_MIN_WORDS and len(_SENTENCE_END.findall(line)) >= 2


def _is_headline(item: str, link_texts: frozenset[str]) -> bool:
    """True when a list item opens with a link of PROSE_HEADLINE_WORDS words or more."""
    words = item.split()[:_HEADLINE_MAX_WORDS]
    return any(
        normalise_line(" ".join(words[:n])) in link_texts
        for n in range(len(words), PROSE_HEADLINE_WORDS - 1, -1)
    )


def not_prose(doc: Doc) -> float:
    """Share of characters in prose paragraphs (1.0 once there are 150 words of prose).

    Index and search pages, link farms, menus and caption galleries are short lines,
    one-sentence teasers, snippets and links; an article is paragraphs, even when a
    block of related links or captions came along with it. Hard-wrapped lines are
    joined into their paragraphs first (PROSE_WRAP_WORDS). On a page with
    PROSE_INTRO_WORDS (50) words of prose outside its lists, the value is the larger of
    that share and the share with list items weighted PROSE_LIST_WEIGHT (0.25), headline
    items in full: a list post (a ranking, show notes) is a short text and a long list.
    """
    paragraphs = _paragraphs(doc.lines)
    total = sum(len(p) for p in paragraphs)
    if not total:
        return 0.0
    prose_chars = prose_words = own_words = 0
    items: list[tuple[str, bool]] = []  # list items, and whether each is prose
    for para in paragraphs:
        listed = para.startswith(_LIST_MARKERS) or _NUMBERED.match(para) is not None
        prose = _is_prose(para, doc.link_texts)
        if listed:
            items.append((para, prose))
        if not prose:
            continue
        words = count_words(para)
        prose_words += words
        if prose_words >= PROSE_ENOUGH_WORDS:
            return 1.0
        prose_chars += len(para)
        if not listed:
            own_words += words
    share = prose_chars / total
    if own_words < PROSE_INTRO_WORDS or not items:
        return share
    # The list view: items count at PROSE_LIST_WEIGHT of their length, headlines in full.
    weighted_prose, weighted_total = float(prose_chars), float(total)
    for item, prose in items:
        text = item[2:] if item.startswith(_LIST_MARKERS) else _NUMBERED.sub("", item, count=1)
        if _is_headline(text, doc.link_texts):
            continue
        cut = (1.0 - PROSE_LIST_WEIGHT) * len(item)
        weighted_total -= cut
        if prose:
            weighted_prose -= cut
    return max(share, weighted_prose / weighted_total)


#: Words looked at for repeated 5-grams: stuffing shows long before the end of a page.
REPETITION_MAX_WORDS = 3000


def repetition(doc: Doc) -> float:
    """The larger of: the share of characters in repeated lines, in repeated word 5-grams."""
    total = sum(len(line) for line in doc.lines)
    words = doc.words[:REPETITION_MAX_WORDS]
    if not total or len(words) < 10:
        return 0.0
    line_counts = Counter(doc.lines)
    dup_lines = sum(len(line) * (n - 1) for line, n in line_counts.items() if n > 1) / total
    grams = list(zip(words, words[1:], words[2:], words[3:], words[4:], strict=False))
    gram_counts = Counter(grams)
    covered_until = -1
    dup_chars = 0
    for i, gram in enumerate(grams):
        if gram_counts[gram] > 1:
            for k in range(max(i, covered_until + 1), i + 5):
                dup_chars += len(words[k])
            covered_until = i + 4
    return max(dup_lines, dup_chars / max(sum(map(len, words)), 1))


def stopword_ratio(doc: Doc) -> float | None:
    """Share of words that are function words of the page's language (None: no list for it)."""
    words = stopwords().get(doc.lang)
    if words is None or not doc.words:
        return None
    return sum(1 for w in doc.words if w in words) / len(doc.words)


def boilerplate_ratio(doc: Doc) -> float:
    """Share of the extracted characters that trailer stripping removed."""
    kept = sum(len(line) for line in doc.lines)
    return doc.stripped_chars / max(kept + doc.stripped_chars, 1)


@dataclass(frozen=True, slots=True)
class Rule:
    """A named check: reject when `measure` is below (`minimum`) or above the threshold."""

    name: str
    measure: Callable[[Doc], float | None]
    threshold: float
    minimum: bool

    @property
    def reason(self) -> str:
        return f"quality:{self.name}"

    @property
    def doc(self) -> str:
        return (self.measure.__doc__ or "").strip().splitlines()[0]

    def fails(self, value: float | None, threshold: float | None = None) -> bool:
        if value is None:
            return False
        limit = self.threshold if threshold is None else threshold
        return value < limit if self.minimum else value > limit


RULES: tuple[Rule, ...] = (
    Rule("js_shell", js_shell, 0.5, minimum=False),
    Rule("soft_404", soft_404, 0.5, minimum=False),
    Rule("cookie_wall", cookie_wall, 0.3, minimum=False),
    Rule("login_wall", login_wall, 1.5, minimum=False),
    Rule("paywall_stub", paywall_stub, 0.5, minimum=False),
    Rule("too_short", too_short, 40, minimum=True),
    Rule("not_prose", not_prose, 0.35, minimum=True),
    Rule("repetition", repetition, 0.8, minimum=False),
    Rule("stopword_ratio", stopword_ratio, 0.08, minimum=True),
    Rule("boilerplate_ratio", boilerplate_ratio, 0.75, minimum=False),
)
RULE_NAMES = tuple(rule.name for rule in RULES)


@dataclass(frozen=True, slots=True)
class Check:
    """One rule applied to one page: its measured value and the threshold it was held to."""

    rule: str
    value: float | None
    threshold: float
    minimum: bool
    failed: bool


def check_all(doc: Doc, thresholds: Mapping[str, float] | None = None) -> list[Check]:
    """Every rule's value and verdict, in order (for `--explain`)."""
    thresholds = thresholds or {}
    out = []
    for rule in RULES:
        value = rule.measure(doc)
        limit = float(thresholds.get(rule.name, rule.threshold))
        out.append(Check(rule.name, value, limit, rule.minimum, rule.fails(value, limit)))
    return out


def first_failure(doc: Doc, thresholds: Mapping[str, float] | None = None) -> Check | None:
    """The first rule the page fails, or None if it passes them all."""
    thresholds = thresholds or {}
    for rule in RULES:
        value = rule.measure(doc)
        limit = float(thresholds.get(rule.name, rule.threshold))
        if rule.fails(value, limit):
            return Check(rule.name, value, limit, rule.minimum, True)
    return None
