"""The spin score: spun copies score high, genuine news low, unsupported languages None."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.clean import clean
from pipeline.page import Page
from pipeline.spin import article_errors, spin_evidence, spin_score, substitutions

TESTS = Path(__file__).resolve().parents[1]
SEEDS = TESTS.parent.parent / "shared" / "seeds"


def seed(prefix: str) -> str:
    """The seed text from ../shared/seeds, or, without it, from the demo page that renders it."""
    found = sorted(SEEDS.glob(f"{prefix}_*.txt"))
    if found:
        return found[0].read_text("utf-8")
    from lxml import html

    from tests.pipeline.test_clean import SEED_PAGES

    tree = html.fromstring(SEED_PAGES[f"seed_{prefix}"].read_bytes())
    return "\n".join(
        p.text_content() for p in tree.xpath("//div[contains(@class, 'entry-content')]/p")
    )


def test_the_spun_seed_scores_high_and_the_genuine_one_low() -> None:
    spun, genuine = spin_evidence(seed("000"), "en"), spin_evidence(seed("003"), "en")
    assert spun.score >= 0.9
    assert genuine.score <= 0.05
    found = dict(spun.substitutions)
    assert found["point out department"] == "state department"
    assert found["getty photos"] == "getty images"
    assert found["push meeting"] == "press conference"
    assert any(original == "<name> added" for _, original in spun.substitutions)  # "he extra."
    assert "an job" in spun.article_errors


def test_genuine_english_articles_score_zero() -> None:
    pages = sorted((TESTS / "corpus").glob("*_en_*.html"))
    scored = 0
    for path in pages:
        record = clean(Page(url="http://news.example/a", body=path.read_bytes()))
        if record.kept and record.lang == "en":
            assert record.spin_score == 0.0, (path.name, spin_evidence(record.text, "en"))
            scored += 1
    assert scored >= 4


def test_one_stray_phrase_in_a_long_article_is_not_enough() -> None:
    text = seed("003") + "\nOfficials said they would hold a push meeting on Friday."
    assert 0.0 < spin_score(text, "en") < 0.35


@pytest.mark.parametrize(
    ("text", "errors"),
    [
        ("He said so in an job interview with CNN.", ["an job"]),
        ("It was a oversight, she said.", ["a oversight"]),
        ("An hour later a university official met an honest broker.", []),
        ("A European diplomat, a one-off meeting and a U-turn by an FBI agent.", []),
        ("A useful tool, a unique case and a usual suspect.", []),
    ],
)
def test_article_agreement_errors(text: str, errors: list[str]) -> None:
    assert article_errors(text) == errors


def test_languages_without_a_substitution_list_have_no_score() -> None:
    assert "fr" not in substitutions()
    assert spin_score("Le ministère a déclaré vendredi que les troupes resteraient.", "fr") is None
    assert spin_score("", "en") == 0.0


def test_the_score_is_stored_on_cleaned_articles() -> None:
    page = (
        TESTS.parent
        / "winnow/demo/sites/meridian/2026/11/04/state-department-iraq-troops/index.html"
    )
    body = page.read_bytes().replace(b"{{BASE}}", b"http://meridian.example")
    record = clean(Page(url="http://meridian.example/a", body=body))
    assert record.kept and record.spin_score >= 0.9
    assert record.minhash is not None and len(record.minhash) == 128
    assert record.skeleton_hash is not None and len(record.skeleton_hash) == 64
