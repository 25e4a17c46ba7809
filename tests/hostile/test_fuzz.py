"""Property tests: whatever bytes a server sends, the cleaning stage answers with a record.

`clean` must return an Article or a Reject with a known reason for every input, and
never raise. Four strategies share FUZZ_CI_TOTAL inputs in the `ci` profile (fixed
seeds): arbitrary bytes, tag soup in many encodings and charset headers, article-like
prose pages, and real HTML with random bytes spliced in and cut short. That a slow
page cannot hang a crawl is the pool's job: tests/hostile/test_pages.py shows a page
over the time bound becoming a `timeout` reject. Discovery gets the same treatment:
only DiscoveryError, whatever the feed or sitemap bytes.
"""

from __future__ import annotations

import codecs
import html

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.clean import clean
from pipeline.page import Page
from pipeline.quality import RULE_NAMES
from pipeline.record import Article, Reject
from spiders.discovery import DiscoveryError, discover
from tests.hostile.conftest import FUZZ_CI_TOTAL, FUZZ_SCALE, PROFILE

#: Every reason `clean` itself may give (the pool adds timeout/worker_crash/clean_error).
CLEAN_REASONS = {
    "http_status",
    "too_large",
    "not_html",
    "empty",
    "encoding",
    "too_deep",
    "language",
    *(f"quality:{rule}" for rule in RULE_NAMES),
}
#: Each strategy's share of the inputs; the shares sum to 1.
SHARES = {"bytes": 0.5, "tag_soup": 0.2, "prose": 0.1, "spliced": 0.2}
EXAMPLES = {name: int(FUZZ_CI_TOTAL * share) * FUZZ_SCALE for name, share in SHARES.items()}
fuzz = settings.get_profile(PROFILE)

TAGS = [
    "html",
    "head",
    "body",
    "title",
    "meta",
    "link",
    "div",
    "p",
    "span",
    "a",
    "article",
    "main",
    "section",
    "header",
    "footer",
    "nav",
    "h1",
    "h2",
    "ul",
    "li",
    "table",
    "tr",
    "td",
    "script",
    "style",
    "noscript",
    "br",
    "img",
    "iframe",
    "form",
    "input",
    "pre",
    "code",
    "svg",
    "template",
    "select",
    "textarea",
    "xmp",
    "plaintext",
    "frameset",
    "object",
    "base",
]
ATTRS = [
    "class",
    "id",
    "href",
    "src",
    "lang",
    "charset",
    "content",
    "http-equiv",
    "name",
    "rel",
    "property",
    "style",
    "dir",
]
CHARSETS = [
    "utf-8",
    "utf-16",
    "utf-16-le",
    "utf-32",
    "cp1251",
    "shift_jis",
    "gb18030",
    "big5",
    "euc-kr",
    "latin-1",
    "cp1252",
    "koi8-r",
    "iso-8859-7",
    "cp1256",
]
HEADER_CHARSETS = [*CHARSETS, "", "zlib", "rot13", "utf-7", "x-bogus", "unicode-escape", "idna"]
CONTENT_TYPES = ["text/html", "application/xhtml+xml", "text/plain", "", "text/xml"]
WORDS = {
    "en": [
        "the",
        "council",
        "said",
        "on",
        "tuesday",
        "that",
        "new",
        "schools",
        "and",
        "roads",
        "would",
        "be",
        "built",
        "next",
        "year",
    ],
    "ru": [
        "правительство",
        "заявило",
        "во",
        "вторник",
        "что",
        "новые",
        "школы",
        "и",
        "дороги",
        "будут",
        "построены",
    ],
    "ja": [
        "政府は",
        "火曜日",
        "新しい",
        "学校",
        "と",
        "道路",
        "を",
        "来年",
        "建設",
        "すると",
        "発表",
        "した",
    ],
    "fr": [
        "le",
        "conseil",
        "a",
        "annoncé",
        "mardi",
        "que",
        "de",
        "nouvelles",
        "écoles",
        "et",
        "routes",
        "seront",
        "construites",
    ],
}

text = st.text(max_size=40)
#: Tag soup is a flat list of tokens: cheap to generate, and unbalanced by nature.
token = st.one_of(
    st.sampled_from([f"<{t}>" for t in TAGS] + [f"</{t}>" for t in TAGS]),
    st.tuples(st.sampled_from(TAGS), st.sampled_from(ATTRS), text).map(
        lambda t: f'<{t[0]} {t[1]}="{html.escape(t[2], quote=True)}">'
    ),
    text.map(html.escape),
    text,
    st.sampled_from(
        [
            "&amp;",
            "&nbsp;",
            "&#0;",
            "&#x110000;",
            "&#xD800;",
            "&bogus;",
            "&",
            "<!--",
            "-->",
            "<![CDATA[",
            "<",
            ">",
            "</",
            "<!DOCTYPE html>",
            "<?php ?>",
        ]
    ),
)
prologue = st.sampled_from(
    [
        "",
        "<!DOCTYPE html>",
        '<?xml version="1.0" encoding="utf-16"?>',
        '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>',
        '<meta charset="shift_jis">',
        '<meta http-equiv="Content-Type" content="text/html; charset=koi8-r">',
    ]
)


