"""The data files shipped with the cleaning steps (pipeline/*.toml), parsed once a machine.

Trailers, stop words, junk phrases and spinner substitutions are TOML, so that people
can read and extend them. Python's TOML parser is pure Python: the trailer library
alone (2,300 entries) took 45-80 ms to parse, in every cleaning pool's start (the
forkserver's warm-up, which a crawl's first page waits for) and every CLI run. So the
parsed form is kept in a cache, as `marshal` data (what `.pyc` files hold), and read
back in 2 ms. It is keyed by a hash of the file's bytes and the Python version: an
edited file, or another Python, is parsed again. A cache that cannot be read or
written is skipped: the file is then parsed, as without one.

The cache lives in `$WINNOW_CACHE_DIR`, else `$XDG_CACHE_HOME/winnow`, else
`~/.cache/winnow`.
"""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import os
import sys
import tempfile
import tomllib
from importlib import resources
from pathlib import Path

#: Part of every key: marshal's format and what it can hold follow the Python version.
_VERSION = f"py{sys.version_info[0]}.{sys.version_info[1]}-marshal{marshal.version}".encode()


def cache_dir() -> Path | None:
    """Where parsed data files are kept; None for a process with no home to keep them in."""
    if configured := os.environ.get("WINNOW_CACHE_DIR"):
        return Path(configured)
    if xdg := os.environ.get("XDG_CACHE_HOME"):
        return Path(xdg) / "winnow"
    # A user with no home directory (a container's arbitrary uid) gets "~" back: a
    # cache there would be a directory named "~" wherever the crawl runs.
    home = Path(os.path.expanduser("~"))
    return home / ".cache" / "winnow" if home.is_absolute() else None


def packaged_toml(name: str) -> dict:
    """The parsed content of pipeline/`name`, from the cache when it has this version."""
    return cached_toml(name, resources.files("pipeline").joinpath(name).read_bytes())


def cached_toml(name: str, data: bytes) -> dict:
    """`data` (the TOML file `name`) parsed, through the cache."""
    directory = cache_dir()
    if directory is None:
        return tomllib.loads(data.decode("utf-8"))
    digest = hashlib.blake2b(_VERSION + data, digest_size=12).hexdigest()
    path = directory / f"{name}.{digest}.marshal"
    with contextlib.suppress(OSError, ValueError, EOFError, TypeError):
        parsed = marshal.loads(path.read_bytes())
        if isinstance(parsed, dict):
            return parsed
    parsed = tomllib.loads(data.decode("utf-8"))
    # ValueError: a value marshal cannot hold (a TOML date): that file is parsed each time
    with contextlib.suppress(OSError, ValueError):
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob(f"{name}.*.marshal"):  # earlier versions of the file
            stale.unlink(missing_ok=True)
        # Written aside and renamed: processes starting at once never read half a file.
        fd, temporary = tempfile.mkstemp(dir=directory, prefix=f".{name}.")
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(marshal.dumps(parsed))
            os.replace(temporary, path)
        finally:
            Path(temporary).unlink(missing_ok=True)
    return parsed
