"""Story profiles as compact numeric data, so that event linking fits a million stories in memory.

`dedupe.events.story_profile` describes one story with Python strings and Counters (about 30 kB a story); that
is the readable definition of what a profile holds. For linking, profiles are turned into numbers where they
are made (in the worker processes): every term (word, Han bigram, name, dictionary English word) and every
number becomes a 64-bit xxh3 hash with its count, in numpy arrays (`compact`, a `ProfileBlock` per chunk of
stories). `ProfileTable.build` gathers the blocks, gives each distinct hash a dense column id, and keeps the
counts as int32 columns and uint16 counts (a few kB a story). `tfidf` then makes the unit TF-IDF vectors (the
document frequencies gathered over all stories, each story's `max_terms` heaviest terms kept) as one
`scipy.sparse` CSR matrix, and the keys (each story's `candidate_terms` heaviest terms) that propose candidate
pairs. Term strings are not kept per story: each process that makes blocks sends a term's string once per
grouping (`_Strings`), and the evidence of a kept link reads its shared terms from that one hash -> string map.

Two different terms share a hash with probability about V^2 / 2^65 for V distinct terms (1e-6 for ten million),
so cosines are those of the strings. What can differ from string-keyed vectors is the order among terms of equal
weight where a story has more than `max_terms` terms: ties are broken by hash here (by the string before).
"""
from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

import numpy as np
from scipy.sparse import csr_matrix

if TYPE_CHECKING:
    from dedupe.events import StoryProfile

_COUNT_MAX = np.iinfo(np.uint16).max  # counts are stored as uint16 (a term 65,535 times in one story is capped)


@dataclass
class Bag:
    """Hashed items with counts for a run of stories: story k's items are `hashes[ptr[k]:ptr[k + 1]]`."""

    hashes: np.ndarray  # uint64
    counts: np.ndarray  # uint32
    ptr: np.ndarray  # int64, len = stories + 1

    @staticmethod
    def of(counters: Sequence[Mapping[str, int]], strings: _Strings | None = None) -> Bag:
        """The items of each story's {term: count}, hashed with xxh3 (deterministic; Python's `hash()` is salted
        per process) in C-level loops: a story has hundreds of terms.
        `strings`: where the terms not given before are recorded with their hashes."""
        import xxhash

        sizes = np.fromiter(map(len, counters), dtype=np.int64, count=len(counters))
        total = int(sizes.sum())
        keys = list(itertools.chain.from_iterable(counters))
        hashes = np.fromiter(map(xxhash.xxh3_64_intdigest, map(str.encode, keys)), dtype=np.uint64, count=total)
        if strings is not None:
            strings.record(hashes, keys)
        values = itertools.chain.from_iterable(c.values() for c in counters)
        counts = np.fromiter(values, dtype=np.int64, count=total)
        return Bag(hashes, np.minimum(counts, _COUNT_MAX).astype(np.uint32),
                   np.concatenate(([0], np.cumsum(sizes))).astype(np.int64))


class _Strings:
    """The terms of one grouping's profiles by hash, each sent once by the process that made it: a worker sends
    a term's string with the first block that holds it, so the main process can show evidence (shared terms
    and numbers) without computing any profile again and without a string per story."""

    _seen: ClassVar[dict[str, set[int]]] = {}  # run id -> hashes this process has sent

    def __init__(self, run: str) -> None:
        self.seen = self._seen.setdefault(run, set())
        self.new: dict[int, str] = {}

    def record(self, hashes: np.ndarray, keys: list[str]) -> None:
        if not len(hashes):
            return
        unique, first = np.unique(hashes, return_index=True)
        seen = self.seen
        # Most of a block's terms were sent before: set operations in C find the new ones, and only those are
        # visited (in ascending hash order, as all of them were before).
        fresh = set(unique.tolist())
        fresh.difference_update(seen)
        if not fresh:
            return
        seen.update(fresh)
        fresh_hashes = np.sort(np.fromiter(fresh, dtype=np.uint64, count=len(fresh)))
        at = first[np.searchsorted(unique, fresh_hashes)]
        new = self.new
        for h, k in zip(fresh_hashes.tolist(), at.tolist()):
            new[h] = keys[k]

    @classmethod
    def forget(cls, run: str) -> None:
        cls._seen.pop(run, None)


