"""Duplicate checks: URL, exact, near-duplicate and spun copies, the kept copy, across runs.

The articles are written for these tests: a local story (the ferry), an agency story
that five sites run under their own headline, lede and trailer, an independent report
on the same event, and the ferry story run through a synonym spinner.
"""

from __future__ import annotations

import dataclasses
import html
import random
import re
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from pipeline import duplicates
from pipeline.duplicates import INDEX_DIR, DuplicateIndex, copies_of, keep_order
from pipeline.fingerprints import add_fingerprints, skeleton_signature, text_words
from pipeline.quality import stopwords
from pipeline.record import Article, Reject
from tests.conftest import winnow_cmd
from tests.factories import make_article
from tests.sites import many_stories, write_site
from tests.warehouse import conftest as s3_fixtures
from warehouse.query import connect
from warehouse.writer import WarehouseWriter
from winnow.demo.server import Site

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
#: The moto S3 server fixtures of tests/warehouse, for the S3 warehouse test.
s3_endpoint, s3_warehouse = s3_fixtures.s3_endpoint, s3_fixtures.s3_warehouse

# --- the articles ---------------------------------------------------------------------


FERRY_TITLE = "Harbour ferry returns after two-year refit, with electric engines and fewer seats"
FERRY = [
    "The Port Ellery harbour ferry returned to service on Monday morning after a two-year "
    "refit that replaced its diesel engines with battery-electric drives, the city's transport "
    "authority said. The first crossing left the north quay at 6:40 a.m. with 41 passengers on "
    "board, most of them commuters who had spent the closure on a replacement bus that added as "
    "much as forty minutes to their journey each way.",
    "Officials said the rebuilt vessel is quieter and cheaper to run, but it carries fewer "
    "people than before. The new battery packs sit where the lower passenger deck used to be, "
    "cutting capacity from 220 to 160 seats. At the busiest times of day, the authority will add "
    "a second boat, leased from a private operator in the south of the country, until a sister "
    "ship finishes its own conversion next spring.",
    "“We knew this would be a compromise,” said Miriam Osei, who runs the authority's water "
    "services. “A smaller boat that comes more often is better than a bigger boat that burns two "
    "thousand litres of fuel a day. Our riders have told us that reliability matters more to them "
    "than anything else.”",
    "The refit cost 14.2 million euros, about three million more than the budget approved by the "
    "city council in 2023. Part of the overrun came from a shortage of marine electricians, "
    "according to a report presented to councillors last month, and part from changes to the "
    "charging station on the north quay, which had to be moved after engineers found the old pier "
    "could not carry the weight of the transformers.",
    "Not every passenger was won over. Several regular riders complained that the new timetable "
    "drops the last evening crossing, which used to leave the south quay at 11:15 p.m. Restaurant "
    "workers who finish late said they would again depend on the night bus. The authority said it "
    "would review the evening service after six months of passenger counts.",
    "The ferry is the oldest public transport link in Port Ellery. It has run, with "
    "interruptions, since 1911, and carried more than a million passengers in the year before the "
    "refit.",
]

#: The agency copy every site runs, below its own headline and lede.
AGENCY_BODY = [
    "The contract, worth about 610 million euros including twenty years of maintenance, is the "
    "largest order for hydrogen rolling stock placed by a European operator so far. The first "
    "units are due to enter passenger service in late 2028 on the line between Kesselberg and "
    "Altenau, a 140-kilometre route through hill country that was never electrified because "
    "overhead wires would have cost more than three times as much.",
    "Northern Valley Rail said the trains would replace a fleet of diesel multiple units built in "
    "the early 1990s, which have become expensive to keep running and frequently break down in "
    "cold weather. Each new train will seat 160 passengers and have a range of around 900 "
    "kilometres on a full tank, enough to run a full day's timetable without refuelling.",
    "“We looked very carefully at battery trains as well,” the company's chief executive, "
    "Annelie Brandt, told reporters at the signing ceremony in Kesselberg. “For the short branch "
    "lines they make a lot of sense. For a long line with steep gradients and hard winters, "
    "hydrogen gave us the range we need without building charging points in places where there "
    "is no grid capacity.”",
    "The hydrogen will come from an electrolysis plant to be built next to the main depot, "
    "powered by a wind farm that the regional energy company is developing on the ridge above "
    "the town. Until the plant opens, the operator plans to truck in hydrogen produced from "
    "natural gas, a stopgap that environmental groups criticised on Tuesday.",
    "“Buying a clean train and filling it with fossil hydrogen is not a climate policy,” said "
    "Jonas Petersen of the campaign group Clean Rails. He said the region should have electrified "
    "the busiest sections of the line and used battery trains for the rest.",
    "Hydrogen trains have had a mixed record elsewhere. Operators in Germany and Italy have "
    "reported higher fuel costs than expected and supply problems at refuelling stations. Brandt "
    "said the contract with the manufacturer includes guarantees on availability, and that the "
    "company would pay a penalty if fewer than 95 percent of the trains are ready for service on "
    "any given day.",
    "The regional government, which owns the operator, will cover about a third of the cost from "
    "a fund for low-emission transport. The rest will be financed through a loan from a public "
    "development bank.",
]

