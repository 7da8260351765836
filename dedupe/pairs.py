"""Pairs of items as numpy arrays: how candidate pairs of stories and of documents are made and deduplicated
without a Python object per pair (8 bytes a pair, where a set of tuples takes over 100)."""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np

# Codes collected before duplicates are dropped, so that duplicates never pile up in memory.
_DEDUPLICATE_EVERY = 20_000_000


def following_pairs(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every position k paired with the `counts[k]` positions after it: (k, k + 1), ..., (k, k + counts[k]).
    Returns (first, second) positions of all pairs, in order."""
    total = int(counts.sum())
    if not total:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    first = np.repeat(np.arange(len(counts)), counts)
    second = first + 1 + (np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts))
    return first, second


def unique_codes(blocks: Iterable[np.ndarray]) -> np.ndarray:
    """The sorted distinct values of many int64 arrays (pairs encoded as i * n + j), deduplicated as they
    come in."""
    done: list[np.ndarray] = []
    pending: list[np.ndarray] = []
    pending_size = 0
    for block in blocks:
        pending.append(block)
        pending_size += len(block)
        if pending_size > _DEDUPLICATE_EVERY:
            done.append(np.unique(np.concatenate(pending)))
            pending, pending_size = [], 0
    if pending:
        done.append(np.unique(np.concatenate(pending)))
    if not done:
        return np.zeros(0, dtype=np.int64)
    return np.unique(np.concatenate(done)) if len(done) > 1 else done[0]
