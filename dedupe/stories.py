"""Stories: near-duplicate articles. LSH on MinHash signatures proposes candidates; exact shingles confirm."""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

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


@dataclass
class ShingleBlock:
    """The shingles of a run of documents as confirmation reads them: per document its distinct shingle hashes
    (sorted) with the position where each first occurs in reading order, and the length of its sequence.
    Document k's shingles are `values[ptr[k]:ptr[k + 1]]`. The prefix of a sequence (its first L shingles) as
    a set is then the values whose first occurrence is before L: no sequence needs to be kept or re-read."""

    values: np.ndarray  # uint32
    first: np.ndarray  # uint32
    sizes: np.ndarray  # int64: distinct shingles per document
    lengths: np.ndarray  # int64: sequence length per document

    @staticmethod
    def of(sequences: Iterable[np.ndarray]) -> ShingleBlock:
        values: list[np.ndarray] = []
        first: list[np.ndarray] = []
        lengths: list[int] = []
        for seq in sequences:
            v, f = np.unique(seq, return_index=True)
            values.append(v.astype(np.uint32, copy=False))
            first.append(f.astype(np.uint32))
            lengths.append(len(seq))
        return ShingleBlock(
            np.concatenate(values) if values else np.zeros(0, dtype=np.uint32),
            np.concatenate(first) if first else np.zeros(0, dtype=np.uint32),
            np.fromiter(map(len, values), dtype=np.int64, count=len(values)),
            np.asarray(lengths, dtype=np.int64),
        )


def _common(x: np.ndarray, y: np.ndarray) -> int:
    """How many values two sorted arrays of distinct values share."""
    if len(x) > len(y):
        x, y = y, x
    if not len(x):
        return 0
    pos = np.searchsorted(y, x)
    pos[pos == len(y)] = 0
    return int(np.count_nonzero(y[pos] == x))


def _confirm_rows(
    rows_a: np.ndarray, rows_b: np.ndarray, chars: np.ndarray, sets: _SetTable, config: GroupingConfig
) -> list[tuple[int, float, float, float]]:
    """`confirm` for candidate pairs given as rows of `sets`: (index in the input, jaccard, containment, prefix)
    of each confirmed pair. The same decisions and measures as `confirm` on the sequences, computed from the
    documents' sorted distinct shingles (`ShingleBlock`), and the cheap tests first: a pair whose sizes alone
    rule out both of `confirm`'s branches (the Jaccard is at most the smaller set over the larger) is not
    intersected, and the prefix is only measured for a pair that passes a branch's other conditions."""
    values, first = sets.values, sets.first
    ptr, lengths = sets.ptr_list, sets.lengths_list
    min_ratio, min_containment = config.story_min_ratio, config.story_containment
    containment_prefix = config.story_containment_prefix
    out: list[tuple[int, float, float, float]] = []
    for k, (a, b, ch) in enumerate(zip(rows_a.tolist(), rows_b.tolist(), chars.tolist())):
        na, nb = ptr[a + 1] - ptr[a], ptr[b + 1] - ptr[b]
        if na > nb:
            a, b, na, nb = b, a, nb, na
        if not na:
            continue
        min_j = config.story_jaccard_chars if ch else config.story_jaccard
        ratio = na / nb
        if ratio < min_j and ratio < min_ratio:
            continue  # Jaccard <= ratio < min_j, and too small for containment
        set_a = values[ptr[a]:ptr[a + 1]]
        set_b = values[ptr[b]:ptr[b + 1]]
        inter = _common(set_a, set_b)
        union = na + nb - inter
        j = inter / union if union else 0.0
        containment = inter / na
        by_jaccard = j >= min_j
        by_containment = containment >= min_containment and ratio >= min_ratio
        if not (by_jaccard or by_containment):
            continue
        prefix_b = set_b[first[ptr[b]:ptr[b + 1]] < lengths[a]]
        p_inter = _common(set_a, prefix_b)
        p_union = na + len(prefix_b) - p_inter
        prefix = p_inter / p_union if p_union else 0.0
        min_prefix = config.story_prefix_chars if ch else config.story_prefix
        if (by_jaccard and prefix >= min_prefix) or (by_containment and prefix >= containment_prefix):
            out.append((k, j, containment, prefix))
    return out


@dataclass
class _SetTable:
    """Every candidate document's `ShingleBlock` rows in one table (row r: the r-th document with candidates)."""

    values: np.ndarray
    first: np.ndarray
    ptr: np.ndarray
    lengths: np.ndarray

    def __post_init__(self) -> None:
        self.ptr_list: list[int] = self.ptr.tolist()  # read per pair: Python ints are cheaper than numpy scalars
        self.lengths_list: list[int] = self.lengths.tolist()

    _opened: ClassVar[dict[str, _SetTable]] = {}

    @staticmethod
    def write(blocks: Iterable[ShingleBlock], folder: str) -> _SetTable:
        """Written to files in `folder` as the blocks come (so the main process never holds them all), then
        mapped read-only: worker processes map the same files."""
        import os

        sizes: list[np.ndarray] = []
        lengths: list[np.ndarray] = []
        with open(os.path.join(folder, "values"), "wb") as fv, open(os.path.join(folder, "first"), "wb") as ff:
            for block in blocks:
                fv.write(block.values.tobytes())
                ff.write(block.first.tobytes())
                sizes.append(block.sizes)
                lengths.append(block.lengths)
        ptr = np.concatenate(([0], np.cumsum(np.concatenate(sizes) if sizes else np.zeros(0, dtype=np.int64))))
        np.save(os.path.join(folder, "ptr.npy"), ptr.astype(np.int64))
        np.save(os.path.join(folder, "lengths.npy"),
                np.concatenate(lengths) if lengths else np.zeros(0, dtype=np.int64))
        return _SetTable.open(folder)

    @classmethod
    def open(cls, folder: str) -> _SetTable:
        import os

        table = cls._opened.get(folder)
        if table is None:
            ptr = np.load(os.path.join(folder, "ptr.npy"))
            total = int(ptr[-1])

            def mapped(name: str) -> np.ndarray:
                if not total:
                    return np.zeros(0, dtype=np.uint32)
                mapped = np.memmap(os.path.join(folder, name), dtype=np.uint32, mode="r", shape=(total,))
                return mapped.view(np.ndarray)  # slices of a plain array view cost less than memmap slices

            table = cls(mapped("values"), mapped("first"), ptr, np.load(os.path.join(folder, "lengths.npy")))
            cls._opened = {folder: table}  # one grouping at a time per process: drop older maps
        return table

    @classmethod
    def close(cls, folder: str) -> None:
        cls._opened.pop(folder, None)


