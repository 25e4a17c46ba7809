"""Fixtures for scheduling and scale-out: a real redis-server and a real scrapyd with winnow deployed."""

from __future__ import annotations

import pytest

from tests.schedule.servers import deploy, redis_server, scrapyd_server


@pytest.fixture
def redis_url(tmp_path):
    with redis_server(tmp_path / "redis") as url:
        yield url


@pytest.fixture(scope="module")
def scrapyd(tmp_path_factory):
    """A scrapyd on a free port with this checkout deployed as project `winnow` (scrapyd-deploy)."""
    workdir = tmp_path_factory.mktemp("scrapyd")
    env = {"WINNOW_START_DELAY": "0.05", "WINNOW_WORKERS": "1", "WINNOW_LOG_LEVEL": "INFO"}
    with scrapyd_server(workdir, env) as url:
        deploy(url, workdir)
        yield url, workdir