#: (site, headline, lede, trailer, publication date) for the five sites that run it.
AGENCY_SITES = [
    (
        "valleyherald",
        "Northern Valley Rail orders 30 hydrogen trains to replace ageing diesels",
        "Northern Valley Rail has signed a contract for thirty hydrogen-powered trains, the "
        "regional operator announced on Tuesday, betting that fuel cells rather than overhead "
        "wires are the way to end diesel services on its longest line.",
        "Reporting by the Valley Herald transport desk, with additional reporting from agencies "
        "in Kesselberg and Altenau.",
        "2026-11-03T10:15:00Z",
    ),
    (
        "dailycourier",
        "Hydrogen trains coming to the Kesselberg line by 2028",
        "Passengers on the Kesselberg to Altenau line will travel on hydrogen trains within four "
        "years after the region's rail operator placed a record order on Tuesday, ending a decade "
        "of argument over how to replace its unreliable diesel fleet.",
        "This article was first published by our partner news agency and is republished with "
        "permission. Copyright 2026, all rights reserved.",
        "2026-11-02T09:40:00Z",
    ),
    (
        "marketledger",
        "Rail operator signs 610 million euro deal for fuel cell trains",
        "A regional rail company has committed more than half a billion euros to hydrogen "
        "technology, in one of the biggest bets yet by a public transport operator on fuel cell "
        "propulsion for passenger trains.",
        "Market Ledger has not independently verified the figures in this report. Shares of the "
        "listed suppliers were little changed in afternoon trading in Frankfurt.",
        "2026-11-04T11:05:00Z",
    ),
    (
        "altenautoday",
        "Altenau to get hydrogen trains as operator scraps old diesels",
        "Altenau will be served by some of the first hydrogen trains in the region, after "
        "Northern Valley Rail confirmed on Tuesday that it has ordered thirty of them for the line "
        "that links the town with Kesselberg.",
        "What do you think of the new trains? Our letters page is open to readers in Altenau and "
        "the surrounding villages, as always.",
        "2026-11-06T07:30:00Z",
    ),
    (
        "greentransit",
        "Thirty hydrogen trains ordered, but the fuel will be fossil at first",
        "The region's rail operator placed its long-awaited hydrogen train order on Tuesday, but "
        "campaigners warned that the trains will run on fuel made from natural gas for years "
        "before a promised green hydrogen plant opens.",
        "Green Transit News is funded by its readers and covers sustainable transport across the "
        "northern regions every weekday.",
        "2026-11-05T13:20:00Z",
    ),
]

#: An independent report on the same event: the same facts in different words.
HYDROGEN_REPORT_TITLE = "A hydrogen future for the Kesselberg line, and a fossil present"
HYDROGEN_REPORT = [
    "Thirty trains that run on hydrogen will take over from the diesel fleet on one of the "
    "region's most neglected railway lines, Northern Valley Rail confirmed this week. The order, "
    "which the company values at roughly 610 million euros once two decades of servicing are "
    "included, makes the operator one of the biggest buyers of fuel cell trains anywhere in "
    "Europe.",
    "For people who depend on the route from Kesselberg to Altenau, the news is overdue. The "
    "diesel units in use today date from the early nineties, and breakdowns in winter have become "
    "routine. Commuters interviewed at Kesselberg station on Wednesday described cancelled "
    "morning services, unheated carriages and replacement buses that rarely keep to time.",
    "Electrifying the route was ruled out years ago. Engineers estimated that putting up "
    "catenary along 140 kilometres of curving track through the hills would cost more than three "
    "times what the new trains do. Battery trains were considered too, Annelie Brandt, the "
    "operator's chief executive, said at a signing event, but she argued that their range fell "
    "short on a long line with steep climbs and cold weather.",
    "Where the fuel comes from is the more contentious question. A wind-powered electrolysis "
    "plant is planned beside the depot, but it will not be ready when the first trains arrive in "
    "2028. In the meantime, hydrogen made from natural gas will be delivered by road. Campaigners "
    "at Clean Rails called that arrangement a contradiction, and said part of the line should "
    "have been electrified instead.",
    "The experience of other countries offers reasons for caution. Several fuel cell fleets in "
    "Germany and Italy have struggled with fuel prices and unreliable refuelling. The regional "
    "government, the operator's owner, is paying for about a third of the order from its "
    "low-emission transport fund, with the remainder borrowed from a public development bank.",
]