@dataclass
class ProfileBlock:
    """The compact profiles of a run of stories (what a worker sends back)."""

    family: list[str]
    days: np.ndarray  # int64 ordinals, -1 undated
    terms: Bag
    latin: np.ndarray  # bool per term: a plain Latin-script word (what the dictionary bridge compares)
    bridge: Bag | None  # Chinese stories' Latin words and dictionary English words (other stories: empty)
    neutral: Bag | None  # name words and numbers, for language pairs without a dictionary
    neutral_number: np.ndarray | None  # bool per neutral item: a number (`n:...`)
    anchors: Bag  # numbers; counts: 1, or 2 when the number reads as a year (`is_year`)
    lead: Bag  # the numbers a report leads with
    quantities: np.ndarray  # bool per story: carries a number written as a quantity
    texts: list[str] | None = None  # the texts, kept only when an encoder needs them
    strings: dict[int, str] = field(default_factory=dict)  # hash -> term or number, for those not sent before


def compact(profiles: Sequence[StoryProfile], bridge: bool, neutral: bool, keep_text: bool = False,
            run: str = "") -> ProfileBlock:
    """Hash a run of profiles into a `ProfileBlock`. `bridge`: keep the Chinese stories' dictionary words;
    `neutral`: keep the name words and numbers for language pairs without a dictionary. `run`: the grouping
    these blocks are for (this process sends each term's string once per run; see `forget_run`)."""
    from dedupe.anchors import is_year
    from dedupe.events import BRIDGED, bridge_counts, neutral_counts

    strings = _Strings(run)
    terms = Bag.of([p.terms for p in profiles], strings)
    # A plain Latin-script word (ASCII letters only, as `bridge_counts` picks them), tested in C over all terms.
    latin = np.fromiter(map(str.isascii, itertools.chain.from_iterable(p.terms for p in profiles)), dtype=bool,
                        count=len(terms.hashes))
    latin &= np.fromiter(map(str.isalpha, itertools.chain.from_iterable(p.terms for p in profiles)), dtype=bool,
                         count=len(terms.hashes))
    bridge_bag = None
    if bridge:
        counters: list[Mapping[str, int]] = [bridge_counts(p) if p.family == "zh" and "zh" in BRIDGED else {}
                                             for p in profiles]
        bridge_bag = Bag.of(counters, strings)
    neutral_bag = neutral_number = None
    if neutral:
        items = [neutral_counts(p) for p in profiles]
        neutral_bag = Bag.of(items, strings)
        neutral_number = np.array([t.startswith("n:") for c in items for t in c], dtype=bool)
    anchors = Bag.of([{a: 2 if is_year(a) else 1 for a in p.anchors} for p in profiles], strings)
    lead = Bag.of([dict.fromkeys(p.lead_anchors, 1) for p in profiles])
    return ProfileBlock(
        [p.family for p in profiles],
        np.array([p.date.toordinal() if p.date else -1 for p in profiles], dtype=np.int64),
        terms, latin, bridge_bag, neutral_bag, neutral_number, anchors, lead,
        np.array([bool(p.quantities) for p in profiles], dtype=bool),
        [p.text for p in profiles] if keep_text else None, strings.new,
    )


def forget_run(run: str) -> None:
    """Drop what this process remembers of a grouping's strings (`compact` ran here, not in workers)."""
    _Strings.forget(run)


