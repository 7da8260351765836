"""Stories: near-duplicate articles. LSH on MinHash signatures proposes candidates; exact shingles confirm."""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from datasketch import MinHash, MinHashLSH

from dedupe.config import GroupingConfig
from dedupe.pairs import following_pairs, unique_codes
from dedupe.unionfind import UnionFind

if TYPE_CHECKING:
    from dedupe.lshindex import RedisLSHIndex


@dataclass(frozen=True)
class PairLink:
    """A confirmed near-duplicate pair (indices into the input) with the measures that confirmed it."""

    a: int
    b: int
    jaccard: float
    containment: float
    prefix: float


def _jaccard(x: np.ndarray, y: np.ndarray) -> tuple[float, int]:
    inter = len(np.intersect1d(x, y, assume_unique=True))
    union = len(x) + len(y) - inter
    return (inter / union if union else 0.0), inter


def confirm(seq_a: np.ndarray, seq_b: np.ndarray, config: GroupingConfig, chars: bool = False) -> PairLink | None:
    """Decide a candidate pair on its exact shingles (in reading order).

    Jaccard over the shingle sets, containment of the smaller set in the larger, and the prefix Jaccard: the
    smaller text's shingles against as many shingles from the start of the larger text. An edited, re-dated
    or re-footed copy has both a high Jaccard and a high prefix Jaccard; a text that merely contains another
    one's paragraphs somewhere (a round-up, a follow-up quoting it) has a low prefix Jaccard; a truncated copy
    is contained in its original's beginning. `chars`: the shingles are character n-grams (Chinese), which
    have their own thresholds.
    """
    min_j = config.story_jaccard_chars if chars else config.story_jaccard
    min_prefix = config.story_prefix_chars if chars else config.story_prefix
    set_a, set_b = np.unique(seq_a), np.unique(seq_b)
    if len(set_a) > len(set_b):
        seq_a, seq_b, set_a, set_b = seq_b, seq_a, set_b, set_a
    if not len(set_a):
        return None
    j, inter = _jaccard(set_a, set_b)
    containment = inter / len(set_a)
    ratio = len(set_a) / len(set_b)
    prefix, _ = _jaccard(set_a, np.unique(seq_b[: len(seq_a)]))
    if j >= min_j and prefix >= min_prefix:
        return PairLink(0, 0, j, containment, prefix)
    if (
        containment >= config.story_containment
        and prefix >= config.story_containment_prefix
        and ratio >= config.story_min_ratio
    ):
        return PairLink(0, 0, j, containment, prefix)
    return None


def candidate_lists(
    signatures: Sequence[MinHash | None], config: GroupingConfig,
    index: RedisLSHIndex | None = None, keys: Sequence[str] | None = None,
) -> list[list[int]]:
    """For each document, the documents LSH proposes (indices, sorted; empty for a None signature).

    In memory by default; with a shared `index` (keys: one per document), the signatures the index lacks
    are inserted and its answers outside this set of documents are ignored, so the candidates are the same.
    """
    signed = [i for i, m in enumerate(signatures) if m is not None]
    out: list[list[int]] = [[] for _ in signatures]
    if index is None:
        lsh = MinHashLSH(num_perm=config.num_perm, params=(config.bands, config.rows))
        with lsh.insertion_session() as session:
            for i in signed:
                session.insert(i, signatures[i], check_duplication=False)
        for i in signed:
            out[i] = sorted(lsh.query(signatures[i]))
        return out
    if keys is None or len(keys) != len(signatures):
        raise ValueError("a shared LSH index needs one key per signature")
    signed_sigs = [m for m in signatures if m is not None]
    index.inserted = index.add(zip((keys[i] for i in signed), signed_sigs))
    position = {keys[i]: i for i in signed}
    answers = index.query_many(signed_sigs)
    for i, found in zip(signed, answers):
        out[i] = sorted(position[k] for k in found if k in position)
    return out


_MIX = np.uint64(0x9E3779B97F4A7C15)


