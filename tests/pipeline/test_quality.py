"""The junk corpus: every real article kept, every junk page rejected by the rule named for it."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from pipeline.clean import CleanConfig, Trace, clean
from pipeline.page import Page
from pipeline.quality import RULES, Doc, check_all, first_failure

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
EXPECTED = tomllib.loads((CORPUS / "expected.toml").read_text("utf-8"))["page"]


def corpus_page(name: str) -> Page:
    return Page(
        url=f"http://news.example/{name}",
        body=(CORPUS / name).read_bytes(),
        headers={"content-type": "text/html"},
    )


def test_corpus_is_half_articles_half_junk_in_five_languages() -> None:
    keep = [e for e in EXPECTED if e["expect"] == "keep"]
    assert len(EXPECTED) >= 40 and len(keep) * 2 >= len(EXPECTED) - 2
    assert len({e["lang"] for e in EXPECTED}) >= 5


@pytest.mark.parametrize("entry", EXPECTED, ids=[e["file"] for e in EXPECTED])
def test_corpus_page_gets_its_expected_outcome(entry: dict) -> None:
    record = clean(corpus_page(entry["file"]))
    got = "keep" if record.kept else record.reason
    assert got == entry["expect"], f"{entry['why']}: {getattr(record, 'detail', '')}"
    if record.kept:
        assert record.lang == entry["lang"]


def test_rejects_carry_the_rules_measured_value_and_threshold_in_the_detail() -> None:
    record = clean(corpus_page("30_en_tagpage.html"))
    assert record.reason == "quality:not_prose"
    assert record.value is not None and record.value < 0.35
    assert "< 0.35" in record.detail and record.title


def test_stopword_rule_skips_languages_without_a_list() -> None:
    text = "\n".join(
        json.loads((CORPUS.parent / "trailer_pages" / "ja.json").read_text("utf-8"))["paragraphs"]
    )
    assert first_failure(Doc(text=text, lang="ja")) is None
    check = {c.rule: c for c in check_all(Doc(text=text, lang="ja"))}["stopword_ratio"]
    assert check.value is None and not check.failed


def test_thresholds_can_be_overridden_per_source() -> None:
    page = corpus_page("05_ru_breaking.html")
    assert clean(page).kept
    strict = clean(page, CleanConfig(thresholds={"too_short": 500}))
    assert strict.reason == "quality:too_short"


def test_every_rule_has_a_name_and_a_documented_measure() -> None:
    names = [r.name for r in RULES]
    assert len(names) == len(set(names))
    for rule in RULES:
        assert rule.doc, rule.name
        assert rule.reason == f"quality:{rule.name}"


def test_explain_lists_every_rule_with_value_and_threshold() -> None:
    trace = Trace()
    clean(corpus_page("01_en_breaking.html"), trace=trace)
    assert [c.rule for c in trace.checks] == [r.name for r in RULES]
    assert all(c.threshold is not None for c in trace.checks)
