"""Language identification: deterministic, sampled, honest about what it cannot tell."""

from __future__ import annotations

import json
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
from langdetect import DetectorFactory
from langdetect.detector_factory import PROFILES_DIRECTORY

from pipeline.language import SAMPLE_CHARS, detect_language, langdetect_factory, sample_text

PAGES = Path(__file__).resolve().parents[1] / "trailer_pages"
LANGS = ["en", "es", "pt", "fr", "de", "it", "ru", "ar", "fa", "tr", "id", "nl", "pl", "ja", "zh"]


def article(lang: str) -> str:
    return "\n".join(json.loads((PAGES / f"{lang}.json").read_text("utf-8"))["paragraphs"])


@pytest.mark.parametrize("backend", ["langdetect", "fasttext"])
def test_fifteen_languages_are_identified(backend: str) -> None:
    wrong = {}
    for lang in LANGS:
        guess = detect_language(article(lang), backend)
        if not guess.lang.startswith(lang[:2]) and not (
            lang == "zh" and guess.lang.startswith("zh")
        ):
            wrong[lang] = guess
    assert not wrong


def _detect_all(_: int) -> list[tuple[str, float]]:
    return [(g.lang, round(g.score, 6)) for g in (detect_language(article(lang)) for lang in LANGS)]


def test_same_text_same_answer_in_every_worker_process() -> None:
    with ProcessPoolExecutor(max_workers=2) as pool:
        first, second = pool.map(_detect_all, [0, 1])
    assert first == second == _detect_all(2)


def test_sample_is_bounded_and_spread_over_the_leading_text() -> None:
    text = " ".join(f"word{i}" for i in range(5000))
    sample = sample_text(text)
    assert len(sample) <= SAMPLE_CHARS + 40
    assert "word0 " in sample and "word2500" not in sample[:50]


def test_non_linguistic_text_is_undetermined_with_a_reason() -> None:
    guess = detect_language("12 34 56 -- 78 / 90")
    assert guess.lang == "" and "no letters" in guess.detail


def test_a_mixed_page_is_judged_on_the_article() -> None:
    english = article("en")
    arabic_comments = "\n".join(
        json.loads((PAGES / "ar.json").read_text("utf-8"))["paragraphs"][:2]
    )
    assert detect_language(english + "\n" + arabic_comments).lang == "en"


def test_ngram_rows_built_on_use_are_langdetects_own() -> None:
    stock = DetectorFactory()
    stock.load_profile(PROFILES_DIRECTORY)
    ours = langdetect_factory()
    assert ours.langlist == stock.langlist
    assert len(ours.word_lang_prob_map) == len(stock.word_lang_prob_map)
    for word, row in stock.word_lang_prob_map.items():
        assert word in ours.word_lang_prob_map
        assert ours.word_lang_prob_map[word] == row, word
    assert "zzq" not in ours.word_lang_prob_map
    with pytest.raises(KeyError):
        ours.word_lang_prob_map["zzq"]
