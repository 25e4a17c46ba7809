"""`run_crawl` from a script, as a notebook or a user's own program calls it."""

from __future__ import annotations


def test_a_second_run_crawl_in_one_process_says_why_it_cannot(crawl_script) -> None:
    proc = crawl_script(
        "twice.py",
        "if __name__ == '__main__':\n"
        + "    print('kept', crawl()['winnow/articles'])\n"
        + "    try:\n        crawl()\n"
        + "    except RuntimeError as exc:\n        print('second:', exc)\n",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.startswith("kept ") and not proc.stdout.startswith("kept 0")
    assert "second: run_crawl runs once per process" in proc.stdout


def test_a_script_without_a_main_guard_is_told_to_add_one(crawl_script) -> None:
    proc = crawl_script("unguarded.py", "print('status', crawl()['winnow/run_status'])\n")
    assert "status failed" in proc.stdout, proc.stderr[-3000:]
    assert "a script that starts a crawl must do so under" in proc.stderr


def test_a_crawl_without_redis_or_cookies_does_not_load_their_code(crawl_script) -> None:
    """scrapy_redis and the cookie middleware's tldextract cost every start 60-80 ms each."""
    proc = crawl_script(
        "light.py",
        "if __name__ == '__main__':\n"
        + "    import sys\n"
        + "    print('kept', crawl()['winnow/articles'])\n"
        + "    print('loaded', [m for m in ('scrapy_redis', 'tldextract') if m in sys.modules])\n",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert not proc.stdout.startswith("kept 0")
    assert "loaded []" in proc.stdout, proc.stdout