def find_sorted(keys: np.ndarray, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each of `wanted`: its position in the sorted `keys` and whether it is there (positions of the absent
    ones are any valid index, 0 when `keys` is empty)."""
    if not len(keys):
        return np.zeros(len(wanted), dtype=np.int64), np.zeros(len(wanted), dtype=bool)
    pos = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
    return pos, keys[pos] == wanted


class Vocabulary:
    """Dense column ids for 64-bit hashes, given in order of first appearance (a block's new hashes in hash
    order).

    Two sorted levels: the settled one, and the recent one that takes each block's new hashes and is merged
    into the settled one once it holds `RECENT` of them. Inserting into one sorted array of the whole
    vocabulary (tens of millions of hashes at a million stories) copied all of it for every block; the recent
    level is small, and the settled one is rewritten once per `RECENT` new hashes. A block's hashes are looked
    up once per distinct hash, in sorted order (numpy's binary search narrows each search with the last one)."""

    RECENT = 1 << 20

    def __init__(self) -> None:
        self.sorted: np.ndarray = np.zeros(0, dtype=np.uint64)
        self.ids: np.ndarray = np.zeros(0, dtype=np.int32)
        self.recent: np.ndarray = np.zeros(0, dtype=np.uint64)
        self.recent_ids: np.ndarray = np.zeros(0, dtype=np.int32)
        self.size = 0

    @staticmethod
    def _lookup(keys: np.ndarray, ids: np.ndarray, wanted: np.ndarray, out: np.ndarray,
                todo: np.ndarray) -> np.ndarray:
        """Fill out[todo] with the ids of wanted[todo] found in `keys`; return the indices still not found."""
        if not len(todo):
            return todo
        pos, hit = find_sorted(keys, wanted[todo])
        out[todo[hit]] = ids[pos[hit]]
        return todo[~hit]

    def columns(self, hashes: np.ndarray) -> np.ndarray:
        if not len(hashes):
            return np.zeros(0, dtype=np.int32)
        unique, inverse = np.unique(hashes, return_inverse=True)
        ids = np.empty(len(unique), dtype=np.int32)
        todo = np.arange(len(unique))
        todo = self._lookup(self.sorted, self.ids, unique, ids, todo)
        todo = self._lookup(self.recent, self.recent_ids, unique, ids, todo)
        if len(todo):  # new hashes, in hash order (unique is sorted)
            new = unique[todo]
            new_ids = np.arange(self.size, self.size + len(new), dtype=np.int32)
            ids[todo] = new_ids
            self.size += len(new)
            at = np.searchsorted(self.recent, new)
            self.recent = np.insert(self.recent, at, new)
            self.recent_ids = np.insert(self.recent_ids, at, new_ids)
            if len(self.recent) >= self.RECENT:
                self._settle()
        return ids[inverse.reshape(-1)]

    def _settle(self) -> None:
        at = np.searchsorted(self.sorted, self.recent)
        self.sorted = np.insert(self.sorted, at, self.recent)
        self.ids = np.insert(self.ids, at, self.recent_ids)
        self.recent = np.zeros(0, dtype=np.uint64)
        self.recent_ids = np.zeros(0, dtype=np.int32)

    def hashes(self) -> np.ndarray:
        """Column id -> hash."""
        out = np.zeros(self.size, dtype=np.uint64)
        out[self.ids] = self.sorted
        out[self.recent_ids] = self.recent
        return out


@dataclass
class _Rows:
    """Rows of counts over dense columns, kept block by block (so they can be freed block by block)."""

    blocks: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=list)  # ptr, cols, counts

    def add(self, vocab: Vocabulary, bag: Bag, keep: np.ndarray | None = None) -> None:
        hashes, counts, ptr = bag.hashes, bag.counts, bag.ptr
        if keep is not None:  # a subset of the items of each story
            sizes = _kept_per_story(keep, ptr)
            hashes, counts = hashes[keep], counts[keep]
            ptr = np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)
        self.blocks.append((ptr, vocab.columns(hashes), counts.astype(np.uint16)))


class StringTable:
    """A `ProfileTable`'s hash -> term or number string, as a sorted array of hashes and one UTF-8 buffer: the
    blocks' `strings` dicts in a fraction of the memory (a dict of Python ints and strs takes about 150 bytes an
    entry: hundreds of MB for a million stories' vocabulary, held from the pair stage to the evidence). Read one
    at a time (`get`, as a dict) or many at once (`many`, `#<hex>` for a hash not held, as `ProfileTable.string`
    gives it)."""

    def __init__(self, strings: dict[int, str]) -> None:
        hashes = np.fromiter(strings.keys(), dtype=np.uint64, count=len(strings))
        encoded = [s.encode("utf-8") for s in strings.values()]
        ends = np.cumsum(np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded)))
        self.buffer = b"".join(encoded)
        del encoded
        order = np.argsort(hashes)
        self.hashes = hashes[order]
        self.starts = np.concatenate(([0], ends[:-1]))[order].astype(np.int64)
        self.ends = ends[order]

    def __len__(self) -> int:
        return len(self.hashes)

    def get(self, h: int, default: str | None = None) -> str | None:
        pos, found = find_sorted(self.hashes, np.array([h], dtype=np.uint64))
        if not found[0]:
            return default
        return self.buffer[self.starts[pos[0]]:self.ends[pos[0]]].decode("utf-8")

    def many(self, hashes: np.ndarray) -> list[str]:
        """The string of each hash (`#<hex>` for one not held, as `ProfileTable.string` gives it)."""
        hashes = np.asarray(hashes, dtype=np.uint64)
        if not len(self.hashes):
            return [f"#{h:x}" for h in hashes.tolist()]
        pos, found = find_sorted(self.hashes, hashes)
        buf = self.buffer
        return [buf[a:b].decode("utf-8") if ok else f"#{h:x}" for h, ok, a, b in
                zip(hashes.tolist(), found.tolist(), self.starts[pos].tolist(), self.ends[pos].tolist())]