#: What a spinner does to the ferry story: content words swapped regardless of sense.
SYNONYMS = {
    "harbour": "marina",
    "returned": "came back",
    "service": "assistance",
    "morning": "early morning",
    "refit": "overhaul",
    "replaced": "changed",
    "engines": "motors",
    "drives": "generates",
    "city": "town",
    "transport": "transportation",
    "authority": "agency",
    "said": "reported",
    "first": "initial",
    "crossing": "journey",
    "left": "remaining",
    "quay": "wharf",
    "passengers": "travellers",
    "board": "panel",
    "commuters": "staff",
    "spent": "invested",
    "closure": "closing",
    "replacement": "substitute",
    "bus": "coach",
    "added": "extra",
    "officials": "officers",
    "rebuilt": "reconstructed",
    "vessel": "ship",
    "quieter": "calmer",
    "cheaper": "less expensive",
    "carries": "bears",
    "people": "folks",
    "packs": "packages",
    "sit": "rest",
    "lower": "reduced",
    "deck": "floor",
    "cutting": "chopping",
    "capacity": "potential",
    "seats": "chairs",
    "busiest": "most hectic",
    "times": "instances",
    "boat": "watercraft",
    "leased": "rented",
    "private": "personal",
    "operator": "driver",
    "country": "nation",
    "sister": "sibling",
    "ship": "vessel",
    "finishes": "completes",
    "conversion": "transformation",
    "spring": "springtime",
    "knew": "realized",
    "compromise": "trade-off",
    "smaller": "lesser",
    "comes": "arrives",
    "bigger": "larger",
    "burns": "melts",
    "litres": "liters",
    "fuel": "gasoline",
    "riders": "patrons",
    "told": "informed",
    "reliability": "dependability",
    "matters": "issues",
    "cost": "price",
    "budget": "price range",
    "approved": "authorized",
    "council": "committee",
    "overrun": "overspend",
    "shortage": "lack",
    "marine": "maritime",
    "electricians": "technicians",
    "according": "in accordance",
    "report": "statement",
    "presented": "offered",
    "changes": "alterations",
    "charging": "billing",
    "station": "terminal",
    "moved": "relocated",
    "engineers": "designers",
    "found": "located",
    "pier": "jetty",
    "weight": "body weight",
    "passenger": "traveler",
    "complained": "lamented",
    "timetable": "schedule",
    "drops": "falls",
    "evening": "night",
    "leave": "depart",
    "workers": "employees",
    "finish": "end",
    "late": "delayed",
    "depend": "count",
    "night": "evening",
    "review": "critique",
    "oldest": "most ancient",
    "public": "general public",
    "link": "website link",
    "interruptions": "disruptions",
    "carried": "transported",
}
_TOKEN = re.compile(r"(\w+)")


def spin(text: str, synonyms: dict[str, str] = SYNONYMS) -> str:
    """Swap every word the synonym table knows, keeping a capital initial."""

    def swap(match: re.Match[str]) -> str:
        word = match.group(1)
        new = synonyms.get(word.lower())
        if new is None:
            return word
        return new[0].upper() + new[1:] if word[0].isupper() else new

    return _TOKEN.sub(swap, text)


def page(
    title: str,
    paragraphs: list[str],
    published: str,
    canonical: str | None = None,
    site_name: str = "News",
) -> bytes:
    """A news article page with navigation, the story, and a footer."""
    head = f'<link rel="canonical" href="{html.escape(canonical)}">' if canonical else ""
    body = "\n".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{html.escape(title)} | {site_name}</title>
