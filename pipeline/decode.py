"""Bytes to text: honest about charsets that lie.

Order: a byte-order mark; strict UTF-8 (a non-UTF-8 body almost never decodes as
valid UTF-8, so this is safe even when the header says otherwise); the charset
declared by the header or a <meta> tag when the bytes are valid in it; then a
statistical guess (charset_normalizer, trafilatura's own dependency).
"""

from __future__ import annotations

import codecs
import re

from charset_normalizer import from_bytes

_META_CHARSET = re.compile(
    rb"""<meta[^>]{0,200}?charset\s*=\s*["']?\s*([a-zA-Z0-9_\-:.]{1,40})""", re.I
)
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([a-zA-Z0-9_\-:.]{1,40})", re.I)
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# Single-byte codecs accept any byte, so "it decoded" proves nothing for them.
_PERMISSIVE = {"latin-1", "iso8859-1", "cp1252", "iso8859-15", "ascii"}


def _codec(name: str) -> str | None:
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def declared_charsets(body: bytes, content_type: str) -> list[str]:
    """Charsets the response claims: header first, then the first <meta> in the head."""
    found = []
    match = _HEADER_CHARSET.search(content_type or "")
    if match and (name := _codec(match.group(1))):
        found.append(name)
    match = _META_CHARSET.search(body[:4096])
    if match and (name := _codec(match.group(1).decode("ascii", "ignore"))):
        found.append(name)
    return found


def decode_html(body: bytes, content_type: str = "") -> tuple[str, str]:
    """Decode an HTML body; returns (text, encoding used)."""
    for bom, name in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(name, errors="replace"), name
    try:
        return body.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    declared = declared_charsets(body, content_type)
    for name in declared:
        if name in _PERMISSIVE or name == "utf-8":
            continue
        try:
            return body.decode(name), name
        except UnicodeDecodeError:
            continue
    best = from_bytes(body[:200_000]).best()
    if best is not None and best.encoding:
        name = _codec(best.encoding) or "utf-8"
        if not (declared and name in _PERMISSIVE and declared[0] in _PERMISSIVE):
            return body.decode(name, errors="replace"), name
    name = declared[0] if declared else "cp1252"
    return body.decode(name, errors="replace"), name
