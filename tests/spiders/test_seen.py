"""The seen-URL index: what a crawl need not fetch again."""

from __future__ import annotations

import pytest

from spiders import seen as seen_module
from spiders.seen import SeenUrls


def test_urls_added_in_a_run_are_seen_before_and_after_they_are_merged(monkeypatch) -> None:
    monkeypatch.setattr(seen_module, "MERGE_EVERY", 4)
    seen = SeenUrls.from_urls(["https://a.example/old/"])
    urls = [f"https://a.example/{i}/" for i in range(10)]
    for url in urls:
        assert seen.add(url)
        assert not seen.add(url)  # a second add changes nothing
    assert not seen.add("https://a.example/old/")
    assert all(seen.contains(u) for u in [*urls, "https://a.example/old/"])
    assert not seen.contains("https://a.example/new/")
    assert len(seen) == 11  # merged twice: 1 + 8 in the array, 2 still in the set
    assert (len(seen._sorted), len(seen._new)) == (9, 2)


@pytest.mark.parametrize("n", [200_000])
def test_a_run_s_own_urls_cost_8_bytes_each_once_merged(n: int) -> None:
    seen = SeenUrls()
    for i in range(n):
        seen.add(f"https://news.example/2026/11/story-{i}/")
    assert seen.nbytes < 8 * n + 70 * seen_module.MERGE_EVERY
    assert seen.contains("https://news.example/2026/11/story-12345/")
