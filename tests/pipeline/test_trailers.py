"""Trailer stripping: the library in 15 languages, edge rules, and what must never be touched."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from pipeline.clean import clean
from pipeline.page import Page
from pipeline.trailers import TrailerLibrary, default_library, normalise_line, strip_trailers

PAGES = Path(__file__).resolve().parents[1] / "trailer_pages"
LANGS = ["en", "es", "pt", "fr", "de", "it", "ru", "ar", "fa", "tr", "id", "nl", "pl", "ja", "zh"]
# trafilatura drops invisible format characters (the Persian zero-width non-joiner among them)
_FORMAT_CHARS = re.compile("[\u200b-\u200f\u2060\ufeff]")


def visible(text: str) -> str:
    return " ".join(_FORMAT_CHARS.sub("", text).split())


@pytest.mark.parametrize("lang", LANGS)
def test_comment_form_and_footer_inside_the_content_block_are_stripped(lang: str) -> None:
    expected = json.loads((PAGES / f"{lang}.json").read_text("utf-8"))
    page = Page(
        url=f"http://{lang}.news.example/2026/11/03/story/",
        body=(PAGES / f"{lang}.html").read_bytes(),
        headers={"content-type": "text/html; charset=utf-8"},
    )
    record = clean(page)
    assert record.kept, (record.reason, record.detail)
    assert record.lang == lang
    lines = [visible(line) for line in record.text.splitlines()]
    assert lines == [visible(p) for p in expected["paragraphs"]]  # every paragraph, nothing else
    for trailer in expected["trailers"]:
        assert visible(trailer) not in lines


def test_the_library_covers_fifteen_languages_and_every_entry_says_its_kind() -> None:
    lib = default_library()
    entries = [*lib.exact.values(), *lib.patterns]
    assert set(LANGS) <= {e.lang for e in entries}
    kinds = {e.kind for e in entries}
    assert {
        "comment_form",
        "theme_credit",
        "navigation",
        "share",
        "related",
        "newsletter",
        "photo_credit",
        "shortcode",
        "cookie_notice",
        "advertisement",
    } <= kinds
    for pattern in lib.patterns:
        assert pattern.pattern.startswith("^") and pattern.pattern.endswith("$")


def test_normalise_line_folds_case_space_and_edge_punctuation() -> None:
    assert normalise_line("  Leave a  Reply: ") == "leave a reply"
    assert normalise_line("» Back to top ↑") == "back to top"
    assert (
        normalise_line("Your email address will not be published. Required fields are marked *")
        == "your email address will not be published. required fields are marked"
    )


SENTENCES = [
    "Share prices fell sharply on Tuesday after the central bank raised rates.",
    "Leave a reply, the minister told reporters, was not an option for the government.",
    "Read more about the plan in the council's published minutes, officials said.",
    "Back to top form, the striker scored twice in the second half.",
    "Tags: the graffiti artists left them on every bridge in the district, police said after a long investigation into the vandalism.",
]


@pytest.mark.parametrize("sentence", SENTENCES)
def test_a_sentence_that_merely_contains_a_trailer_word_is_kept(sentence: str) -> None:
    lines = [
        "First paragraph of a story that is long enough to be the article's own text.",
        sentence,
        "Last paragraph.",
    ]
    assert strip_trailers(lines).lines == lines


def test_patterns_apply_at_the_edges_only_but_exact_lines_anywhere() -> None:
    lib = TrailerLibrary.from_entries(
        [
            {"lang": "en", "kind": "tags", "pattern": r"^tags: .{1,80}$"},
            {"lang": "en", "kind": "navigation", "text": "Back to top"},
        ]
    )
    body = [
        "Tags: politics, iraq",
        "The story begins here and runs on.",
        "Tags: politics, iraq",
        "Back to top",
        "More story.",
        "Tags: world",
    ]
    out = strip_trailers(body, library=lib)
    assert out.lines == [
        "The story begins here and runs on.",
        "Tags: politics, iraq",
        "More story.",
    ]
    assert dict(out.removed)["Back to top"].startswith("navigation[en]")


def test_patterns_reach_into_the_tail_past_a_line_no_pattern_knows() -> None:
    story = [
        f"Paragraph {i} of the article, with enough words to read as real prose here."
        for i in range(8)
    ]
    tail = [
        "If you enjoyed reading this post, would you consider supporting our work? Thanks!",
        "Jane Doe covers city hall for the Courier and has lived in the valley since 1998.",
    ]
    out = strip_trailers(story + tail)
    assert out.lines == [*story, tail[1]]
    # within the last lines only: the same prompt early in the body is the body's business
    early = strip_trailers([story[0], tail[0], *story[1:]])
    assert tail[0] in early.lines


def test_a_section_opener_in_the_tail_takes_the_short_lines_after_it() -> None:
    body = [
        f"Paragraph {i} of the article, with enough words to read as real prose here."
        for i in range(6)
    ]
    tail = ["Related posts", "Iraq parliament votes on troops", "Oil exports resume in Basra"]
    out = strip_trailers(body + tail)
    assert out.lines == body


def test_a_duplicated_title_line_is_dropped() -> None:
    out = strip_trailers(["Big Story Headline", "The story itself."], title="Big Story Headline")
    assert out.lines == ["The story itself."]
    assert out.removed == [("Big Story Headline", "title")]


def test_a_bad_pattern_in_a_library_is_named_when_it_loads() -> None:
    entries = [
        {"lang": "en", "kind": "tags", "pattern": r"^tags: .{1,80}$"},
        {"lang": "en", "kind": "share", "pattern": r"^share (this$"},
    ]
    with pytest.raises(ValueError, match=r"share\[en\]:\^share \(this\$.* is not valid"):
        TrailerLibrary.from_entries(entries)