@dataclass
class ProfileTable:
    """Every story's compact profile (see the module's docstring)."""

    n: int
    families: list[str]  # family code -> name
    family: np.ndarray  # int32 code per story; -1 for "und"
    days: np.ndarray  # int64 ordinals, -1 undated
    vocab_hashes: np.ndarray  # term column -> hash
    terms: _Rows
    bridge: _Rows | None  # rows of stories of the bridged families (others empty)
    bridged: np.ndarray  # bool per story: has a bridge vector
    neutral: _Rows | None
    neutral_numbers: np.ndarray | None  # bool per neutral column: a number
    anchors: csr_matrix  # stories x numbers, 1.0 where a story carries the number
    quantity_anchors: csr_matrix  # the same, numbers that do not read as years only
    lead: csr_matrix  # stories x numbers: the numbers a story leads with
    quantities: np.ndarray  # bool per story
    texts: list[str] | None
    anchor_hashes: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.uint64))  # column -> hash
    strings: StringTable = field(default_factory=lambda: StringTable({}))  # hash -> term or number

    def string(self, h: int) -> str:
        found = self.strings.get(h)
        return f"#{h:x}" if found is None else found

    @staticmethod
    def build(blocks: Iterable[ProfileBlock], bridged_families: frozenset[str] = frozenset()) -> ProfileTable:
        vocab, anchor_vocab = Vocabulary(), Vocabulary()
        terms, bridge, neutral = _Rows(), _Rows(), _Rows()
        families: dict[str, int] = {}
        fam: list[np.ndarray] = []
        days: list[np.ndarray] = []
        anchors: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        lead: list[tuple[np.ndarray, np.ndarray]] = []
        quantities: list[np.ndarray] = []
        neutral_number_cols: list[np.ndarray] = []
        texts: list[str] | None = []
        has_bridge = has_neutral = False
        strings: dict[int, str] = {}
        for b in blocks:
            strings.update(b.strings)
            fam.append(np.array([-1 if f == "und" else families.setdefault(f, len(families)) for f in b.family],
                                dtype=np.int32))
            days.append(b.days)
            if b.bridge is not None:
                has_bridge = True
                # A non-Chinese story of a bridged family compares its plain Latin words; a Chinese one its
                # own bag (Latin words and dictionary English).
                other = np.array([f in bridged_families and f != "zh" for f in b.family], dtype=bool)
                per_term = np.repeat(other, np.diff(b.terms.ptr))
                merged = _merge_bags(b.terms, b.latin & per_term, b.bridge)
                bridge.add(vocab, merged)
            terms.add(vocab, b.terms)
            if b.neutral is not None:
                has_neutral = True
                neutral.add(vocab, b.neutral)
                assert b.neutral_number is not None
                neutral_number_cols.append(neutral.blocks[-1][1][b.neutral_number])
            cols = anchor_vocab.columns(b.anchors.hashes)
            anchors.append((b.anchors.ptr, cols, b.anchors.counts == 2))
            lead.append((b.lead.ptr, anchor_vocab.columns(b.lead.hashes)))
            quantities.append(b.quantities)
            if texts is not None and b.texts is not None:
                texts.extend(b.texts)
            else:
                texts = None
        family = np.concatenate(fam) if fam else np.zeros(0, dtype=np.int32)
        n = len(family)
        names = [f for f, _ in sorted(families.items(), key=lambda kv: kv[1])]
        codes = {f: c for c, f in enumerate(names)}
        bridged = np.zeros(n, dtype=bool)
        if has_bridge:
            for f in bridged_families:
                if f in codes:
                    bridged |= family == codes[f]
        numbers = np.zeros(vocab.size, dtype=bool)
        for c in neutral_number_cols:
            numbers[c] = True
        a_ptr, a_cols, _ = _concat_rows([(p, c) for p, c, _ in anchors])
        years = np.concatenate([y for _, _, y in anchors]) if anchors else np.zeros(0, dtype=bool)
        l_ptr, l_cols, _ = _concat_rows(lead)
        shape = (n, max(1, anchor_vocab.size))
        ones = np.ones(len(a_cols), dtype=np.float32)
        anchor_matrix = csr_matrix((ones, a_cols, a_ptr), shape=shape)
        quantity_matrix = csr_matrix((np.where(years, 0, 1).astype(np.float32), a_cols.copy(), a_ptr.copy()),
                                     shape=shape)  # its own arrays: eliminate_zeros works in place
        quantity_matrix.eliminate_zeros()
        lead_matrix = csr_matrix((np.ones(len(l_cols), dtype=np.float32), l_cols, l_ptr), shape=shape)
        for m in (anchor_matrix, quantity_matrix, lead_matrix):
            m.sort_indices()
        return ProfileTable(
            n, names, family, np.concatenate(days) if days else np.zeros(0, dtype=np.int64), vocab.hashes(),
            terms, bridge if has_bridge else None, bridged, neutral if has_neutral else None,
            numbers if has_neutral else None, anchor_matrix, quantity_matrix, lead_matrix,
            np.concatenate(quantities) if quantities else np.zeros(0, dtype=bool), texts,
            anchor_vocab.hashes(), StringTable(strings),
        )


