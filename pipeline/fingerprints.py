"""Fingerprints of article text, computed in the worker alongside cleaning.

Three signatures, each comparing the text (never the headline) after the same
normalisation (`text_words`: case-folded `\\w+` runs):

* `content_hash` identifies exact copies: the same words in the same order, whatever
  the whitespace, case or punctuation around them.
* `minhash` (128 bytes) estimates the Jaccard similarity of two texts' sets of word
  5-grams: a syndicated copy with a new headline, lede and trailer still shares most
  of them. MinHash comes from rensa (Rust): on 400-word documents it computed
  157,000 signatures/s against datasketch's 3,300/s (`benchmarks/duplicates.py`),
  so the Python tokenising and shingling, not the hashing, is the cost here.
* `skeleton_hash` (64 bytes) is a MinHash of 4-grams of the text's *stop-word
  sequence* (the DSpin idea, NDSS 2014): an article spinner swaps content words for
  synonyms, which breaks nearly every word 5-gram, but leaves the function words in
  place. `None` for languages without a stop-word list (ja, zh, ...) or texts too
  short to have a meaningful skeleton.

Each MinHash value is stored as one byte (b-bit MinHash, Li & König 2010): two
values from equal minima are equal, two from different minima collide with
probability 1/256, which `similarity` corrects for. One byte per permutation keeps
the duplicate index at a few hundred bytes per article, and four consecutive bytes
make one 32-bit LSH band key (see pipeline/duplicates.py).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from typing import TYPE_CHECKING

from rensa import RMinHash

from pipeline.record import Article

if TYPE_CHECKING:
    # Not imported at run time: a cleaning worker would load numpy (~85 ms of every
    # pool's start) for one multiply a page. Arrays come from pipeline.duplicates.
    import numpy as np

_WORD = re.compile(r"\w+", re.UNICODE)

#: Word n-gram size of the near-duplicate shingles.
SHINGLE_WORDS = 5
MINHASH_PERM = 128
MINHASH_SEED = 20141
#: Stop-word n-gram size of the skeleton shingles.
SKELETON_GRAM = 4
SKELETON_PERM = 64
SKELETON_SEED = 20142
#: Fewer stop words than this and two unrelated texts' skeletons can look alike.
MIN_SKELETON_WORDS = 30
#: Everything above, as one string: the persisted index is only reused when it matches.
PARAMS = (
    f"words=casefold-w;shingle={SHINGLE_WORDS};minhash={MINHASH_PERM}/{MINHASH_SEED};"
    f"skeleton={SKELETON_GRAM}/{SKELETON_PERM}/{SKELETON_SEED}/{MIN_SKELETON_WORDS};bbit=8;rensa"
)
_MIX = 0x9E3779B1


def text_words(text: str) -> list[str]:
    """The text's words, case-folded: the unit every fingerprint is built from."""
    return _WORD.findall(text.casefold())


def content_hash(text: str) -> str:
    """SHA-1 (hex) of the text's words joined by single spaces."""
    return hashlib.sha1(" ".join(text_words(text)).encode("utf-8")).hexdigest()


def content_key(digest: str) -> int:
    """The first 64 bits of a content hash, as the duplicate index stores it."""
    return int(digest[:16], 16)


def shingles(words: list[str], size: int = SHINGLE_WORDS) -> list[str]:
    """Overlapping word n-grams; a text shorter than `size` is one shingle."""
    if len(words) <= size:
        return [" ".join(words)]
    # The shifted copies are shorter: zip stops at the last full n-gram.
    return [" ".join(gram) for gram in zip(*(words[i:] for i in range(size)), strict=False)]


def _bbit(digest: list[int]) -> bytes:
    # Mix before keeping one byte: the low bits of a linear permutation are not uniform.
    return bytes(((value * _MIX) & 0xFFFFFFFF) >> 24 for value in digest)


def minhash(tokens: list[str], perm: int = MINHASH_PERM, seed: int = MINHASH_SEED) -> bytes:
    """b-bit MinHash (one byte per permutation) of a set of string tokens."""
    sketch = RMinHash(num_perm=perm, seed=seed)
    sketch.update(tokens or [""])
    return _bbit(sketch.digest())


def skeleton(words: list[str], stop: frozenset[str]) -> list[str]:
    """The text's stop words in order: what survives synonym swapping."""
    return [w for w in words if w in stop]


def skeleton_signature(text: str, lang: str, words: list[str] | None = None) -> bytes | None:
    """MinHash of the stop-word sequence's 4-grams; None without a usable skeleton.

    `words` may pass `text_words(text)` when the caller has it already.
    """
    from pipeline.quality import stopwords

    stop = stopwords().get(lang)
    if not stop:
        return None
    # The stop-word lists are NFKC-normalised (Arabic presentation forms, full-width Latin).
    if words is None or not unicodedata.is_normalized("NFKC", text):
        words = text_words(unicodedata.normalize("NFKC", text))
    bones = skeleton(words, stop)
    if len(bones) < MIN_SKELETON_WORDS:
        return None
    return minhash(shingles(bones, SKELETON_GRAM), SKELETON_PERM, SKELETON_SEED)


def similarity(a: bytes | np.ndarray, b: bytes | np.ndarray) -> float:
    """Estimated Jaccard similarity of two b-bit signatures (corrected for 1/256 collisions)."""
    equal = sum(x == y for x, y in zip(bytes(a), bytes(b), strict=True))
    return estimate(equal / len(a))


def estimate(matching: float | np.ndarray) -> float | np.ndarray:
    """Jaccard from the share of equal one-byte values: P(equal) = J + (1 - J) / 256."""
    jaccard = (matching - 1 / 256) / (1 - 1 / 256)
    if isinstance(jaccard, float):  # one value: np.clip costs more than the rest of a lookup
        return min(1.0, max(0.0, jaccard))
    return jaccard.clip(0.0, 1.0)


def add_fingerprints(article: Article) -> Article:
    """Set the article's near-duplicate and skeleton signatures and its spin score."""
    from pipeline.spin import spin_score

    words = text_words(article.text)
    article.minhash = minhash(shingles(words))
    article.skeleton_hash = skeleton_signature(article.text, article.lang, words)
    article.spin_score = spin_score(article.text, article.lang)
    return article
