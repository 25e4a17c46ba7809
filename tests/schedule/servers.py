"""Real redis-server and scrapyd processes on free 127.0.0.1 ports, for tests and benchmarks."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
#: What the deployed egg is built from (pyproject.toml names the packages).
PROJECT_FILES = ("pyproject.toml", "README.md", "scrapy.cfg")
PROJECT_PACKAGES = ("settings", "spiders", "pipeline", "warehouse", "winnow")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(check, what: str, proc: subprocess.Popen, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode} while starting")
        try:
            if check():
                return
        except Exception:  # not up yet: refused, reset, protocol errors
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not come up within {timeout:g}s")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def redis_server(workdir: Path) -> Iterator[str]:
    """A throwaway redis-server (no persistence); yields its redis:// URL."""
    import redis

    exe = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not Path(exe).exists():
        raise RuntimeError("redis-server is not installed (`make system-deps` installs it)")
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    proc = subprocess.Popen(
        [
            exe,
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        _wait(lambda: redis.Redis.from_url(url, socket_timeout=1).ping(), "redis-server", proc)
        yield url
    finally:
        _stop(proc)


@contextmanager
def scrapyd_server(workdir: Path, env: dict[str, str] | None = None) -> Iterator[str]:
    """scrapyd with its eggs, logs and databases under `workdir`; yields its base URL.

    `env` is added to scrapyd's environment, which its crawl processes inherit.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    (workdir / "scrapyd.conf").write_text(
        "[scrapyd]\n"
        "bind_address = 127.0.0.1\n"
        f"http_port = {port}\n"
        f"eggs_dir = {workdir / 'eggs'}\n"
        f"logs_dir = {workdir / 'logs'}\n"
        f"dbs_dir = {workdir / 'dbs'}\n"
        "items_dir =\n"
        "max_proc = 2\n"
        "poll_interval = 0.2\n"
        "jobs_to_keep = 50\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "scrapyd", "--pidfile="],
        cwd=workdir,
        env={**os.environ, **(env or {})},
        stdout=(workdir / "scrapyd.out").open("wb"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        with urllib.request.urlopen(url + "/daemonstatus.json", timeout=2) as response:
            return json.load(response).get("status") == "ok"

    try:
        _wait(up, "scrapyd", proc)
        yield url
    finally:
        _stop(proc)


def deploy(url: str, workdir: Path, project: str = "winnow") -> str:
    """Deploy this checkout to scrapyd the way the README says: `scrapyd-deploy` from a copy."""
    copy = workdir / "project"
    if copy.exists():
        shutil.rmtree(copy)
    copy.mkdir(parents=True)
    for name in PROJECT_FILES:
        shutil.copy2(ROOT / name, copy / name)
    for package in PROJECT_PACKAGES:
        shutil.copytree(
            ROOT / package, copy / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    cfg = copy / "scrapy.cfg"
    cfg.write_text(re.sub(r"(?m)^url\s*=.*$", f"url = {url}/", cfg.read_text()))
    proc = subprocess.run(
        [str(BIN / "scrapyd-deploy"), "-p", project],
        cwd=copy,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if proc.returncode != 0 or '"status": "ok"' not in proc.stdout + proc.stderr:
        raise RuntimeError(f"scrapyd-deploy failed:\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout + proc.stderr
