"""The packaged data files, parsed through the cache."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

import pytest

import pipeline.datafiles
from pipeline.datafiles import cache_dir, cached_toml, packaged_toml

FILES = ["trailers.toml", "stopwords.toml", "junk_phrases.toml", "spinner_substitutions.toml"]
TOML = b'[[trailer]]\nlang = "en"\nkind = "comment_form"\ntext = "Leave a Reply"\n'


@pytest.fixture
def cache(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("WINNOW_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def parses(monkeypatch) -> list[str]:
    """The TOML texts actually parsed (not read from the cache)."""
    seen: list[str] = []
    parse = tomllib.loads

    def counting(text: str) -> dict:
        seen.append(text)
        return parse(text)

    monkeypatch.setattr(pipeline.datafiles.tomllib, "loads", counting)
    return seen


@pytest.mark.parametrize("name", FILES)
def test_each_packaged_file_reads_back_from_the_cache_as_parsed(name: str, cache: Path) -> None:
    expected = tomllib.loads(resources.files("pipeline").joinpath(name).read_text("utf-8"))
    assert packaged_toml(name) == expected  # parsed, and kept
    assert len(list(cache.glob(f"{name}.*.marshal"))) == 1
    assert packaged_toml(name) == expected  # from the cache


def test_a_second_load_does_not_parse(cache: Path, parses: list[str]) -> None:
    first = cached_toml("t.toml", TOML)
    second = cached_toml("t.toml", TOML)
    assert (
        first
        == second
        == {"trailer": [{"lang": "en", "kind": "comment_form", "text": "Leave a Reply"}]}
    )
    assert len(parses) == 1


def test_an_edited_file_is_parsed_again_and_replaces_the_old_entry(
    cache: Path, parses: list[str]
) -> None:
    cached_toml("t.toml", TOML)
    edited = cached_toml("t.toml", TOML.replace(b"Leave a Reply", b"Leave a Comment"))
    assert edited["trailer"][0]["text"] == "Leave a Comment"
    assert len(parses) == 2
    assert len(list(cache.glob("t.toml.*.marshal"))) == 1


def test_a_damaged_cache_entry_is_parsed_again(cache: Path, parses: list[str]) -> None:
    cached_toml("t.toml", TOML)
    (entry,) = cache.glob("t.toml.*.marshal")
    entry.write_bytes(entry.read_bytes()[:20])
    assert cached_toml("t.toml", TOML)["trailer"][0]["text"] == "Leave a Reply"
    assert len(parses) == 2
    assert cached_toml("t.toml", TOML)["trailer"][0]["text"] == "Leave a Reply"
    assert len(parses) == 2  # mended


def test_a_cache_that_cannot_be_written_still_gives_the_file(
    tmp_path: Path, monkeypatch, parses: list[str]
) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("not a directory")
    monkeypatch.setenv("WINNOW_CACHE_DIR", str(blocked / "cache"))
    for _ in range(2):
        assert cached_toml("t.toml", TOML)["trailer"][0]["kind"] == "comment_form"
    assert len(parses) == 2


def test_values_marshal_cannot_hold_are_parsed_each_time(cache: Path, parses: list[str]) -> None:
    dated = b'updated = 2026-12-06T10:00:00Z\nname = "x"\n'
    assert cached_toml("d.toml", dated)["name"] == "x"
    assert cached_toml("d.toml", dated)["name"] == "x"
    assert len(parses) == 2
    assert not list(cache.glob("d.toml.*"))


def test_the_cache_follows_xdg_when_winnow_cache_dir_is_unset(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("WINNOW_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_dir() == tmp_path / "winnow"


def test_a_user_without_a_home_parses_and_leaves_no_cache_behind(
    tmp_path: Path, monkeypatch, parses: list[str]
) -> None:
    for name in ("WINNOW_CACHE_DIR", "XDG_CACHE_HOME", "HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(pipeline.datafiles.os.path, "expanduser", lambda path: path)
    monkeypatch.chdir(tmp_path)
    assert cache_dir() is None
    assert cached_toml("t.toml", TOML)["trailer"][0]["text"] == "Leave a Reply"
    assert len(parses) == 1
    assert list(tmp_path.iterdir()) == []
