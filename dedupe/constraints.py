"""Labellers' decisions as pair constraints on grouping: must-link (kept together) and cannot-link (kept apart).

A decision is about two articles. `group()` applies cannot-links first (near-duplicate stories are built
without joining across one, events never merge across one) and then must-links (the stories of two
must-linked articles start in one event). Where both apply to one pair of stories, cannot-link wins: a
split is visible to a labeller, a wrong merge hides an article.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field


def _pair(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a <= b else (b, a)


@dataclass(frozen=True)
class Constraints:
    """Article-id pairs, each stored smallest id first."""

    must: frozenset[tuple[str, str]] = field(default_factory=frozenset)
    cannot: frozenset[tuple[str, str]] = field(default_factory=frozenset)

    @classmethod
    def of(cls, must: Iterable[tuple[str, str]] = (), cannot: Iterable[tuple[str, str]] = ()) -> Constraints:
        cannot_set = frozenset(_pair(a, b) for a, b in cannot if a != b)
        return cls(frozenset(_pair(a, b) for a, b in must if a != b) - cannot_set, cannot_set)

    def __bool__(self) -> bool:
        return bool(self.must or self.cannot)

    def index_pairs(self, index: Mapping[str, int]) -> tuple[set[tuple[int, int]], set[tuple[int, int]]]:
        """(must, cannot) as pairs of record indices, smaller first; pairs naming an absent article are left out."""
        def mapped(pairs: frozenset[tuple[str, str]]) -> set[tuple[int, int]]:
            out = set()
            for a, b in pairs:
                i, j = index.get(a), index.get(b)
                if i is not None and j is not None and i != j:
                    out.add((min(i, j), max(i, j)))
            return out

        return mapped(self.must), mapped(self.cannot)


def lift(pairs: Iterable[tuple[int, int]], group_of: Mapping[int, int] | list[int]) -> set[tuple[int, int]]:
    """Pairs of items -> pairs of the groups holding them (pairs inside one group are dropped)."""
    out = set()
    for a, b in pairs:
        x, y = group_of[a], group_of[b]
        if x != y:
            out.add((min(x, y), max(x, y)))
    return out
