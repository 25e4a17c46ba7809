"""Fingerprints of article text, computed in the worker alongside cleaning.

`content_hash` identifies exact copies: the same words in the same order, whatever
the whitespace, case or punctuation around them.
"""

from __future__ import annotations

import hashlib
import re

_WORD = re.compile(r"\w+", re.UNICODE)


def text_words(text: str) -> list[str]:
    """The text's words, case-folded: the unit every fingerprint is built from."""
    return _WORD.findall(text.casefold())


def content_hash(text: str) -> str:
    """SHA-1 (hex) of the text's words joined by single spaces."""
    return hashlib.sha1(" ".join(text_words(text)).encode("utf-8")).hexdigest()
