"""The junk corpus: every real article kept, every junk page rejected by the rule named for it."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from pipeline import quality
from pipeline.clean import Trace, clean
from pipeline.config import CleanConfig
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


# Pages written for these tests: a list post and a hard-wrapped post (real articles with
# little prose) against a tag page and an author page (index pages with a little text).
TOMATOES = [
    "Sungold", "Black Krim", "Gardener's Delight", "Brandywine", "San Marzano", "Green Zebra",
    "Cherokee Purple", "Moneymaker", "Ailsa Craig", "Costoluto Genovese", "Yellow Pear",
    "Marmande", "Shirley", "Tigerella", "Principe Borghese", "Black Cherry", "Alicante", "Roma",
    "Super Sweet 100", "Golden Sunrise", "Harbinger", "Red Alert", "Ferline", "Legend",
    "Sweet Aperitif", "Rosella", "Indigo Rose", "Orange Banana", "Striped German", "Big Rainbow",
    "Amish Paste", "Cuor di Bue", "Pink Brandywine", "Riesentraube", "Latah", "Stupice",
    "Sub Arctic Plenty", "Glacier", "Matina", "Tumbler",
]  # fmt: skip
LIST_POST = f"""<html lang="en"><head><title>Every tomato I have grown, ranked</title></head>
<body><nav><a href="/">Home</a> <a href="/garden">Garden</a> <a href="/about">About</a></nav>
<article><h1>Every tomato I have grown, ranked</h1>
<p>Ten summers on the allotment means a lot of tomatoes. I kept notes every year, so the
ranking below is not a guess: it is taste first, then how each plant coped with wet Augusts.</p>
<p>Sungold wins, as it does in every list like this one. I left out the two that died.</p>
<p>{"<br>".join(f"{n}. {name}" for n, name in enumerate(TOMATOES, 1))}</p>
</article></body></html>"""
WRAPPED_POST = """<html lang="en"><head><title>Boring backups</title></head><body>
<article><h1>Boring backups</h1><pre>Last week I finally moved my backups off the old NAS. The new setup is
simpler than the old one, which was a pile of cron jobs that nobody,
including me, could explain any more. Everything now goes through one
small script that runs every night and mails me when it fails.
The script itself is short:
#!/bin/sh
set -eu
restic backup /home /etc --exclude-caches
restic forget --keep-daily 7 --keep-weekly 5 --prune
It is not clever, and that is the point: when it breaks at three in the
morning I want to read it in ten seconds and know what it was trying to
do. The restore test runs once a month and checks a random sample of
files against the live copy.</pre></article></body></html>"""
HEADLINES = [
    ("Council approves budget for new library", "The vote was close after a long debate"),
    ("Bridge repairs to start next month", "Drivers face six weeks of diversions"),
    ("Local bakery wins national bread award", "Its sourdough beat 300 entries"),
    ("School reopens after winter flood damage", "Pupils return to repaired classrooms"),
    ("Tram line extension delayed once again", "The contractor blames supply problems"),
    ("Farmers market moves to the square", "Traders welcome the bigger site"),
    ("Record turnout at the city marathon", "More than 9,000 runners took part"),
    ("New cycle lanes divide shop owners", "Some fear the loss of parking"),
    ("Museum opens its archive to the public", "Visits must be booked in advance"),
    ("Hospital car park fees to rise", "Staff are exempt from the increase"),
]
BIO = (
    "Jane Porter has covered the town for the Gazette since 2009. Before that she worked for"
    " the regional radio station, where she presented the morning news for six years. She"
    " writes about planning, transport and the council, and she runs the weekly politics"
    " newsletter. Tips and story ideas are welcome by email."
)


def index_page(intro: str) -> str:
    items = "".join(
        f'<li><a href="/news/{n}">{title}</a> <span>{teaser}</span> <time>{n + 1} Mar 2024</time></li>'
        for n, (title, teaser) in enumerate(HEADLINES)
    )
    return f"""<html lang="en"><head><title>The Gazette</title></head><body><main>
<h1>Local news</h1><p>{intro}</p><ul>{items}</ul></main></body></html>"""


def written_page(html: str) -> Page:
    return Page(
        url="http://blog.example/post", body=html.encode(), headers={"content-type": "text/html"}
    )


def test_a_list_post_is_kept_where_an_index_page_with_as_much_text_is_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    record = clean(written_page(LIST_POST))
    assert record.kept and record.text.count("\n") > 40  # the intro and all 40 ranked items
    # Index pages: a one-sentence blurb, or a bio as long as the list post's intro, above
    # headlines (an item that opens with a link of 4+ words counts in full).
    tag_page = clean(written_page(index_page("Our coverage of the town, updated every day.")))
    assert tag_page.reason == "quality:not_prose"
    author_page = clean(written_page(index_page(BIO)))
    assert author_page.reason == "quality:not_prose"
    # Were headlines discounted like other items, the bio would carry the author page;
    # judged without the list view, the list post would be rejected like the index pages.
    monkeypatch.setattr(quality, "PROSE_HEADLINE_WORDS", 10**6)
    assert clean(written_page(index_page(BIO))).kept
    monkeypatch.setattr(quality, "PROSE_INTRO_WORDS", 10**6)
    assert clean(written_page(LIST_POST)).reason == "quality:not_prose"


def test_hard_wrapped_paragraphs_are_judged_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    record = clean(written_page(WRAPPED_POST))
    assert record.kept and "including me, could explain" in record.text
    menu = Doc(text="\n".join(["home", "news and views", "sport", "weather", "contact us"] * 8))
    assert quality.not_prose(menu) == 0.0  # short lower-case entries are not run together
    monkeypatch.setattr(quality, "PROSE_WRAP_WORDS", 10**6)
    assert clean(written_page(WRAPPED_POST)).reason == "quality:not_prose"