<meta property="og:title" content="{html.escape(title)}">
<meta property="og:type" content="article">
<meta property="article:published_time" content="{published}">
{head}
</head><body>
<header><nav><a href="/">{site_name}</a> <a href="/news/">News</a> <a href="/sport/">Sport</a></nav></header>
<main><article>
<h1>{html.escape(title)}</h1>
{body}
</article></main>
<footer><p>&copy; 2026 {site_name}</p></footer>
</body></html>""".encode()


def sitemap(urls: list[str]) -> bytes:
    items = "".join(f"<url><loc>{html.escape(u)}</loc></url>" for u in urls)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{items}</urlset>'
    ).encode()


# --- helpers --------------------------------------------------------------------------


def article(url: str, paragraphs: list[str], published: str | None = None, **kw: object) -> Article:
    when = datetime.fromisoformat(published) if published else None
    return add_fingerprints(make_article(url=url, text="\n".join(paragraphs), published=when, **kw))


def agency_copies() -> list[Article]:
    return [
        article(
            f"http://{site}.example/2026/11/hydrogen-trains/",
            [lede, *AGENCY_BODY, trailer],
            published,
            source=site,
            title=headline,
        )
        for site, headline, lede, trailer, published in AGENCY_SITES
    ]


def spun_share(synonyms: dict[str, str]) -> tuple[str, float]:
    """The ferry story spun with `synonyms`, and the share of its content words replaced."""
    text = "\n".join(spin(p, synonyms) for p in FERRY)
    stop = stopwords()["en"]
    content = [w for w in text_words("\n".join(FERRY)) if w not in stop]
    return text, sum(w in synonyms for w in content) / len(content)


def golden(name: str) -> Article:
    text = (GOLDEN / f"{name}.txt").read_text("utf-8").strip()
    return add_fingerprints(make_article(url=f"http://meridian.example/{name}/", text=text))


def rows(warehouse: Path, sql: str) -> list[dict]:
    rel = connect(str(warehouse)).execute(sql)
    names = [d[0] for d in rel.description]
    return [dict(zip(names, r, strict=True)) for r in rel.fetchall()]


def route(body: bytes, ctype: str = "text/html; charset=utf-8"):
    return lambda handler: handler.send_bytes(200, body, ctype)


# --- judging --------------------------------------------------------------------------


def test_copies_under_other_urls_and_exact_copies_point_at_the_kept_row() -> None:
    index = DuplicateIndex()
    first = article("http://a.example/news/ferry/", FERRY)
    assert index.check(first) is first
    tracked = article("http://A.example/news/ferry/?utm_source=x&fbclid=1", FERRY)
    elsewhere = article("http://b.example/2026/ferry.html", FERRY)
    url_copy, text_copy = index.check(tracked), index.check(elsewhere)
    assert (url_copy.reason, url_copy.duplicate_of, url_copy.similarity) == (
        "duplicate_url",
        first.id,
        1.0,
    )
    assert (text_copy.reason, text_copy.duplicate_of) == ("duplicate_content", first.id)


def test_a_page_fetched_again_says_whether_its_text_changed() -> None:
    index = DuplicateIndex()
    first = article("http://a.example/news/ferry/", FERRY)
    index.check(first)
    same = index.check(article("http://a.example/news/ferry/", FERRY))
    edited = index.check(article("http://a.example/news/ferry/", [*FERRY, "Update: times."]))
    for verdict, what in ((same, "same text"), (edited, "its text has changed")):
        assert (verdict.reason, verdict.duplicate_of) == ("duplicate_url", first.id)
        assert verdict.detail == (
            f"this URL's article is already in the warehouse as {first.id} ({what})"
        )


@pytest.mark.parametrize("seed", range(6))
def test_agency_story_on_five_sites_keeps_the_earliest_whatever_the_arrival_order(
    seed: int,
) -> None:
    copies = agency_copies()
    random.Random(seed).shuffle(copies)
    records = DuplicateIndex().decide(copies)
    kept = [r for r in records if isinstance(r, Article)]
    assert [a.source for a in kept] == ["dailycourier"]  # published first
    rejects = [r for r in records if isinstance(r, Reject)]
    assert {r.reason for r in rejects} == {"near_duplicate"} and len(rejects) == 4
    assert all(r.duplicate_of == kept[0].id for r in rejects)
    assert all(0.6 <= r.similarity < 1.0 for r in rejects), [r.similarity for r in rejects]
    assert "word 5-grams" in rejects[0].detail


def test_keep_order_dated_before_undated_then_source_then_canonical_then_url() -> None:
    undated = make_article("http://a.example/x", source="a")
    late = make_article("http://b.example/x", source="b", published=datetime(2026, 11, 5))
    early_z = make_article("http://z.example/x", source="z", published=datetime(2026, 11, 4))
    early_a = make_article("http://y.example/x", source="a", published=datetime(2026, 11, 4))
    alias = make_article("http://y.example/amp/x", source="a", published=datetime(2026, 11, 4))
    alias.canonical_url = early_a.canonical_url
    ranked = sorted([undated, late, early_z, alias, early_a], key=keep_order)
    assert ranked == [early_a, alias, early_z, late, undated]


def test_two_stories_on_the_same_event_are_both_kept() -> None:
    index = DuplicateIndex()
    copy, report = agency_copies()[0], article("http://r.example/hydrogen/", HYDROGEN_REPORT)
    seed_000, seed_003 = golden("seed_000"), golden("seed_003")
    for record in (copy, report, seed_000, seed_003):
        assert index.check(record) is record, record


@pytest.mark.parametrize("half", [False, True], ids=["full-table", "half-table"])
def test_a_spun_copy_is_linked_to_its_original(half: bool) -> None:
    items = list(SYNONYMS.items())
    synonyms = dict(items[: len(items) // 2] if half else items)
    text, share = spun_share(synonyms)
    assert share >= 0.30, share  # at least 30% of the content words replaced
    index = DuplicateIndex()
    for other in (*agency_copies()[:1], article("http://r.example/h/", HYDROGEN_REPORT)):
        index.check(other)
    original = article("http://a.example/news/ferry/", FERRY)
    index.check(original)
    spun = add_fingerprints(make_article(url="http://farm.example/ferry-news/", text=text))
    verdict = index.check(spun)
    assert isinstance(verdict, Reject), verdict
    assert verdict.reason == "spun_copy" and verdict.duplicate_of == original.id
    assert verdict.similarity >= 0.5
    assert "function-word skeleton" in verdict.detail


def test_a_spun_copy_without_its_original_is_kept() -> None:
    index = DuplicateIndex()
    for other in (*agency_copies(), article("http://r.example/h/", HYDROGEN_REPORT)):
        index.check(other)
    text, _ = spun_share(SYNONYMS)
    spun = add_fingerprints(make_article(url="http://farm.example/ferry-news/", text=text))
    assert index.lookup(spun) is None


def test_languages_without_stop_words_and_short_texts_have_no_skeleton() -> None:
    assert skeleton_signature("東京都は三日、新しい防災計画を発表した。" * 30, "ja") is None
    assert skeleton_signature("The council met on Monday and voted.", "en") is None
    assert skeleton_signature("\n".join(FERRY), "en") is not None


def _generated(n: int, seed: int = 7) -> list[list[str]]:
    rng = np.random.default_rng(seed)
    vocab = np.array([f"w{i}" for i in range(5000)])
    return [list(vocab[rng.integers(0, len(vocab), 300)]) for _ in range(n)]


def test_lookups_find_copies_in_every_level_of_the_band_index(monkeypatch) -> None:
    monkeypatch.setattr(duplicates, "FOLD_EVERY", 2)
    monkeypatch.setattr(duplicates, "MERGE_EVERY", 4)
    docs = _generated(11)
    index = DuplicateIndex()
    originals = [article(f"http://s{i}.example/a", [" ".join(d)]) for i, d in enumerate(docs)]
    for a in originals:
        assert index.check(a) is a
    # 8 articles merged into the main array, 2 folded into `recent`, 1 still in the dict
    bands = index.near.bands
    assert (len(index.near.packed), len(index.near.recent)) == (8 * bands, 2 * bands)
    assert sum(len(rows) for rows in index.near.pending.values()) == bands
    for i, d in enumerate(docs):
        copy = article(f"http://c{i}.example/a", [" ".join(d[:-20] + ["new"] * 3)])
        verdict = index.check(copy)
        assert verdict.reason == "near_duplicate" and verdict.duplicate_of == originals[i].id


def _mixed_articles(seed: int) -> list[Article]:
    """Distinct stories with every kind of copy among them: URL aliases, exact copies,
    near copies (edited, and the agency story on five sites), spun copies."""
    rng = random.Random(seed)
    when = lambda: f"2026-11-{rng.randint(1, 9):02d}T{rng.randint(0, 23):02d}:00:00"  # noqa: E731
    out = []
    for i, doc in enumerate(_generated(60, seed=seed)):
        url = f"http://s{i % 7}.example/story-{i}/"
        out.append(article(url, [" ".join(doc)], when(), source=f"s{i % 7}"))
        kind = i % 4
        if kind == 0:  # the same page under a tracking URL
            out.append(article(url + "?utm_source=x", [" ".join(doc)], when(), source="t"))
        elif kind == 1:  # the same text elsewhere
            out.append(article(f"http://c.example/{i}", [" ".join(doc)], when(), source="c"))
        elif kind == 2:  # an edited copy
            edited = doc[:-25] + [f"new{j}" for j in range(5)]
            out.append(article(f"http://e.example/{i}", [" ".join(edited)], None, source="e"))
    for f, doc in enumerate(_generated(4, seed=seed + 100)):  # families of partial copies
        for k in (0, 30, 60, 90, 150, 210):
            words = doc[:k] + [f"f{f}v{k}w{j}" for j in range(k)] + doc[2 * k :]
            out.append(article(f"http://f.example/{f}/{k}", [" ".join(words)], when()))
    out += agency_copies()
    original = article("http://a.example/news/ferry/", FERRY, when())
    text, _ = spun_share(SYNONYMS)
    spun = add_fingerprints(make_article(url="http://farm.example/ferry/", text=text))
    out += [original, spun, article("http://r.example/h/", HYDROGEN_REPORT, when())]
    rng.shuffle(out)
    return out


def _outcome(records: list) -> list[tuple]:
    return [
        ("kept", r.id)
        if isinstance(r, Article)
        else (r.reason, r.url, r.duplicate_of, r.similarity, r.detail)
        for r in records
    ]


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("near", [0.5, 0.3])
@pytest.mark.parametrize("small", [False, True], ids=["defaults", "small-levels-and-chunks"])
def test_a_batch_gets_the_verdicts_of_its_articles_checked_one_by_one_in_keep_order(
    seed: int, near: float, small: bool, monkeypatch
) -> None:
    if small:  # every level of the band index, and candidates compared a few at a time
        monkeypatch.setattr(duplicates, "FOLD_EVERY", 3)
        monkeypatch.setattr(duplicates, "MERGE_EVERY", 7)
        monkeypatch.setattr(duplicates, "BEST_CHUNK", 2)
    articles = _mixed_articles(seed)
    before, batch = articles[: len(articles) // 3], articles[len(articles) // 3 :]
    one_by_one, together = DuplicateIndex(near=near), DuplicateIndex(near=near)
    for index in (one_by_one, together):  # what earlier runs kept
        index.decide([dataclasses.replace(a) for a in before])
    copies = [dataclasses.replace(a) for a in batch]
    expected = [one_by_one.check(a) for a in sorted(copies, key=keep_order)]
    got = together.decide(batch)
    assert _outcome(got) == _outcome(expected)
    reasons = {r.reason for r in got if isinstance(r, Reject)}
    assert {"duplicate_url", "duplicate_content", "near_duplicate"} <= reasons
    assert len(together) == len(one_by_one)
    assert (together.rows.ids[: len(together)] == one_by_one.rows.ids[: len(one_by_one)]).all()
    # and the index they leave behind judges the next article alike
    probe = _mixed_articles(seed + 10)[:20]
    again = [dataclasses.replace(a) for a in probe]
    assert _outcome(together.decide(probe)) == _outcome(one_by_one.decide(again))


@pytest.mark.parametrize("chunk", [1, 200_000])
def test_the_best_candidate_is_the_most_similar_and_the_earliest_of_equals(
    chunk: int, monkeypatch
) -> None:
    monkeypatch.setattr(duplicates, "BEST_CHUNK", chunk)
    rng = np.random.default_rng(3)
    probe = rng.integers(0, 256, (2, 128), dtype=np.uint8)
    store = np.repeat(probe[:1], 5, axis=0)
    store[0, :64] ^= 1  # half of it: a band or more shared, less similar
    store[3, 100:] ^= 1  # most of it, but less than rows 1 and 2, which equal the probe
    store[4] = rng.integers(0, 256, 128, dtype=np.uint8)  # unrelated
    bands = duplicates._BandIndex(128)
    bands.extend(np.arange(4, dtype=np.uint64), store[:4])
    bands.add(4, store[4])  # one in the dict level too
    rows, sims = bands.best_many(bands.prefixes(probe), store, probe)
    assert rows == [1, -1] and sims[0] == 1.0


# --- persistence ----------------------------------------------------------------------


def _write(warehouse: Path | str, *records: Article) -> None:
    writer = WarehouseWriter(str(warehouse), "run-test")
    for record in records:
        writer.add(record)
    writer.close()


def test_crawls_deciding_into_one_warehouse_at_once_keep_one_copy(warehouse: Path) -> None:
    first, second = (
        DuplicateIndex.from_warehouse(warehouse),
        DuplicateIndex.from_warehouse(warehouse),
    )
    ferry = article("http://a.example/news/ferry/", FERRY)
    copy = article("http://b.example/ferry.html", FERRY)
    agency = agency_copies()
    kept = first.decide_shared(warehouse, [ferry, agency[0]], "run-a")
    assert all(isinstance(r, Article) for r in kept) and len(kept) == 2
    verdicts = second.decide_shared(
        warehouse, [copy, agency[1], article("http://r.example/h/", HYDROGEN_REPORT)], "run-b"
    )
    outcome = {
        v.url: (getattr(v, "reason", "kept"), getattr(v, "duplicate_of", None)) for v in verdicts
    }
    assert outcome == {
        copy.url: ("duplicate_content", ferry.id),
        agency[1].url: ("near_duplicate", agency[0].id),
        "http://r.example/h/": ("kept", None),
    }
    # and the first crawl sees what the second kept, once each
    assert first.catch_up(warehouse) == 1 and first.catch_up(warehouse) == 0
    assert len(first) == len(second) == 3


def test_crawls_deciding_at_the_same_moment_take_turns(warehouse: Path) -> None:
    import threading

    indexes = [DuplicateIndex.from_warehouse(warehouse) for _ in range(4)]
    copies = [article(f"http://s{i}.example/ferry/", FERRY, source=f"s{i}") for i in range(4)]
    results: dict[int, list] = {}
    start = threading.Barrier(4)

    def decide(i: int) -> None:
        start.wait()
        results[i] = indexes[i].decide_shared(warehouse, [copies[i]], f"run-{i}")

    threads = [threading.Thread(target=decide, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    kept = [r for rs in results.values() for r in rs if isinstance(r, Article)]
    assert len(results) == 4 and len(kept) == 1


def _segments(warehouse: Path) -> list[Path]:
    return sorted((warehouse / INDEX_DIR).glob("*.parquet"))


def test_the_index_persists_with_the_warehouse_and_follows_its_articles(warehouse: Path) -> None:
    ferry, copy0 = article("http://a.example/ferry/", FERRY), agency_copies()[1]
    ghost = article("http://never-written.example/x", HYDROGEN_REPORT)
    index = DuplicateIndex()
    for record in (ferry, copy0, ghost):
        index.check(record)
    _write(warehouse, ferry, copy0)  # the ghost's run died before its writer flushed
    assert index.save(str(warehouse), "run-test") is not None
    assert len(_segments(warehouse)) == 1
    assert pq.read_table(_segments(warehouse)[0]).num_rows == 3

    loaded = DuplicateIndex.from_warehouse(str(warehouse))
    assert len(loaded) == 2
    copy = agency_copies()[3]
    verdict = loaded.check(copy)
    assert verdict.reason == "near_duplicate" and verdict.duplicate_of == copy0.id
    assert loaded.lookup(ghost) is None
    text, _ = spun_share(SYNONYMS)
    spun = add_fingerprints(make_article(url="http://farm.example/f/", text=text))
    assert loaded.lookup(spun).duplicate_of == ferry.id


def test_a_missing_or_outdated_index_is_rebuilt_from_the_articles(
    warehouse: Path, monkeypatch
) -> None:
    copy0 = agency_copies()[0]
    _write(warehouse, copy0)
    rebuilt = DuplicateIndex.from_warehouse(str(warehouse))  # no index yet
    assert len(rebuilt) == 1 and rebuilt.unsaved_from == 0
    assert rebuilt.lookup(agency_copies()[2]).duplicate_of == copy0.id
    rebuilt.save(str(warehouse), "run-test")
    monkeypatch.setattr(duplicates, "PARAMS", "other parameters")
    again = DuplicateIndex.from_warehouse(str(warehouse))
    assert len(again) == 1 and again.unsaved_from == 0  # the old segment was not trusted
    assert again.lookup(agency_copies()[2]).duplicate_of == copy0.id


def test_many_segments_are_merged_into_one(warehouse: Path, monkeypatch) -> None:
    monkeypatch.setattr(duplicates, "MAX_SEGMENTS", 2)
    docs = [article(f"http://s{i}.example/a", [" ".join(d)]) for i, d in enumerate(_generated(4))]
    _write(warehouse, *docs)
    index = DuplicateIndex.from_warehouse(str(warehouse))
    index.save(str(warehouse), "run-a")
    for i in range(3):
        index = DuplicateIndex.from_warehouse(str(warehouse))
        extra = article(f"http://x{i}.example/a", [" ".join(_generated(1, seed=100 + i)[0])])
        index.check(extra)
        _write(warehouse, extra)
        index.save(str(warehouse), f"run-{i}")
    names = [p.name for p in _segments(warehouse)]
    assert len(names) <= 2 and any(n.startswith("compact-") for n in names), names
    assert len(DuplicateIndex.from_warehouse(str(warehouse))) == 7


# --- real crawls ----------------------------------------------------------------------


def _crawl(warehouse: Path, *sitemaps: str, env: dict | None = None) -> None:
    args = [a for url in sitemaps for a in ("--url", url)]
    winnow_cmd("crawl", *args, "--warehouse", str(warehouse), "--allow-private", env=env)


def _agency_site(entry: tuple) -> Site:
    name, headline, lede, trailer, published = entry
    path = "/2026/11/hydrogen-trains-order/"
    site = Site(name, None)
    body = lambda: page(headline, [lede, *AGENCY_BODY, trailer], published, site_name=name)  # noqa: E731
    site.routes = {
        path: lambda h: h.send_bytes(200, body(), "text/html; charset=utf-8"),
        "/sitemap.xml": lambda h: h.send_bytes(200, sitemap([site.url(path)]), "application/xml"),
    }
    return site


def test_one_article_under_four_urls_is_one_row(site_factory, warehouse: Path) -> None:
    site = Site("ellery", None)
    canonical = "/news/2026/11/02/ferry-returns/"
    aliases = [
        canonical,
        canonical + "?utm_source=newsletter&utm_medium=email&fbclid=IwAR0x",
        "/amp/news/2026/11/02/ferry-returns/",
        "/print/ferry-returns.html",
    ]

    def serve(handler) -> None:
        body = page(FERRY_TITLE, FERRY, "2026-11-02T07:00:00Z", site.url(canonical))
        handler.send_bytes(200, body, "text/html; charset=utf-8")

    site.routes = {a.split("?")[0]: serve for a in aliases}
    site.routes["/sitemap.xml"] = lambda h: h.send_bytes(
        200, sitemap([site.url(a) for a in aliases]), "application/xml"
    )
    with site_factory(site):
        _crawl(warehouse, site.url("/sitemap.xml"))
        urls = [site.url(a) for a in aliases]
    kept = rows(warehouse, "select id, url, canonical_url from articles")
    assert len(kept) == 1
    # The tracking-parameter alias has the same canonical URL as the page itself: the
    # spider fetches only one of the two (spiders/seen.py). The kept row is the page
    # at its canonical URL, not the AMP or print alias that arrived first.
    assert kept[0]["url"] in urls[:2] and kept[0]["canonical_url"] == urls[0]
    copies = rows(warehouse, "select url, reason, duplicate_of from rejects order by url")
    assert {c["url"] for c in copies} >= set(urls[2:])
    assert {c["url"] for c in copies} | {kept[0]["url"]} <= set(urls)
    assert {(c["reason"], c["duplicate_of"]) for c in copies} == {("duplicate_url", kept[0]["id"])}


def test_agency_story_on_five_sites_is_one_row_and_four_near_duplicates(
    site_factory, warehouse: Path
) -> None:
    sites = [_agency_site(entry) for entry in AGENCY_SITES]
    with site_factory(*sites):
        _crawl(warehouse, *(s.url("/sitemap.xml") for s in sites))
        courier = next(s for s in sites if s.name == "dailycourier")
        kept_url = courier.url("/2026/11/hydrogen-trains-order/")
    kept = rows(warehouse, "select id, url, title from articles")
    assert [(k["url"], k["title"]) for k in kept] == [(kept_url, AGENCY_SITES[1][1])]
    copies = rows(warehouse, "select reason, duplicate_of, similarity from rejects")
    assert len(copies) == 4
    assert {(c["reason"], c["duplicate_of"]) for c in copies} == {("near_duplicate", kept[0]["id"])}
    assert all(c["similarity"] >= 0.6 for c in copies)

    listed = winnow_cmd("duplicates", kept_url, "--warehouse", str(warehouse)).stdout
    assert f"kept: {kept[0]['id']}  {kept_url}" in listed
    assert "copies: 4" in listed and listed.count("near_duplicate") == 4
    assert listed.count("why: shares ~") == 4
    found = copies_of(str(warehouse), kept[0]["id"])
    some_copy = rows(warehouse, "select url from rejects limit 1")[0]["url"]
    via_copy = winnow_cmd("duplicates", some_copy, "--warehouse", str(warehouse)).stdout
    assert via_copy.startswith(f"{some_copy} is a copy (near_duplicate")
    assert len(found.copies) == 4
    missing = winnow_cmd(
        "duplicates", "http://nowhere.example/", "--warehouse", str(warehouse), check=False
    )
    assert missing.returncode == 1 and "no article or copy matches" in missing.stderr


def test_copies_are_caught_across_batches_decided_while_the_crawl_runs(
    site_factory, tmp_path: Path, warehouse: Path
) -> None:
    stories = many_stories(40)
    copies = [dataclasses.replace(s, slug=f"copy-{s.slug}") for s in stories]
    root = write_site(tmp_path / "site", stories + copies)
    with site_factory(Site("wire", root)) as sites:
        # Batches of 6 are decided while pages keep arriving: a copy is judged against
        # the batches decided before its own as well as against its own batch.
        _crawl(
            warehouse,
            sites["wire"].url("/sitemap.xml"),
            env={"WINNOW_DUPLICATE_HOLD": "6", "WINNOW_PER_DOMAIN": "4"},
        )
    kept = rows(warehouse, "select id, title from articles")
    assert sorted(k["title"] for k in kept) == sorted(s.title for s in stories)
    copies_found = rows(warehouse, "select reason, duplicate_of from rejects")
    assert len(copies_found) == 40
    assert {c["reason"] for c in copies_found} == {"duplicate_content"}
    assert {c["duplicate_of"] for c in copies_found} == {k["id"] for k in kept}


def test_copies_fetched_in_a_later_run_are_caught(site_factory, warehouse: Path) -> None:
    ellery = Site("ellery", None)
    path = "/news/ferry-returns/"
    ellery.routes = {
        path: route(page(FERRY_TITLE, FERRY, "2026-11-02T07:00:00Z")),
        "/sitemap.xml": lambda h: h.send_bytes(200, sitemap([ellery.url(path)]), "application/xml"),
    }
    first = _agency_site(AGENCY_SITES[0])
    with site_factory(ellery, first):
        _crawl(warehouse, ellery.url("/sitemap.xml"), first.url("/sitemap.xml"))
    day_one = {r["title"]: r["id"] for r in rows(warehouse, "select title, id from articles")}
    assert len(day_one) == 2

    spun_text, _ = spun_share(SYNONYMS)
    farm = Site("farm", None)
    farm.routes = {
        "/ferry-news/": route(page("Marina ferry comes back", spun_text.split("\n"), "2026-11-03")),
        "/sitemap.xml": lambda h: h.send_bytes(
            200, sitemap([farm.url("/ferry-news/")]), "application/xml"
        ),
    }
    # The next day's copy was published earlier than the kept one: first written still wins.
    later = _agency_site(AGENCY_SITES[1])
    with site_factory(farm, later):
        _crawl(warehouse, farm.url("/sitemap.xml"), later.url("/sitemap.xml"))
    assert len(rows(warehouse, "select id from articles")) == 2
    caught = {r["reason"]: r["duplicate_of"] for r in rows(warehouse, "select * from rejects")}
    assert caught == {
        "near_duplicate": day_one[AGENCY_SITES[0][1]],
        "spun_copy": day_one[FERRY_TITLE],
    }
    assert len(_segments(warehouse)) == 1  # the second run kept nothing new


def test_the_index_persists_in_an_s3_warehouse(s3_warehouse: str) -> None:
    from warehouse.storage import open_root

    copy0 = agency_copies()[0]
    _write(s3_warehouse, copy0)
    index = DuplicateIndex.from_warehouse(s3_warehouse)  # rebuilt from the articles
    assert index.save(s3_warehouse, "run-s3") is not None
    root = open_root(s3_warehouse)
    names = [i.base_name for i in root.fs.get_file_info(_selector(root))]
    assert len(names) == 1 and names[0].endswith(".parquet")
    loaded = DuplicateIndex.from_warehouse(s3_warehouse)
    assert len(loaded) == 1 and loaded.unsaved_from == 1  # read from the segment
    assert loaded.lookup(agency_copies()[4]).duplicate_of == copy0.id


def _selector(root):
    from pyarrow import fs as pafs

    return pafs.FileSelector(root.path(INDEX_DIR), allow_not_found=True)
