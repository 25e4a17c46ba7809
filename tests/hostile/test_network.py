"""Network safety: only http(s), and no private, loopback, link-local or multicast targets.

Offline, every address a test server can have is one the guard refuses, so redirects
and changing DNS answers are tested on Scrapy's real middlewares and resolver cache;
real crawls show that without `--allow-private` nothing reaches a local server, and
that with it the same crawl goes through.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from scrapy.downloadermiddlewares.redirect import RedirectMiddleware
from scrapy.http import Request, Response
from scrapy.resolver import dnscache
from scrapy.utils.test import get_crawler
from twisted.internet.testing import MemoryReactorClock
from twisted.python.failure import Failure

from spiders.failures import failure_reason
from spiders.netguard import (
    AddressGuardMiddleware,
    GuardedResolver,
    RefusedAddress,
    RefusedHost,
    is_public,
    refusal,
)
from tests.conftest import winnow_cmd
from tests.hostile.conftest import crawl, hostile_site, respond, sitemap_of, table, write_sources
from tests.hostile.pages import page_html

PUBLIC = "93.184.216.34"
METADATA = "http://169.254.169.254/latest/meta-data/iam/security-credentials/"
PRIVATE_URLS = [
    "http://127.0.0.1/",
    "http://127.1/",  # the resolver sees it as 127.0.0.1: checked when it resolves
    "http://10.0.0.8:8080/admin",
    "http://172.16.5.4/",
    "http://192.168.1.1/",
    METADATA,
    "http://100.64.0.1/",
    "http://0.0.0.0:6379/",
    "http://224.0.0.251/",
    "http://[::1]/",
    "http://[fe80::1%25eth0]/",
    "http://[fd00::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:169.254.169.254]/",
    "http://[2002:7f00:1::]/",
    "http://[64:ff9b::a00:1]/",
    "http://localhost:8000/",
    "http://LOCALHOST./",
    "http://api.localhost/",
    "http://user:pw@127.0.0.1/",
]
OTHER_SCHEMES = [
    "file:///etc/passwd",
    "ftp://news.example/file",
    "data:text/html,<p>hi</p>",
    "s3://bucket/key",
    "gopher://news.example/",
    "javascript:alert(1)",
    "//news.example/no-scheme",
]


@pytest.mark.parametrize("url", PRIVATE_URLS)
def test_private_targets_are_refused_unless_allowed(url: str) -> None:
    if url == "http://127.1/":
        assert refusal(url, allow_private=False) is None  # a name to the URL check...
        assert not is_public("127.0.0.1")  # ...refused at resolution (below)
    else:
        assert "use --allow-private" in refusal(url, allow_private=False)
    assert refusal(url, allow_private=True) is None


@pytest.mark.parametrize("url", OTHER_SCHEMES)
def test_only_http_and_https_are_fetched_even_when_private_is_allowed(url: str) -> None:
    scheme = url.split(":", 1)[0] if not url.startswith("//") else ""
    expected = f"scheme {scheme or '(none)'!r} is not fetched (only http and https)"
    assert refusal(url, allow_private=False) == expected
    assert refusal(url, allow_private=True) == expected


@pytest.mark.parametrize(
    "url",
    [f"http://{PUBLIC}/a", "https://news.example/2026/11/03/story/", "http://[2606:4700::1111]/"],
)
def test_public_targets_pass(url: str) -> None:
    assert refusal(url, allow_private=False) is None


def middlewares(allow_private: bool):
    crawler = get_crawler(settings_dict={"WINNOW_ALLOW_PRIVATE": allow_private})
    return RedirectMiddleware.from_crawler(crawler), AddressGuardMiddleware.from_crawler(crawler)


@pytest.mark.parametrize(
    "target", [METADATA, "http://127.0.0.1:6379/", "http://[::1]/", "http://localhost/admin"]
)
def test_a_redirect_to_a_private_address_is_refused(target: str) -> None:
    redirect, guard = middlewares(allow_private=False)
    request = Request(f"http://{PUBLIC}/story")
    assert guard.process_request(request) is None
    response = Response(request.url, status=302, headers={"Location": target}, request=request)
    followed = redirect.process_response(request, response)
    assert isinstance(followed, Request) and followed.url == target
    with pytest.raises(RefusedAddress) as refused:
        guard.process_request(followed)
    assert failure_reason(Failure(refused.value)) == ("refused_address", str(refused.value))

    redirect, guard = middlewares(allow_private=True)
    assert guard.process_request(redirect.process_response(request, response)) is None


def test_a_redirect_to_another_scheme_is_not_followed() -> None:
    redirect, _guard = middlewares(allow_private=True)
    request = Request(f"http://{PUBLIC}/story")
    response = Response(
        request.url, status=301, headers={"Location": "file:///etc/passwd"}, request=request
    )
    assert redirect.process_response(request, response) is response


def resolve(resolver: GuardedResolver, name: str) -> str | Failure:
    results: list = []
    resolver.getHostByName(name).addBoth(results.append)
    [result] = results  # answered from Scrapy's DNS cache, synchronously
    return result


def test_a_dns_answer_that_changes_to_a_private_address_is_refused() -> None:
    resolver = GuardedResolver(MemoryReactorClock(), 100, 60)
    name = "rebinding.example"
    try:
        dnscache[name] = PUBLIC
        assert resolve(resolver, name) == PUBLIC
        for private in ("169.254.169.254", "127.0.0.1", "10.1.2.3", "::1"):
            dnscache[name] = private
            failure = resolve(resolver, name)
            assert isinstance(failure, Failure) and failure.check(RefusedHost)
            reason, detail = failure_reason(failure)
            assert reason == "refused_address"
            assert f"{name} resolves to {private}" in detail
        resolver.allow_private = True
        assert resolve(resolver, name) == "::1"
    finally:
        dnscache.pop(name, None)


def test_refusals_wrapped_by_scrapy_keep_their_reason() -> None:
    from scrapy.utils._download_handlers import wrap_twisted_exceptions

    try:
        with wrap_twisted_exceptions():
            raise RefusedHost("news.example resolves to 10.0.0.1, a private ... address")
    except Exception as exc:
        wrapped = Failure(exc)
    assert type(wrapped.value).__name__ == "CannotResolveHostError"
    assert failure_reason(wrapped)[0] == "refused_address"


def test_a_crawl_without_allow_private_reaches_nothing_local(
    site_factory, warehouse: Path, tmp_path: Path
) -> None:
    routes = {
        "/2026/11/03/story/": respond(200, page_html("en").encode(), "text/html; charset=utf-8"),
        "/sitemap.xml": sitemap_of(["/2026/11/03/story/"]),
    }
    site = hostile_site("local", routes)
    with site_factory(site):
        port = site.base.rsplit(":", 1)[1]
        host = socket.gethostname()  # a name for this machine, in /etc/hosts as a rule
        try:
            local_name = not is_public(socket.gethostbyname(host))
        except OSError:
            local_name = False
        by_name = [f"http://{host}:{port}/"] if local_name else []
        entries = [
            site.url("/sitemap.xml"),
            f"http://localhost:{port}/sitemap.xml",
            f"http://[::ffff:127.0.0.1]:{port}/sitemap.xml",
            METADATA,
        ]
        sources = write_sources(
            tmp_path / "sources.toml", local={"sitemaps": entries, "start_urls": by_name}
        )
        refused = crawl(warehouse, "local", "--sources-file", str(sources), check=False)
        hits_without = dict(site.hits)
        crawl(warehouse, "local", "--sources-file", str(sources), "--allow-private")
    assert refused.returncode == 1
    assert hits_without == {}
    for url in [*entries, *by_name]:
        assert f"entry point {url} failed: refused_address" in refused.stderr
    if by_name:  # a name, refused when it resolved (it is in /etc/hosts)
        assert f"{host} resolves to " in refused.stderr
    runs = table(warehouse, "select status, pages_fetched, errors from runs order by started_at")
    assert runs[0] == ("failed", 0, len(entries) + 2 * len(by_name))  # start URL and its robots.txt
    # Allowed, the sitemap is read through each of the three local entry URLs, and so is
    # the article it lists: one article and two copies of it.
    assert runs[1][:2] == ("ok", 3)
    assert site.hits["/2026/11/03/story/"] == 3
    assert table(warehouse, "select count(*) from articles") == [(1,)]
    assert table(warehouse, "select reason, count(*) from rejects group by 1") == [
        ("duplicate_content", 2)
    ]


def test_winnow_discover_follows_the_same_rules(site_factory) -> None:
    feed = b"<rss><channel><item><link>/2026/11/03/story/</link></item></channel></rss>"
    site = hostile_site("feed", {"/feed.xml": respond(200, feed, "application/rss+xml")})
    with site_factory(site):
        port = site.base.rsplit(":", 1)[1]
        refused = winnow_cmd("discover", site.url("/feed.xml"), check=False)
        host = socket.gethostname()
        by_name = winnow_cmd("discover", f"http://{host}:{port}/feed.xml", check=False)
        allowed = winnow_cmd("discover", site.url("/feed.xml"), "--allow-private")
    assert refused.returncode == 2
    assert "refused: 127.0.0.1 is a private, loopback" in refused.stderr
    if not is_public(socket.gethostbyname(host)):  # checked on the address it resolves to
        assert by_name.returncode == 2
        assert f"refused: {host} resolves to {socket.gethostbyname(host)}" in by_name.stderr
    assert allowed.stdout.split("\t")[0] == site.url("/2026/11/03/story/")
    assert site.hits == {"/feed.xml": 1}


@pytest.mark.parametrize("target", [METADATA, "http://localhost/", "file:///etc/passwd"])
def test_winnow_discover_refuses_a_redirect_to_a_private_address(target: str) -> None:
    import urllib.request

    from spiders.netguard import _GuardedRedirects

    handler = _GuardedRedirects(allow_private=False)
    request = urllib.request.Request(f"http://{PUBLIC}/feed.xml")
    with pytest.raises(RefusedAddress, match=f"redirect to {target}: "):
        handler.redirect_request(request, None, 302, "Found", {}, target)
