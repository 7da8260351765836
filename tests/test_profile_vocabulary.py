"""The profile table's vocabulary: dense column ids for 64-bit hashes in order of first appearance (a block's
new hashes in hash order), the same however often its recent level is merged into the settled one."""
from __future__ import annotations

import numpy as np
import pytest

from dedupe.profiles import Vocabulary


def reference_columns(blocks: list[np.ndarray]) -> tuple[list[np.ndarray], np.ndarray]:
    """What the vocabulary must give, by a dict: each block's new hashes numbered in hash order."""
    ids: dict[int, int] = {}
    out = []
    for block in blocks:
        for h in sorted(set(block.tolist()) - ids.keys()):
            ids[h] = len(ids)
        out.append(np.array([ids[h] for h in block.tolist()], dtype=np.int32))
    hashes = np.zeros(len(ids), dtype=np.uint64)
    for h, i in ids.items():
        hashes[i] = h
    return out, hashes


@pytest.mark.parametrize("recent", [1, 7, 100, 1 << 20])
def test_columns_are_numbered_in_order_of_first_appearance(monkeypatch: pytest.MonkeyPatch, recent: int) -> None:
    monkeypatch.setattr(Vocabulary, "RECENT", recent)
    rng = np.random.default_rng(recent)
    blocks = []
    for k in range(120):  # small pools repeat hashes across blocks; the full range gives mostly new ones
        high = 2**64 - 1 if k % 4 == 0 else 3000
        blocks.append(rng.integers(0, high, size=int(rng.integers(0, 300)), dtype=np.uint64, endpoint=True))
    expected, expected_hashes = reference_columns(blocks)
    vocab = Vocabulary()
    for block, want in zip(blocks, expected):
        got = vocab.columns(block)
        assert got.dtype == np.int32 and np.array_equal(got, want)
    assert vocab.size == len(expected_hashes)
    assert np.array_equal(vocab.hashes(), expected_hashes)


def test_the_largest_hashes_and_empty_blocks() -> None:
    vocab = Vocabulary()
    top = np.array([2**64 - 1, 0, 2**64 - 1], dtype=np.uint64)
    assert vocab.columns(np.zeros(0, dtype=np.uint64)).tolist() == []
    assert vocab.columns(top).tolist() == [1, 0, 1]
    assert vocab.columns(top[::-1]).tolist() == [1, 0, 1]
    assert vocab.hashes().tolist() == [0, 2**64 - 1]