def _confirm_chunk(
    chunk: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray], folder: str, config: GroupingConfig
) -> list[PairLink]:
    """Confirm one chunk of candidate pairs: (input index a, input index b, row of a, row of b, chars) arrays;
    `folder`: the `_SetTable` files. Runs in a worker process or in the caller's."""
    ia, ib, ra, rb, ch = chunk
    table = _SetTable.open(folder)
    ia_l, ib_l = ia.tolist(), ib.tolist()
    return [PairLink(ia_l[k], ib_l[k], j, c, p) for k, j, c, p in _confirm_rows(ra, rb, ch, table, config)]


CONFIRM_CHUNK = 20_000  # candidate pairs per confirmation chunk (a worker's unit of work)
# Below this many candidate pairs (about a second of work) they are confirmed in this process: starting the
# worker processes would cost more.
PARALLEL_CONFIRM_MIN_PAIRS = 100_000

_Mapper = Callable[..., Iterable[Any]]


def _in_process(fn: Callable[..., list[Any]], chunks: Iterable[Any], *args: object) -> Iterator[Any]:
    for c in chunks:
        yield from fn(c, *args)


def near_duplicate_pairs(
    matrix: np.ndarray,
    signed: np.ndarray,
    sequence_of: Callable[[int], np.ndarray] | None,
    config: GroupingConfig,
    uses_chars: Callable[[int], bool] = lambda _i: False,
    index: RedisLSHIndex | None = None,
    keys: Sequence[str] | None = None,
    sets_of: Callable[[list[int]], Iterable[ShingleBlock]] | None = None,
    map_chunks: _Mapper | None = None,
) -> list[PairLink]:
    """Confirmed near-duplicate pairs among the documents (a row without a signature never pairs), in the order
    of their candidate codes (by first document, then second).

    `matrix`/`signed`: the signatures, one row per document (`band_candidate_pairs`). `sequence_of(i)`
    returns document i's shingle hashes in reading order; it is called once for each document that has
    candidates (and never for the others, so stored signatures spare the shingling of everything else), or
    `sets_of(ids)` is called once with all of them and yields `ShingleBlock`s for them in order (e.g. made in
    worker processes). The blocks are written to temporary files as they come and mapped (a few kB per
    document with candidates, out of the main process's heap). Candidate pairs are then confirmed chunk by
    chunk (`CONFIRM_CHUNK` pairs): `map_chunks(fn, chunks, *args)` runs fn on each chunk and yields the
    results in order (e.g. in worker processes, which map the same files) from `PARALLEL_CONFIRM_MIN_PAIRS`
    pairs on; in this process below that or by default.
    `index`/`keys`: a shared LSH index (dedupe.lshindex) instead of one built in memory.
    """
    import shutil
    import tempfile

    n = len(matrix)
    if index is not None:
        codes = _shared_index_pairs(matrix, signed, config, index, keys or [])
    else:
        codes = band_candidate_pairs(matrix, signed, config)
    if not len(codes):
        return []
    docs = np.unique(np.concatenate([codes // n, codes % n]))
    ids = docs.tolist()
    if sets_of is not None:
        blocks: Iterable[ShingleBlock] = sets_of(ids)
    elif sequence_of is not None:
        get = sequence_of
        blocks = (ShingleBlock.of(get(i) for i in ids[s:s + 500]) for s in range(0, len(ids), 500))
    else:
        raise ValueError("near_duplicate_pairs needs sequence_of or sets_of")
    chars = np.fromiter((uses_chars(i) for i in ids), dtype=bool, count=len(ids))
    folder = tempfile.mkdtemp(prefix="newsdedupe-shingles-")
    try:
        _SetTable.write(blocks, folder)

        def chunks() -> Iterator[tuple[np.ndarray, ...]]:
            for start in range(0, len(codes), CONFIRM_CHUNK):
                part = codes[start:start + CONFIRM_CHUNK]
                ia, ib = part // n, part % n
                ra, rb = np.searchsorted(docs, ia), np.searchsorted(docs, ib)
                yield ia, ib, ra, rb, chars[ra] | chars[rb]

        run = map_chunks if map_chunks is not None and len(codes) >= PARALLEL_CONFIRM_MIN_PAIRS else _in_process
        return list(run(_confirm_chunk, chunks(), folder, config))
    finally:
        _SetTable.close(folder)
        shutil.rmtree(folder, ignore_errors=True)


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
