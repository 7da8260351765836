"""Stories: near-duplicate articles found with MinHash LSH and confirmed on the full signature."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from datasketch import MinHash, MinHashLSH

from dedupe.config import GroupingConfig
from dedupe.unionfind import UnionFind


@dataclass(frozen=True)
class PairLink:
    """A confirmed near-duplicate pair (indices into the input), with its estimated similarity."""

    a: int
    b: int
    jaccard: float
    containment: float


def confirm(m1: MinHash, n1: int, m2: MinHash, n2: int, config: GroupingConfig) -> PairLink | None:
    """Accept a candidate pair when its Jaccard, or the containment of the smaller text, is high enough.

    Containment is estimated from Jaccard and the set sizes: |A∩B| = J(|A|+|B|)/(1+J). It lets a truncated
    copy join its original; a minimum size ratio keeps a short text from joining everything that quotes it.
    """
    j = float(m1.jaccard(m2))
    small, large = min(n1, n2), max(n1, n2)
    inter = j * (n1 + n2) / (1.0 + j) if small else 0.0
    containment = min(1.0, inter / small) if small else 0.0
    if j >= config.story_jaccard:
        return PairLink(0, 0, j, containment)
    if small >= 0.4 * large and containment >= config.story_containment:
        return PairLink(0, 0, j, containment)
    return None


def near_duplicate_pairs(
    signatures: Sequence[MinHash | None], sizes: Sequence[int], config: GroupingConfig
) -> list[PairLink]:
    """Confirmed near-duplicate pairs among the documents (a None signature never pairs)."""
    lsh = MinHashLSH(num_perm=config.num_perm, params=(config.bands, config.rows))
    keys = [str(i) for i in range(len(signatures))]
    with lsh.insertion_session() as session:
        for i, m in enumerate(signatures):
            if m is not None:
                session.insert(keys[i], m, check_duplication=False)
    links: list[PairLink] = []
    for i, m in enumerate(signatures):
        if m is None:
            continue
        for key in lsh.query(m):
            j = int(key)
            if j <= i:
                continue
            other = signatures[j]
            assert other is not None
            link = confirm(m, sizes[i], other, sizes[j], config)
            if link is not None:
                links.append(PairLink(i, j, link.jaccard, link.containment))
    links.sort(key=lambda p: (p.a, p.b))
    return links


def story_clusters(n: int, links: Sequence[PairLink]) -> list[list[int]]:
    """Connected components of the confirmed pairs; every document is in exactly one story."""
    uf = UnionFind(n)
    for p in links:
        uf.union(p.a, p.b)
    return uf.groups()
