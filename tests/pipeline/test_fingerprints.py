"""Text fingerprints: their stored format, and what computing them loads."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
from rensa import RMinHash

from pipeline.fingerprints import (
    MINHASH_PERM,
    MINHASH_SEED,
    estimate,
    minhash,
    shingles,
    similarity,
    text_words,
)
from tests.conftest import ROOT

TEXT = (
    "The harbour authority said on Tuesday that the new quay would open in the spring, "
    "after two years of work that closed the northern berths to the ferries."
)


def test_each_minhash_value_is_stored_as_the_top_byte_of_its_mixed_low_32_bits() -> None:
    """The format persisted duplicate indexes hold (fingerprints.PARAMS): it must not drift."""
    tokens = shingles(text_words(TEXT))
    sketch = RMinHash(num_perm=MINHASH_PERM, seed=MINHASH_SEED)
    sketch.update(tokens)
    values = np.asarray(sketch.digest(), dtype=np.uint64)
    mixed = (values * np.uint64(0x9E3779B1)) & np.uint64(0xFFFFFFFF)
    expected = (mixed >> np.uint64(24)).astype(np.uint8).tobytes()
    assert minhash(tokens) == expected
    assert len(expected) == MINHASH_PERM


def test_similarity_is_the_corrected_share_of_equal_bytes_for_bytes_and_arrays() -> None:
    a = minhash(shingles(text_words(TEXT)))
    b = minhash(shingles(text_words(TEXT.replace("spring", "autumn"))))
    share = sum(x == y for x, y in zip(a, b, strict=True)) / len(a)
    assert similarity(a, a) == 1.0
    assert similarity(a, b) == estimate(share)
    assert 0.0 < similarity(a, b) < 1.0
    as_arrays = similarity(np.frombuffer(a, np.uint8), np.frombuffer(b, np.uint8))
    assert as_arrays == similarity(a, b)


def test_estimate_clips_values_and_arrays_to_zero_and_one() -> None:
    assert estimate(0.0) == 0.0  # all bytes differ: fewer equal than chance
    assert estimate(1.0) == 1.0
    assert list(estimate(np.array([0.0, 1 / 256, 1.0]))) == [0.0, 0.0, 1.0]


def test_a_cleaning_worker_loads_no_numpy() -> None:
    """numpy costs every pool's start ~85 ms; only the crawler's duplicate index needs it."""
    code = "import sys, pipeline.worker; print('numpy' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"