@st.composite
def encoded(draw, document: str) -> tuple[bytes, str]:
    """`document` in a random charset (maybe with a BOM), with a header that may lie."""
    charset = draw(st.sampled_from(CHARSETS))
    body = document.encode(charset, errors=draw(st.sampled_from(["replace", "ignore"])))
    if draw(st.booleans()):
        body = draw(st.sampled_from([codecs.BOM_UTF8, codecs.BOM_UTF16_LE, b""])) + body
    ctype = draw(st.sampled_from(CONTENT_TYPES))
    header = draw(st.sampled_from(HEADER_CHARSETS))
    return body, f"{ctype}; charset={header}" if header else ctype


@st.composite
def tag_soup(draw) -> tuple[bytes, str]:
    document = draw(prologue) + "".join(draw(st.lists(token, max_size=80)))
    return draw(encoded(document))


@st.composite
def prose(draw) -> tuple[bytes, str]:
    """An article-like page in one language, so extraction, language and quality all run."""
    words = WORDS[draw(st.sampled_from(sorted(WORDS)))]
    paragraphs = draw(
        st.lists(st.lists(st.sampled_from(words), min_size=1, max_size=40), max_size=5)
    )
    body = "".join(f"<p>{' '.join(p)}.</p>" for p in paragraphs)
    title = " ".join(draw(st.lists(st.sampled_from(words), max_size=6)))
    document = (
        f"<html><head><title>{title}</title></head><body><article>{body}</article></body></html>"
    )
    return draw(encoded(document))


@st.composite
def spliced(draw) -> tuple[bytes, str]:
    """A real article page with random bytes spliced in, then maybe cut short."""
    paragraphs = " ".join(WORDS["en"] * 3)
    page = (
        "<html><head><title>Council plans</title></head><body><article>"
        + f"<p>{paragraphs}.</p>" * 3
        + "</article></body></html>"
    ).encode()
    at = draw(st.integers(0, len(page)))
    noise = draw(st.binary(max_size=64))
    page = page[:at] + noise + page[at:]
    cut = draw(st.integers(0, len(page)))
    return page[: cut if draw(st.booleans()) else len(page)], draw(st.sampled_from(CONTENT_TYPES))


def assert_record(body: bytes, content_type: str) -> None:
    page = Page(
        url="http://fuzz.example/2026/11/03/story/",
        body=body,
        headers={"content-type": content_type},
    )
    record = clean(page)
    assert isinstance(record, Article | Reject)
    if isinstance(record, Reject):
        assert record.reason in CLEAN_REASONS, record
        assert record.detail
    else:
        assert record.text.strip() and record.lang and record.word_count > 0


@settings(fuzz, max_examples=EXAMPLES["bytes"])
@given(st.binary(max_size=3000), st.sampled_from(CONTENT_TYPES), st.sampled_from(HEADER_CHARSETS))
def test_clean_answers_arbitrary_bytes(body: bytes, ctype: str, charset: str) -> None:
    assert_record(body, f"{ctype}; charset={charset}" if charset else ctype)


@settings(fuzz, max_examples=EXAMPLES["tag_soup"])
@given(tag_soup())
def test_clean_answers_tag_soup_in_any_charset(page: tuple[bytes, str]) -> None:
    assert_record(*page)


@settings(fuzz, max_examples=EXAMPLES["prose"])
@given(prose())
def test_clean_answers_article_like_pages(page: tuple[bytes, str]) -> None:
    assert_record(*page)


@settings(fuzz, max_examples=EXAMPLES["spliced"])
@given(spliced())
def test_clean_answers_pages_with_noise_spliced_in(page: tuple[bytes, str]) -> None:
    assert_record(*page)


def test_the_ci_profile_runs_at_least_ten_thousand_inputs() -> None:
    assert sum(EXAMPLES.values()) >= 10_000


xml_head = st.sampled_from(
    [
        b"",
        b'<?xml version="1.0"?>',
        b'<!DOCTYPE urlset [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
        b'<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>',
    ]
)
xml_root = st.sampled_from([b"<urlset>", b"<sitemapindex>", b"<rss><channel>", b"<feed>", b"{"])
xml_part = st.one_of(
    st.sampled_from(
        [
            b"<url><loc>",
            b"</loc></url>",
            b"<sitemap><loc>",
            b"<item><link>",
            b"</link></item>",
            b'<entry><link href="',
            b'"/></entry>',
            b"<lastmod>",
            b"</lastmod>",
            b"&b;",
            b"&x;",
            b"http://[::1",
            b"http://a:99999/",
            b"/relative/path",
            b"javascript:alert(1)",
            b'"items": [{"url": ',
            b'"date_published": "0001-01-01T00:00:00+14:00"',
            b"]}",
        ]
    ),
    st.binary(max_size=20),
)


@settings(fuzz, max_examples=1000 * FUZZ_SCALE)
@given(
    xml_head,
    xml_root,
    st.lists(xml_part, max_size=30),
    st.sampled_from(["/sitemap.xml", "/feed", "/robots.txt"]),
)
def test_discovery_only_ever_raises_discovery_error(head, root, parts, path) -> None:
    body = head + root + b"".join(parts)
    try:
        found = list(discover(body, "http://fuzz.example" + path))
    except DiscoveryError as exc:
        assert str(exc)
        return
    assert all(f.url and f.kind in ("article", "sitemap") for f in found)