def _band_keys(matrix: np.ndarray, band: int, rows: int) -> np.ndarray:
    """One 64-bit key per signature for one band (its rows mixed; equal bands give equal keys, and unequal ones
    collide with probability ~2^-64: an extra candidate, which confirmation then rejects)."""
    block = matrix[:, band * rows:(band + 1) * rows].astype(np.uint64)
    key: np.ndarray = np.zeros(len(matrix), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in range(block.shape[1]):
            key = (key ^ block[:, k]) * _MIX
            key ^= key >> np.uint64(29)
    return key


def _runs_pairs(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every pair of items with equal keys, as (first, second) item positions."""
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    # Each position's run ends (exclusive) at the next position whose key differs.
    ends = np.append(np.flatnonzero(sorted_keys[1:] != sorted_keys[:-1]) + 1, len(keys))
    run_end = np.repeat(ends, np.diff(np.concatenate(([0], ends))))
    first, second = following_pairs(run_end - np.arange(len(keys)) - 1)
    return order[first], order[second]


def band_candidate_pairs(matrix: np.ndarray, signed: np.ndarray, config: GroupingConfig) -> np.ndarray:
    """Candidate pairs of MinHash LSH, computed in memory with numpy: documents whose signatures agree on every
    row of at least one band (`config.bands` bands of `config.rows` rows, as datasketch's `MinHashLSH` bands
    them, so the candidates are the ones its `query` gives). Returns the pairs as codes i * n + j (i < j),
    sorted and unique.

    `matrix`: one signature per row (n x num_perm, uint32); `signed`: which rows hold a signature. Per band
    the documents are sorted by their band's key and each run of equal keys gives its pairs: some hundred
    bytes per document, where a datasketch index in memory keeps a Python set member per band and document
    (42 per document), which does not fit in memory at a million documents.
    """
    n = len(matrix)
    idx = np.flatnonzero(signed)
    if len(idx) < 2:
        return np.zeros(0, dtype=np.int64)
    signed_rows = matrix[idx]

    def band_codes(b: int) -> np.ndarray:
        first, second = _runs_pairs(_band_keys(signed_rows, b, config.rows))
        a, c = idx[first], idx[second]
        return np.minimum(a, c) * n + np.maximum(a, c)

    return unique_codes(band_codes(b) for b in range(config.bands))


def band_matches(stored: np.ndarray, query: np.ndarray, config: GroupingConfig) -> np.ndarray:
    """Which `stored` signatures LSH proposes for at least one `query` signature (they agree on every row of
    some band): a boolean mask over `stored`. Both are matrices of one signature per row (uint32)."""
    hit = np.zeros(len(stored), dtype=bool)
    if not len(stored) or not len(query):
        return hit
    for b in range(config.bands):
        hit |= np.isin(_band_keys(stored, b, config.rows), _band_keys(query, b, config.rows))
    return hit


def _shared_index_pairs(
    matrix: np.ndarray, signed: np.ndarray, config: GroupingConfig, index: RedisLSHIndex, keys: Sequence[str]
) -> np.ndarray:
    """Candidate pairs (codes, as `band_candidate_pairs`) from a shared index in Redis."""
    from dedupe.signatures import minhash_from_bytes

    if len(keys) != len(matrix):
        raise ValueError("a shared LSH index needs one key per signature")
    sigs: list[MinHash | None] = [
        minhash_from_bytes(matrix[i].tobytes(), config) if signed[i] else None for i in range(len(matrix))
    ]
    lists = candidate_lists(sigs, config, index, keys)
    n = len(matrix)
    codes = [i * n + j for i, found in enumerate(lists) for j in found if j > i]
    return np.unique(np.asarray(codes, dtype=np.int64))


def near_duplicate_pairs(
    matrix: np.ndarray,
    signed: np.ndarray,
    sequence_of: Callable[[int], np.ndarray],
    config: GroupingConfig,
    uses_chars: Callable[[int], bool] = lambda _i: False,
    index: RedisLSHIndex | None = None,
    keys: Sequence[str] | None = None,
    sequences_of: Callable[[list[int]], Iterable[np.ndarray]] | None = None,
) -> list[PairLink]:
    """Confirmed near-duplicate pairs among the documents (a row without a signature never pairs).

    `matrix`/`signed`: the signatures, one row per document (`band_candidate_pairs`). `sequence_of(i)`
    returns document i's shingle hashes in reading order; it is called once for each document that has
    candidates (and never for the others, so stored signatures spare the shingling of everything else), or
    `sequences_of(ids)` is called once with all of them (e.g. to compute them in worker processes). Each
    sequence is computed once and held while the pairs are confirmed (a few kB per document with candidates):
    a bounded cache of sequences recomputed most partners again and again once the corpus outgrew it.
    `index`/`keys`: a shared LSH index (dedupe.lshindex) instead of one built in memory.
    """
    n = len(matrix)
    if index is not None:
        codes = _shared_index_pairs(matrix, signed, config, index, keys or [])
    else:
        codes = band_candidate_pairs(matrix, signed, config)
    docs = np.unique(np.concatenate([codes // n, codes % n])) if len(codes) else np.zeros(0, dtype=np.int64)
    ids = docs.tolist()
    computed = sequences_of(ids) if sequences_of is not None else map(sequence_of, ids)
    sequences = dict(zip(ids, computed))
    links: list[PairLink] = []
    for i, j in _code_rows(codes, n):
        link = confirm(sequences[i], sequences[j], config, chars=uses_chars(i) or uses_chars(j))
        if link is not None:
            links.append(PairLink(i, j, link.jaccard, link.containment, link.prefix))
    return links


def _code_rows(codes: np.ndarray, n: int) -> Iterator[tuple[int, int]]:
    step = 1_000_000
    for start in range(0, len(codes), step):
        chunk = codes[start:start + step]
        yield from zip((chunk // n).tolist(), (chunk % n).tolist())


def story_clusters(
    n: int, links: Sequence[PairLink], cannot: set[tuple[int, int]] | None = None
) -> list[list[int]]:
    """Connected components of the confirmed pairs; every document is in exactly one story.

    With cannot-links (labellers' decisions), pairs join strongest first and a join that would put a
    cannot-linked pair into one story is skipped, so a split article stays out however it is chained.
    """
    uf = UnionFind(n)
    if not cannot:
        for p in links:
            uf.union(p.a, p.b)
        return uf.groups()
    blocked: dict[int, set[int]] = {}
    for a, b in cannot:
        blocked.setdefault(a, set()).add(b)
        blocked.setdefault(b, set()).add(a)
    for p in sorted(links, key=lambda p: (-p.jaccard, p.a, p.b)):
        ra, rb = uf.find(p.a), uf.find(p.b)
        if ra == rb or rb in blocked.get(ra, ()):
            continue
        uf.union(ra, rb)
        keep, gone = (ra, rb) if uf.find(ra) == ra else (rb, ra)
        moved = blocked.pop(gone, set())
        for other in moved:
            blocked[other].discard(gone)
            blocked[other].add(keep)
        if moved:
            blocked.setdefault(keep, set()).update(moved)
    return uf.groups()
