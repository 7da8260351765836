"""Near-duplicate candidates: LSH banding in memory with numpy gives exactly datasketch's candidates."""
from __future__ import annotations

import numpy as np
from datasketch import MinHash, MinHashLSH

from dedupe.config import GroupingConfig
from dedupe.stories import band_candidate_pairs

CONFIG = GroupingConfig()


def _datasketch_pairs(matrix: np.ndarray, signed: np.ndarray) -> set[tuple[int, int]]:
    lsh = MinHashLSH(num_perm=CONFIG.num_perm, params=(CONFIG.bands, CONFIG.rows))
    sigs = {i: MinHash(num_perm=CONFIG.num_perm, hashvalues=matrix[i].astype(np.uint64), scheme="affine32") for i in np.flatnonzero(signed)}
    for i, m in sigs.items():
        lsh.insert(int(i), m)
    return {(int(i), int(j)) for i, m in sigs.items() for j in lsh.query(m) if j > i}


def _pairs(codes: np.ndarray, n: int) -> set[tuple[int, int]]:
    return {(int(c // n), int(c % n)) for c in codes}


def test_numpy_banding_gives_datasketch_candidates() -> None:
    rng = np.random.default_rng(3)
    n = 400
    # Small value ranges make chance agreement on a band common; copies agree on many bands.
    matrix = rng.integers(0, 6, size=(n, CONFIG.num_perm), dtype=np.uint32)
    for k in range(60):  # near-copies: rows 2k+1 take some bands of row 2k
        a, b = 2 * k, 2 * k + 1
        cols = rng.choice(CONFIG.num_perm, size=40, replace=False)
        matrix[b, cols] = matrix[a, cols]
    big = rng.integers(0, 2**32, size=(50, CONFIG.num_perm), dtype=np.uint64).astype(np.uint32)
    matrix[300:350] = big  # full 32-bit values
    matrix[351] = matrix[300]  # an exact copy
    signed = np.ones(n, dtype=bool)
    signed[[5, 17, 300]] = False  # rows without a signature never pair
    expected = _datasketch_pairs(matrix, signed)
    got = _pairs(band_candidate_pairs(matrix, signed, CONFIG), n)
    assert got == expected
    assert expected  # the test would be empty otherwise
    assert not any(5 in p or 17 in p or 300 in p for p in got)


def test_a_bucket_of_identical_signatures_gives_every_pair_once() -> None:
    matrix = np.tile(np.arange(CONFIG.num_perm, dtype=np.uint32), (30, 1))
    codes = band_candidate_pairs(matrix, np.ones(30, dtype=bool), CONFIG)
    assert len(codes) == 30 * 29 // 2 and len(np.unique(codes)) == len(codes)


def test_no_signatures_no_pairs() -> None:
    matrix = np.zeros((3, CONFIG.num_perm), dtype=np.uint32)
    assert len(band_candidate_pairs(matrix, np.zeros(3, dtype=bool), CONFIG)) == 0
    assert len(band_candidate_pairs(matrix[:0], np.zeros(0, dtype=bool), CONFIG)) == 0


def test_band_matches_finds_the_stored_signatures_lsh_pairs_with_the_query() -> None:
    from dedupe.stories import band_matches

    rng = np.random.default_rng(5)
    stored = rng.integers(0, 2**32, size=(300, CONFIG.num_perm), dtype=np.uint64).astype(np.uint32)
    query = rng.integers(0, 2**32, size=(20, CONFIG.num_perm), dtype=np.uint64).astype(np.uint32)
    query[3, 6:9] = stored[42, 6:9]  # one band (rows 6-8) in common
    query[7] = stored[100]  # an exact copy
    query[9, 7:10] = stored[200, 7:10]  # three rows in common, but across two bands
    mask = band_matches(stored, query, CONFIG)
    assert set(np.flatnonzero(mask)) == {42, 100}
    # the same answer as banding both together and keeping the stored-query pairs
    both = np.vstack([stored, query])
    n = len(both)
    pairs = {(int(c // n), int(c % n)) for c in band_candidate_pairs(both, np.ones(n, dtype=bool), CONFIG)}
    assert {i for i, j in pairs if i < 300 <= j} == {42, 100}


def test_near_duplicate_pairs_same_in_worker_processes(monkeypatch) -> None:
    """Confirmation chunk by chunk in worker processes gives the pairs of one process, in the same order."""
    import random

    from dedupe import stories
    from dedupe.grouping import _iter_chunks
    from dedupe.shingles import shingle_sequence
    from dedupe.signatures import minhash_signatures

    config = GroupingConfig()
    rng = random.Random(3)
    words = [f"w{k}" for k in range(400)]
    base = [" ".join(rng.choice(words) for _ in range(rng.randrange(40, 160))) for _ in range(40)]
    texts = []
    for t in base:
        texts.append(t)
        for _ in range(3):  # edited, truncated and extended copies: some pass, some fail confirmation
            toks = t.split()
            cut = rng.randrange(len(toks) // 3, len(toks) + 1)
            toks = toks[:cut] + [rng.choice(words) for _ in range(rng.randrange(0, 40))]
            texts.append(" ".join(toks))
    seqs = [shingle_sequence(t, "en", config) for t in texts]
    sigs = minhash_signatures([np.unique(s) for s in seqs], config)
    matrix = np.array([m.hashvalues for m in sigs], dtype=np.uint32)
    signed = np.ones(len(texts), dtype=bool)
    one = stories.near_duplicate_pairs(matrix, signed, seqs.__getitem__, config)
    assert len(one) > 10
    # Reference: the readable definition, pair by pair.
    codes = stories.band_candidate_pairs(matrix, signed, config)
    n = len(texts)
    expected = []
    for c in codes.tolist():
        i, j = divmod(c, n)
        link = stories.confirm(seqs[i], seqs[j], config)
        if link is not None:
            expected.append((i, j, link.jaccard, link.containment, link.prefix))
    assert [(p.a, p.b, p.jaccard, p.containment, p.prefix) for p in one] == expected
    monkeypatch.setattr(stories, "CONFIRM_CHUNK", 7)
    monkeypatch.setattr(stories, "PARALLEL_CONFIRM_MIN_PAIRS", 0)
    many = stories.near_duplicate_pairs(
        matrix, signed, seqs.__getitem__, config,
        map_chunks=lambda fn, chunks, *args: _iter_chunks(fn, chunks, 2, *args),
    )
    assert many == one