def _kept_per_story(keep: np.ndarray, ptr: np.ndarray) -> np.ndarray:
    """How many of each story's items `keep` keeps (story k's items are keep[ptr[k]:ptr[k + 1]])."""
    total = np.concatenate(([0], np.cumsum(keep, dtype=np.int64)))
    return total[ptr[1:]] - total[ptr[:-1]]


def _merge_bags(terms: Bag, keep: np.ndarray, extra: Bag) -> Bag:
    """Per story: the kept items of `terms` followed by the items of `extra` (hashes may repeat: summed later)."""
    k_sizes = _kept_per_story(keep, terms.ptr)
    e_sizes = np.diff(extra.ptr)
    story_k = np.repeat(np.arange(len(k_sizes)), k_sizes)
    story_e = np.repeat(np.arange(len(e_sizes)), e_sizes)
    story = np.concatenate([story_k, story_e])
    hashes = np.concatenate([terms.hashes[keep], extra.hashes])
    counts = np.concatenate([terms.counts[keep], extra.counts]).astype(np.int64)
    order = np.lexsort((hashes, story))
    story, hashes, counts = story[order], hashes[order], counts[order]
    if len(hashes):
        first = np.r_[True, (hashes[1:] != hashes[:-1]) | (story[1:] != story[:-1])]
        starts = np.flatnonzero(first)
        counts = np.add.reduceat(counts, starts)
        story, hashes = story[starts], hashes[starts]
    sizes = np.bincount(story, minlength=len(k_sizes))
    return Bag(hashes, np.minimum(counts, _COUNT_MAX).astype(np.uint32),
               np.concatenate(([0], np.cumsum(sizes))).astype(np.int64))


def _concat_rows(rows: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray, int]:
    ptrs, cols, offset = [np.zeros(1, dtype=np.int64)], [], 0
    for ptr, c in rows:
        ptrs.append(ptr[1:] + offset)
        cols.append(c)
        offset += int(ptr[-1])
    return (np.concatenate(ptrs), np.concatenate(cols) if cols else np.zeros(0, dtype=np.int32), offset)


_TF = np.array([0.0] + [1.0 + np.log(c) for c in range(1, _COUNT_MAX + 1)])  # 1 + ln(count)


@dataclass
class Vectors:
    """Unit TF-IDF vectors (a CSR matrix, stories x term columns) and each story's candidate keys."""

    matrix: csr_matrix
    key_rows: np.ndarray  # int64: story of each candidate key
    key_cols: np.ndarray  # int64: term column of each candidate key
    present: np.ndarray  # bool per story: has a non-empty vector


