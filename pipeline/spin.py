"""Spin score: how much an article reads like the output of a synonym-swapping spinner.

Content farms republish news through "spinners" that replace words with synonyms
regardless of sense: "State Department" becomes "Point out Department", "said"
becomes "reported", "added" becomes "extra", "a mistake" becomes "a oversight". The
score in [0, 1] (the `articles.spin_score` column) needs no model, only two signals:

* known spinner substitutions (pipeline/spinner_substitutions.toml): phrases a
  careful writer never uses, each distinct one counting 1, repeats 1/4;
* function-word anomalies: "a"/"an" that do not agree with the next word ("an job
  interview", "a oversight"), which swaps of the noun after an article produce and
  edited prose almost never has; each one past the first counts 1.

The evidence is scaled to a 500-word article (a long article may hold one stray
phrase) and mapped through 1 - exp(-(e - 1/2) / 1.5): no evidence gives 0, one
stray phrase ~0.28, three ~0.81. Languages without a substitution list get None
(unknown), not 0.

A unigram/bigram table was measured as a third signal and left out: the share of
adjacent word pairs unknown to the 250,000-bigram tables shipped by wordsegment and
symspellpy was 0.39-0.41 for the spun seed (shared/seeds/000) and 0.24-0.44 for 17
genuine English articles, so it does not separate them.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import cache

from pipeline.datafiles import packaged_toml

#: Evidence is counted per this many words (never scaled up for shorter texts).
SCALE_WORDS = 500
_QUOTES = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"'})
_ARTICLE = re.compile(r"\b([Aa]n?) ([^\W\d_][\w'-]*)")
_WORD = re.compile(r"\w+")
#: Words after "a" that start with a vowel letter but a consonant sound, and after
#: "an" that start with a consonant letter but a vowel sound.
_A_VOWEL_OK = (
    "one",
    "once",
    "uni",
    "use",
    "usu",
    "uti",
    "ura",
    "uri",
    "uro",
    "eu",
    "ewe",
    "ubiq",
    "ukr",
    "uk",
    "ufo",
    "utop",
)
_AN_CONSONANT_OK = ("hour", "honest", "honor", "honour", "heir", "herb")


@dataclass(frozen=True)
class Substitutions:
    """One language's spinner substitutions: literal phrases and contextual patterns."""

    phrases: re.Pattern[str] | None
    originals: dict[str, str]
    patterns: tuple[tuple[re.Pattern[str], str], ...]


@dataclass(frozen=True)
class SpinEvidence:
    """What the score was computed from (for `winnow duplicates` and tests)."""

    substitutions: tuple[tuple[str, str], ...]
    article_errors: tuple[str, ...]
    words: int
    score: float


@cache
def substitutions() -> dict[str, Substitutions]:
    """The substitution lists per language (pipeline/spinner_substitutions.toml)."""
    data = packaged_toml("spinner_substitutions.toml")
    out = {}
    for lang, entry in data.items():
        phrases = {p.casefold(): orig for p, orig in entry.get("phrases", {}).items()}
        alternation = "|".join(
            r"\s+".join(map(re.escape, p.split())) for p in sorted(phrases, key=len, reverse=True)
        )
        out[lang] = Substitutions(
            phrases=re.compile(rf"\b(?:{alternation})\b") if phrases else None,
            originals=phrases,
            patterns=tuple((re.compile(p), orig) for p, orig in entry.get("patterns", {}).items()),
        )
    return out


def article_errors(text: str) -> list[str]:
    """English "a"/"an" followed by a word they do not agree with ("an job", "a oversight")."""
    errors = []
    for article, word in _ARTICLE.findall(text):
        lowered = word.casefold()
        if len(word) < 2 or word[:2].isupper():  # letters and acronyms: "a U-turn", "an FBI"
            continue
        vowel = lowered[0] in "aeiou"
        if article.casefold() == "a":
            wrong = vowel and not lowered.startswith(_A_VOWEL_OK)
        else:
            wrong = not vowel and not lowered.startswith(_AN_CONSONANT_OK)
        if wrong:
            errors.append(f"{article} {word}")
    return errors


def spin_evidence(text: str, lang: str) -> SpinEvidence | None:
    """The substitutions and anomalies found, and the score; None for unsupported languages."""
    subs = substitutions().get(lang)
    if subs is None:
        return None
    plain = text.translate(_QUOTES)
    folded = plain.casefold()
    found: list[tuple[str, str]] = []
    if subs.phrases is not None:
        for match in subs.phrases.finditer(folded):
            phrase = " ".join(match.group(0).split())
            found.append((phrase, subs.originals[phrase]))
    for pattern, original in subs.patterns:
        found.extend((m.group(0), original) for m in pattern.finditer(plain))
    errors = article_errors(plain) if lang == "en" else []
    words = len(_WORD.findall(folded))
    distinct = len({phrase.casefold() for phrase, _ in found})
    evidence = distinct + (len(found) - distinct) / 4 + max(0, len(errors) - 1)
    evidence *= min(1.0, SCALE_WORDS / max(words, 1))
    score = 1.0 - math.exp(-max(0.0, evidence - 0.5) / 1.5)
    return SpinEvidence(tuple(found), tuple(errors), words, round(score, 4))


def spin_score(text: str, lang: str) -> float | None:
    """The article's spin score in [0, 1], or None when `lang` has no substitution list."""
    evidence = spin_evidence(text, lang)
    return None if evidence is None else evidence.score
