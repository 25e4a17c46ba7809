"""Bytes to text: honest about charsets that lie.

A byte-order mark wins; then strict UTF-8 (a non-UTF-8 body almost never decodes as
valid UTF-8, so this is safe even when the header says otherwise). Otherwise every
candidate is tried, in order of trust: the charsets declared by the header and a
<meta> tag, UTF-8 with a few bad bytes, windows-1252 (the web's default for unlabelled
pages) and a statistical guess (charset_normalizer, trafilatura's own dependency).
Single-byte codecs accept any byte, so "it decoded" proves nothing; each candidate's
text is scored by how garbled it looks (charset_normalizer's mess ratio, plus the share
of bytes it could not decode) and the least garbled wins; a declared charset is
trusted a little more, and earlier candidates win ties.
A header that says iso-8859-1 over a windows-1251 body thus still gives Russian text.
When every candidate is garbled the body is not text: `UndecodableError`.
"""

from __future__ import annotations

import codecs
import re

from charset_normalizer import from_bytes
from charset_normalizer.md import mess_ratio

_META_CHARSET = re.compile(
    rb"""<meta[^>]{0,200}?charset\s*=\s*["']?\s*([a-zA-Z0-9_\-:.]{1,40})""", re.I
)
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([a-zA-Z0-9_\-:.]{1,40})", re.I)
_NON_ASCII_WORD = re.compile(r"[^\s<>\"'=]*[^\x00-\x7f][^\s<>\"'=]*")
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
#: How much of a body the statistical guess and the mess score look at.
SAMPLE_BYTES = 200_000
#: Above this score even the best candidate is garbage, not text in a wrong charset.
#: Text in its right charset scores about 0-0.1; random bytes score above 1.5.
MAX_GARBLE = 0.5
#: A declared charset keeps its word unless another candidate is clearly less garbled
#: (Turkish in its declared windows-1254 scores a little worse than in a wrong guess).
DECLARED_TRUST = 0.1


class UndecodableError(ValueError):
    """The body is not text in any declared or detected charset; the message says which were tried."""


#: Codecs Python knows that are not a web page's character set (escapes, IDNA, UTF-7).
_NOT_CHARSETS = {"undefined", "unicode-escape", "raw-unicode-escape", "idna", "punycode", "utf-7"}


def _codec(name: str) -> str | None:
    """Python's name for a charset label, or None for unknown labels and non-text codecs (zlib, rot13)."""
    try:
        info = codecs.lookup(name)
    except LookupError:
        return None
    if not getattr(info, "_is_text_encoding", True) or info.name in _NOT_CHARSETS:
        return None
    return info.name


def declared_charsets(body: bytes, content_type: str) -> list[str]:
    """Charsets the response claims: header first, then the first <meta> in the head."""
    found = []
    if name := _header_charset(content_type):
        found.append(name)
    match = _META_CHARSET.search(body[:4096])
    if match and (name := _codec(match.group(1).decode("ascii", "ignore"))):
        # A <meta> readable as ASCII cannot truly be UTF-16/32 (the HTML standard's rule).
        found.append("utf-8" if name.startswith(("utf-16", "utf-32")) else name)
    return found


def _header_charset(content_type: str) -> str | None:
    match = _HEADER_CHARSET.search(content_type or "")
    return _codec(match.group(1)) if match else None


def wide_text(body: bytes, content_type: str = "") -> str | None:
    """The UTF-16/32 codec a body is in, by its BOM or its Content-Type, else None.

    Such a body is full of NUL bytes that are text, not a sign of a binary file.
    """
    for bom, name in _BOMS:
        if name.startswith("utf-16") and body.startswith(bom):
            return name
    name = _header_charset(content_type)
    return name if name and name.startswith(("utf-16", "utf-32")) else None


def garble(text: str) -> float:
    """How garbled decoded text looks: 0 for clean text, about 1 or more for mojibake.

    Only words with a non-ASCII character are scored: charsets differ on nothing
    else, and markup and English loanwords would dilute the difference.
    """
    words = " ".join(_NON_ASCII_WORD.findall(text[:SAMPLE_BYTES]))
    if not words:
        return 0.0
    replaced = words.count("\ufffd")
    non_ascii = sum(1 for ch in words if ch > "\x7f")
    return mess_ratio(words, 1.0) + replaced / max(1, non_ascii)


def _guess(body: bytes) -> str | None:
    best = from_bytes(body[:SAMPLE_BYTES]).best()
    return _codec(best.encoding) if best is not None and best.encoding else None


def decode_html(body: bytes, content_type: str = "") -> tuple[str, str]:
    """Decode an HTML body; returns (text, encoding used) or raises UndecodableError."""
    for bom, name in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(name, errors="replace"), name
    if wide := wide_text(body, content_type):  # UTF-16 ASCII is valid UTF-8, with NULs
        return body.decode(wide, errors="replace"), wide
    try:
        return body.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    declared = declared_charsets(body, content_type)
    tried: dict[str, tuple[float, str]] = {}

    def score(name: str) -> float:
        if name not in tried:
            try:
                text = body.decode(name, errors="replace")
            except (UnicodeError, LookupError):  # a codec that cannot even replace
                tried[name] = (float("inf"), "")
            else:
                tried[name] = (garble(text), text)
        return tried[name][0]

    for name in declared:
        if score(name) == 0.0:  # as good as text gets: no other candidate can beat it
            return tried[name][1], name
    candidates = [*declared, "utf-8", "cp1252"]
    if (guess := _guess(body)) is not None:
        candidates.append(guess)
    best = min(
        dict.fromkeys(candidates),
        key=lambda name: (
            score(name) - (DECLARED_TRUST if name in declared else 0.0),
            candidates.index(name),
        ),
    )
    if tried[best][0] > MAX_GARBLE:
        said = f" (declared: {', '.join(declared)})" if declared else ""
        raise UndecodableError(
            f"the body is not text in any declared or detected charset{said}; "
            f"least garbled: {best} at {tried[best][0]:.2f}"
        )
    return tried[best][1], best