def tfidf(rows: _Rows, n: int, column_hashes: np.ndarray, max_terms: int, candidate_terms: int,
          members: np.ndarray | None = None, free: bool = False) -> Vectors:
    """Unit-length TF-IDF vectors keeping each story's `max_terms` heaviest terms (weight (1 + ln tf) *
    (ln((N + 1) / (df + 1)) + 1), N the number of `members`, all stories by default), and its
    `candidate_terms` heaviest as candidate keys. Ties in weight: the larger hash first. `free`: drop each
    block of counts once used."""
    n_cols = len(column_hashes)
    # Each column's place in the tie order (descending hash), so that one integer key sorts a block's terms.
    col_rank = np.empty(n_cols, dtype=np.int64)
    col_rank[np.argsort(~column_hashes)] = np.arange(n_cols)  # ascending `~hash` = descending hash
    col_bits = max(1, int(n_cols - 1).bit_length())
    df = np.zeros(n_cols, dtype=np.int64)
    for _ptr, cols, _counts in rows.blocks:
        df += np.bincount(cols, minlength=n_cols)
    n_members = n if members is None else int(members.sum())
    idf = np.log((n_members + 1) / (df + 1)) + 1.0
    del df
    ptrs: list[np.ndarray] = [np.zeros(1, dtype=np.int64)]
    out_cols: list[np.ndarray] = []
    out_data: list[np.ndarray] = []
    key_rows: list[np.ndarray] = []
    key_cols: list[np.ndarray] = []
    start_row = offset = 0
    blocks = rows.blocks
    while blocks:
        ptr, cols, counts = blocks[0]
        if free:
            blocks.pop(0)
        m = len(ptr) - 1
        sizes = np.diff(ptr)
        story = np.repeat(np.arange(m), sizes)
        w = _TF[counts] * idf[cols]
        # Heaviest first within each story (ties: larger column hash first, any fixed order would do): one sort
        # of (story, weight's rank from the heaviest, column's tie rank) packed in an int64 where it fits.
        order = _heaviest_first(story, w, cols, col_rank, col_bits, m)
        story_s, cols_s, w_s = story[order], cols[order], w[order]
        rank = np.arange(len(order)) - ptr[:-1][story_s]
        keep = rank < max_terms
        cand = rank < candidate_terms
        key_rows.append(story_s[cand].astype(np.int64) + start_row)
        key_cols.append(cols_s[cand].astype(np.int64))
        story_k, cols_k, w_k = story_s[keep], cols_s[keep], w_s[keep]
        norm = np.sqrt(np.bincount(story_k, weights=w_k * w_k, minlength=m))
        norm[norm == 0] = 1.0
        w_k = w_k / norm[story_k]
        by_col = (np.argsort((story_k.astype(np.int64) << col_bits) | cols_k, kind="stable")
                  if int(m - 1).bit_length() + col_bits <= 62 else np.lexsort((cols_k, story_k)))
        out_cols.append(cols_k[by_col].astype(np.int32))
        out_data.append(w_k[by_col].astype(np.float32))
        kept = np.bincount(story_k, minlength=m)
        ptrs.append(np.cumsum(kept) + offset)
        offset += int(kept.sum())
        start_row += m
        if not free:
            blocks = blocks[1:]
    indptr = np.concatenate(ptrs)
    indices = np.concatenate(out_cols) if out_cols else np.zeros(0, dtype=np.int32)
    del out_cols
    data = np.concatenate(out_data) if out_data else np.zeros(0, dtype=np.float32)
    del out_data
    matrix = csr_matrix((data, indices, indptr), shape=(n, max(1, n_cols)))
    matrix.has_sorted_indices = True
    return Vectors(matrix, np.concatenate(key_rows) if key_rows else np.zeros(0, dtype=np.int64),
                   np.concatenate(key_cols) if key_cols else np.zeros(0, dtype=np.int64), np.diff(indptr) > 0)


def _heaviest_first(story: np.ndarray, w: np.ndarray, cols: np.ndarray, col_rank: np.ndarray, col_bits: int,
                    m: int) -> np.ndarray:
    """The order of `np.lexsort((col_rank[cols], -w, story))` (story ascending, weight descending, then tie
    rank), by one integer sort where (story, weight rank, tie rank) fit in 62 bits."""
    distinct, w_rank = np.unique(w, return_inverse=True)
    w_bits = max(1, int(len(distinct) - 1).bit_length())
    if int(m - 1).bit_length() + w_bits + col_bits > 62:
        return np.lexsort((col_rank[cols], -w, story))
    key = ((story.astype(np.int64) << (w_bits + col_bits)) | ((len(distinct) - 1 - w_rank.astype(np.int64)) << col_bits)
           | col_rank[cols])
    return np.argsort(key, kind="stable")


def row_dots(x: csr_matrix, y: csr_matrix, left: np.ndarray, right: np.ndarray, step: int = 20_000) -> np.ndarray:
    """x[left[k]] . y[right[k]] for every k (sparse rows, in chunks), as float64."""
    out = np.zeros(len(left))
    if not len(left) or not x.nnz or not y.nnz:
        return out
    for start in range(0, len(left), step):
        sl = slice(start, start + step)
        out[sl] = np.asarray(x[left[sl]].multiply(y[right[sl]]).sum(axis=1, dtype=np.float64)).ravel()
    return out
