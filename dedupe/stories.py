"""Stories: near-duplicate articles. LSH on MinHash signatures proposes candidates; exact shingles confirm."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from datasketch import MinHash, MinHashLSH

from dedupe.config import GroupingConfig
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


def near_duplicate_pairs(
    signatures: Sequence[MinHash | None],
    sequence_of: Callable[[int], np.ndarray],
    config: GroupingConfig,
    uses_chars: Callable[[int], bool] = lambda _i: False,
    index: RedisLSHIndex | None = None,
    keys: Sequence[str] | None = None,
) -> list[PairLink]:
    """Confirmed near-duplicate pairs among the documents (a None signature never pairs).

    `sequence_of(i)` returns document i's shingle hashes in reading order; it is called only for
    documents that have candidates, so stored signatures spare the shingling of everything else.
    `index`/`keys`: a shared LSH index (dedupe.lshindex) instead of one built in memory.
    """
    candidates = candidate_lists(signatures, config, index, keys)
    cache: dict[int, np.ndarray] = {}

    def seq(i: int) -> np.ndarray:
        if i not in cache:
            cache[i] = sequence_of(i)
        return cache[i]

    links: list[PairLink] = []
    for i, found in enumerate(candidates):
        for j in found:
            if j <= i:
                continue
            link = confirm(seq(i), seq(j), config, chars=uses_chars(i) or uses_chars(j))
            if link is not None:
                links.append(PairLink(i, j, link.jaccard, link.containment, link.prefix))
    return links


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
