"""Stable story and event ids across runs: clusters inherit the ids their members had before."""
from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Collection, Mapping, Sequence


def fresh_id(prefix: str, seed_member: str, taken: set[str]) -> str:
    """A deterministic id derived from a cluster's seed member, unique among `taken`."""
    base = f"{prefix}-{hashlib.sha1(seed_member.encode('utf-8')).hexdigest()[:12]}"
    candidate, k = base, 1
    while candidate in taken:
        k += 1
        candidate = f"{base}-{k}"
    return candidate


def assign_ids(
    clusters: Sequence[Sequence[str]], previous: Mapping[str, str], prefix: str,
    reserved: Collection[str] = (),
) -> list[tuple[str, str]]:
    """Give each cluster (a list of member ids, seed first) an id and a status (`new|updated|unchanged`).

    A cluster keeps the previous id that most of its members carried; when an old cluster was split, the
    part holding most of its members keeps the id. Ids are never reused for different clusters in one run,
    and a new id is never one of `reserved` (ids kept by clusters outside this grouping).
    """
    old_members: dict[str, set[str]] = {}
    for member, cid in previous.items():
        old_members.setdefault(cid, set()).add(member)

    claims: list[tuple[int, int, str, int]] = []  # (-votes, order, old id, cluster index)
    for ci, members in enumerate(clusters):
        votes = Counter(previous[m] for m in members if m in previous)
        for old_id, n in votes.items():
            claims.append((-n, ci, old_id, ci))
    claims.sort()
    result: list[tuple[str, str] | None] = [None] * len(clusters)
    taken: set[str] = set(old_members) | set(reserved)
    granted: set[str] = set()
    for _neg, _order, old_id, ci in claims:
        if result[ci] is not None or old_id in granted:
            continue
        granted.add(old_id)
        status = "unchanged" if set(clusters[ci]) == old_members[old_id] else "updated"
        result[ci] = (old_id, status)
    for ci, members in enumerate(clusters):
        if result[ci] is None:
            new = fresh_id(prefix, members[0], taken)
            taken.add(new)
            result[ci] = (new, "new")
    return [r for r in result if r is not None]
