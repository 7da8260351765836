"""Articles in, candidate events out: signatures -> stories (near-duplicates) -> events, with stable ids."""
from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from dedupe.config import GroupingConfig
from dedupe.constraints import Constraints, lift
from dedupe.events import (
    BRIDGED,
    event_clusters,
    language_family,
    link_evidence,
    needs_bridge,
    needs_neutral,
    score_story_pairs,
    story_profile,
)
from dedupe.ids import assign_ids
from dedupe.language import detect_language
from dedupe.profiles import ProfileBlock, ProfileTable, compact, forget_run
from dedupe.records import ArticleRecord, parse_timestamp
from dedupe.shingles import shingle_sequence, uses_char_shingles
from dedupe.signatures import minhash_signatures, signature_bytes
from dedupe.stories import PairLink, ShingleBlock, band_matches, near_duplicate_pairs, story_clusters

if TYPE_CHECKING:
    from dedupe.lshindex import RedisLSHIndex

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoredSignature:
    """A signature kept between runs; valid while `fingerprint` and `text_hash` still match."""

    fingerprint: str
    text_hash: str
    size: int
    data: bytes | None  # None: too few shingles to sign


@dataclass(frozen=True)
class Link:
    """How an article joined its event: the contract's `link` object."""

    method: str  # near-duplicate | same-language | cross-lingual | labelled | seed
    score: float
    evidence: tuple[str, ...] = ()
    linked_to: str | None = None


@dataclass(frozen=True)
class Member:
    article: ArticleRecord
    language: str | None
    story_id: str
    link: Link


@dataclass(frozen=True)
class Story:
    story_id: str
    article_ids: tuple[str, ...]


@dataclass(frozen=True)
class Event:
    event_id: str
    status: str
    stories: tuple[Story, ...]
    members: tuple[Member, ...]

    @property
    def dates(self) -> list[date]:
        return sorted(d for m in self.members if (d := m.article.published_date) is not None)


class NewSignatures(Mapping[str, StoredSignature]):
    """The signatures a grouping computed, by article id, held as arrays: a row of the grouping's signature
    matrix, a 64-bit text hash and a shingle count each (a million `StoredSignature` objects with their bytes
    and hex strings take about 0.9 GB, held through the whole grouping). Reading one gives the same
    `StoredSignature` (bytes, hex hash) that was computed."""

    def __init__(self, ids: list[str], fingerprint: str, matrix: np.ndarray, rows: np.ndarray, signed: np.ndarray,
                 sizes: np.ndarray, text_hashes: np.ndarray) -> None:
        self._ids = ids
        self._fingerprint = fingerprint
        self._matrix, self._rows, self._signed = matrix, rows, signed  # signature k: matrix[rows[k]] if signed[k]
        self._sizes, self._hashes = sizes, text_hashes
        self._index: dict[str, int] | None = None

    def __len__(self) -> int:
        return len(self._ids)

    def __iter__(self) -> Iterator[str]:
        return iter(self._ids)

    def __contains__(self, key: object) -> bool:
        return key in self._lookup()

    def _lookup(self) -> dict[str, int]:
        if self._index is None:
            self._index = {aid: k for k, aid in enumerate(self._ids)}
        return self._index

    def __getitem__(self, key: str) -> StoredSignature:
        k = self._lookup()[key]
        data = self._matrix[self._rows[k]].tobytes() if self._signed[k] else None
        return StoredSignature(self._fingerprint, f"{int(self._hashes[k]):016x}", int(self._sizes[k]), data)


@dataclass
class GroupingResult:
    events: list[Event]
    languages: dict[str, tuple[str | None, str]]  # article id -> (language, how decided)
    new_signatures: Mapping[str, StoredSignature] = field(default_factory=dict)
    near_duplicate_links: int = 0
    event_links: int = 0
    lsh_index: RedisLSHIndex | None = None  # the shared index used, if any
    lsh_inserted: int = 0  # signatures it lacked and got in this grouping


# Per-document work (shingles and signatures, story profiles) runs in worker processes from this many articles
# on; below it, starting the workers costs more than they save. NEWSDEDUPE_GROUP_WORKERS sets how many
# (default: one per CPU, at most 4; 0 or 1: in this process). Results are the same either way.
PARALLEL_MIN_ARTICLES = 20_000
_CHUNK = 500


def _worker_count(n: int) -> int:
    if n < PARALLEL_MIN_ARTICLES:
        return 0
    value = os.environ.get("NEWSDEDUPE_GROUP_WORKERS")
    try:
        wanted = int(value) if value else min(4, os.cpu_count() or 1)
    except ValueError:
        log.warning("NEWSDEDUPE_GROUP_WORKERS=%r is not a number; using one process", value)
        return 0
    return wanted if wanted > 1 else 0


def _signature_chunk(
    items: Sequence[tuple[str, str | None]], config: GroupingConfig
) -> list[tuple[int, bytes | None, int, bool]]:
    """(number of distinct shingles, signature bytes or None when too few, the text's hash (`text_hash` as an
    integer), shingled by characters?) for each (text, language)."""
    sets = [np.unique(shingle_sequence(text, lang, config)) for text, lang in items]
    sigs = minhash_signatures(sets, config)
    return [(len(sh), signature_bytes(m) if len(sh) >= config.min_shingles else None, _text_hash(text),
             uses_char_shingles(lang, text)) for (text, lang), sh, m in zip(items, sets, sigs)]


def _shingle_set_chunk(items: Sequence[tuple[str, str | None]], config: GroupingConfig) -> list[ShingleBlock]:
    """The shingles of each (text, language) as near-duplicate confirmation reads them (one block a chunk)."""
    return [ShingleBlock.of(shingle_sequence(text, lang, config) for text, lang in items)]


def _profile_chunk(items: Sequence[tuple[int, list[str], str | None, date | None]], bridge: bool, neutral: bool,
                   keep_text: bool, run: str) -> list[ProfileBlock]:
    """The compact profiles of a chunk of stories (one block): numbers, and the strings of terms this process
    has not sent before in this run."""
    return [compact([story_profile(*item, bridge=bridge) for item in items], bridge, neutral, keep_text, run)]


_T = TypeVar("_T")


def _iter_chunks(fn: Callable[..., list[_T]], chunks: Iterable[Sequence[Any]], workers: int, *args: object
                 ) -> Iterator[_T]:
    """fn(chunk, *args) for every chunk, yielded in order as they are done (so the caller can fold them in
    and drop them); in `workers` processes when > 1, with at most a few chunks per worker waiting."""
    if workers <= 1:
        for c in chunks:
            yield from fn(c, *args)
        return
    import multiprocessing
    from collections import deque
    from concurrent.futures import ProcessPoolExecutor

    # Spawned: the caller may have threads (a fork would copy their locks).
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        pending: deque[Any] = deque()
        for c in chunks:
            pending.append(pool.submit(fn, c, *args))
            if len(pending) >= 4 * workers:
                yield from pending.popleft().result()
        while pending:
            yield from pending.popleft().result()


def nightly_selection(
    days: Mapping[str, date | None], previous: Mapping[str, tuple[str, str]], window_days: int,
    touched: Iterable[str] = (),
) -> set[str]:
    """The articles an incremental grouping regroups: the new ones (no previous assignment), every article
    dated on or after `window_days` before the earliest new one, the `touched` ones (e.g. named by labellers'
    decisions), and every article of an event that holds one of those (events are regrouped whole, never
    cut). Empty when nothing is new or touched.

    Args:
        days: every stored article's day (published, else fetched; None when unknown).
        previous: article id -> (story_id, event_id) of the stored grouping.
        window_days: the rolling window (`GroupingConfig.rolling_window_days`).
        touched: stored articles to regroup whatever their date.
    """
    new = [a for a in days if a not in previous]
    extra = {a for a in touched if a in days}
    if not new and not extra:
        return set()
    chosen = set(new) | extra
    new_days = [d for a in new if (d := days[a]) is not None]
    if new_days:
        start = min(new_days) - timedelta(days=window_days)
        chosen.update(a for a, d in days.items() if d is not None and d >= start)
    touched = {previous[a][1] for a in chosen if a in previous}
    chosen.update(a for a, (_story, event) in previous.items() if event in touched)
    return chosen


def archive_partners(
    new: Sequence[ArticleRecord], stored: Iterable[tuple[str, bytes]], config: GroupingConfig,
) -> tuple[set[str], dict[str, StoredSignature]]:
    """Stored articles that LSH proposes as near-duplicates of the `new` ones, whatever their age: what an
    incremental grouping adds to its rolling window so that a copy of an old article still joins its story.

    Args:
        new: the new articles.
        stored: (article id, signature bytes) of the stored articles, signed with `config`'s fingerprint.
        config: grouping parameters.
    Returns:
        The candidate partners' ids (grouping confirms or rejects them) and the new articles' signatures,
        which `group` then reuses instead of computing them again.
    """
    signed = _sign([(r, _language(r)[0]) for r in new], config, _worker_count(len(new)))
    signatures = {r.id: s for r, s in zip(new, signed)}
    query = np.array([np.frombuffer(s.data, dtype=np.uint32) for s in signatures.values() if s.data is not None],
                     dtype=np.uint32).reshape(-1, config.num_perm)
    partners: set[str] = set()
    width = 4 * config.num_perm
    batch_ids: list[str] = []
    batch: list[bytes] = []

    def flush() -> None:
        if batch:
            matrix = np.frombuffer(b"".join(batch), dtype=np.uint32).reshape(-1, config.num_perm)
            partners.update(batch_ids[i] for i in np.flatnonzero(band_matches(matrix, query, config)))
            batch_ids.clear()
            batch.clear()

    new_ids = {r.id for r in new}
    for aid, data in stored:
        if aid in new_ids or data is None or len(data) != width:
            continue
        batch_ids.append(aid)
        batch.append(data)
        if len(batch) >= 200_000:  # ~100 MB of signatures at a time
            flush()
    flush()
    return partners, signatures


def _language(r: ArticleRecord) -> tuple[str | None, str]:
    """(language, how decided): the record's own, else detected."""
    if r.language:
        return r.language, "input"
    d = detect_language(r.text, r.title)
    return d.language, d.source


def _sign(items: Sequence[tuple[ArticleRecord, str | None]], config: GroupingConfig, workers: int
          ) -> list[StoredSignature]:
    """The signature of each (record, language), with what tells later runs whether it is still valid."""
    fingerprint = config.signature_fingerprint()
    # The texts are read a chunk at a time, as the workers take them (a million texts at once take gigabytes).
    chunks = ([(r.text or r.title or "", language) for r, language in items[start:start + _CHUNK]]
              for start in range(0, len(items), _CHUNK))
    computed = _iter_chunks(_signature_chunk, chunks, workers if len(items) > _CHUNK else 0, config)
    return [StoredSignature(fingerprint, f"{h:016x}", size, data) for size, data, h, _chars in computed]


def text_hash(record: ArticleRecord) -> str:
    return f"{_text_hash(record.text or record.title or ''):016x}"


def _text_hash(text: str) -> int:
    """xxh64 of the text's UTF-8 (`text_hash` in hex)."""
    import xxhash

    return xxhash.xxh64_intdigest(text.encode("utf-8"))


def _sort_key(r: ArticleRecord) -> tuple[int, str, str]:
    """Earliest first (undated last), then id: the first article of a story or event is its seed."""
    ts = parse_timestamp(r.published)
    return (0 if ts else 1, ts.isoformat() if ts else "", r.id)


def group(
    records: Sequence[ArticleRecord],
    config: GroupingConfig | None = None,
    previous: Mapping[str, tuple[str, str]] | None = None,
    signatures: Mapping[str, StoredSignature] | None = None,
    progress: Callable[[str], None] | None = None,
    constraints: Constraints | None = None,
    lsh_index: RedisLSHIndex | None = None,
    reserved_ids: Collection[str] = (),
) -> GroupingResult:
    """Group articles into stories and candidate events.

    Args:
        records: the articles (ids unique).
        config: parameters; defaults when None.
        previous: article id -> (story_id, event_id) from an earlier run, so ids stay stable.
        signatures: stored signatures by article id; reused when still valid.
        progress: called with a short message at each stage.
        constraints: labellers' must-link and cannot-link decisions (article id pairs) to respect.
        lsh_index: a shared LSH index (dedupe.lshindex) instead of one built in memory; same stories.
        reserved_ids: story and event ids kept by articles outside this grouping (an incremental one), never
            given to a new story or event here.
    Returns:
        Events (every record in exactly one), the language of each article, and new signatures to store.
    """
    config = config or GroupingConfig()
    previous = previous or {}
    signatures = signatures or {}
    say = progress or (lambda _msg: None)
    records = sorted(records, key=_sort_key)
    n = len(records)

    languages = {r.id: _language(r) for r in records}

    say(f"signatures for {n} articles")
    workers = _worker_count(n)
    fingerprint = config.signature_fingerprint()
    # Every signature as one row of a matrix (4 bytes a value): a million MinHash objects would take twice the
    # memory, and LSH banding runs on the matrix directly (dedupe.stories.band_candidate_pairs).
    matrix = np.zeros((n, config.num_perm), dtype=np.uint32)
    signed = np.zeros(n, dtype=bool)
    todo: list[int] = []
    # A text's hash (for `StoredSignature`, and the shared index's keys) and whether it is shingled by characters
    # are computed where the text is read: here for a stored signature's article, else in the worker that signs
    # it (reading and hashing a million texts here held the workers back).
    hashes = np.zeros(n, dtype=np.uint64)
    chars = [False] * n
    width = 4 * config.num_perm
    for i, r in enumerate(records):
        stored = signatures.get(r.id)
        if stored and stored.fingerprint == fingerprint and (stored.data is None or len(stored.data) == width):
            text = r.text or r.title or ""
            h = _text_hash(text)
            if stored.text_hash == f"{h:016x}":
                hashes[i], chars[i] = h, uses_char_shingles(languages[r.id][0], text)
                if stored.data is not None:
                    matrix[i] = np.frombuffer(stored.data, dtype=np.uint32)
                    signed[i] = True
                continue
        todo.append(i)
    # Signed in the workers as the texts are read; each signature goes straight into the matrix (no object per
    # article: `NewSignatures` reads them from there at the end).
    texts = ([(records[i].text or records[i].title or "", languages[records[i].id][0])
              for i in todo[start:start + _CHUNK]] for start in range(0, len(todo), _CHUNK))
    sizes = np.zeros(len(todo), dtype=np.int64)
    signing = _iter_chunks(_signature_chunk, texts, workers if len(todo) > _CHUNK else 0, config)
    for k, (i, (size, data, h, c)) in enumerate(zip(todo, signing)):
        sizes[k], hashes[i], chars[i] = size, h, c
        if data is not None:
            matrix[i] = np.frombuffer(data, dtype=np.uint32)
            signed[i] = True
    rows = np.array(todo, dtype=np.int64)
    new_signatures = NewSignatures([records[i].id for i in todo], fingerprint, matrix, rows, signed[rows], sizes,
                                   hashes[rows])
    del texts, signing
    say(f"near-duplicates ({len(todo)} signatures computed, {n - len(todo)} reused)")
    del todo
    keys = [f"{r.id}|{h:016x}" for r, h in zip(records, hashes.tolist())] if lsh_index is not None else None
    del hashes

    def sets_of(idx: list[int]) -> Iterator[ShingleBlock]:
        """Shingles of the documents with candidates, computed in the workers when there are any."""
        chunks = ([(records[i].text or records[i].title or "", languages[records[i].id][0])
                   for i in idx[start:start + _CHUNK]] for start in range(0, len(idx), _CHUNK))
        return _iter_chunks(_shingle_set_chunk, chunks, workers if len(idx) > _CHUNK else 0, config)

    def map_chunks(fn: Callable[..., list[Any]], chunks: Iterable[Any], *args: object) -> Iterator[Any]:
        """Candidate pairs confirmed chunk by chunk, in the workers when there are any."""
        return _iter_chunks(fn, chunks, workers, *args)

    pairs = near_duplicate_pairs(matrix, signed, None, config, chars.__getitem__, lsh_index, keys,
                                 sets_of, map_chunks)
    del matrix, signed, chars, keys  # (the new signatures' rows stay in `new_signatures`)
    must_idx, cannot_idx = (constraints or Constraints()).index_pairs({r.id: i for i, r in enumerate(records)})
    stories = [sorted(s) for s in story_clusters(n, pairs, cannot_idx)]  # indices sorted = seed (earliest) first
    stories.sort(key=lambda s: s[0])
    story_of = [0] * n
    for si, s in enumerate(stories):
        for i in s:
            story_of[i] = si
    if cannot_idx:  # a pair a labeller split is no longer evidence for either article
        pairs = [p for p in pairs if story_of[p.a] == story_of[p.b]]

    # An article's near-duplicate evidence: its strongest pair, preferring a partner published earlier.
    best_pair: dict[int, tuple[tuple[bool, float], int, PairLink]] = {}
    for p in pairs:
        for x, y in ((p.b, p.a), (p.a, p.b)):
            rank = (y < x, p.jaccard)
            if x not in best_pair or rank > best_pair[x][0]:
                best_pair[x] = (rank, y, p)
    near_duplicate_links = len(pairs)
    del pairs  # (the best ones stay in `best_pair`)

    say(f"profiles of {len(stories)} stories (events)")
    def item_of(si: int) -> tuple[int, list[str], str | None, date | None]:
        seed = records[stories[si][0]]
        return si, [seed.title or "", seed.text or ""], languages[seed.id][0], seed.published_date

    # Chinese stories need their dictionary English words when English stories are there to link with.
    families = {language_family(languages[records[s[0]].id][0]) for s in stories}
    bridge, neutral = needs_bridge(families), needs_neutral(families)
    # The stories' texts are read a chunk at a time, as the workers take them (never all at once).
    chunks = ([item_of(si) for si in range(start, min(start + _CHUNK, len(stories)))]
              for start in range(0, len(stories), _CHUNK))
    run = uuid.uuid4().hex
    blocks = _iter_chunks(_profile_chunk, chunks, _worker_count(len(stories)), bridge, neutral, bool(config.encoder),
                          run)
    table = ProfileTable.build(blocks, BRIDGED if bridge else frozenset())
    forget_run(run)
    del chunks, blocks
    say("pairs of stories scored (events)")
    scores = score_story_pairs(table, config, _worker_count(len(stories)))
    say(f"clustering {len(scores.links)} links (events)")
    story_cannot = scores.cannot | lift(cannot_idx, story_of)
    story_must = lift(must_idx, story_of) - story_cannot
    events_idx, used_links = event_clusters(
        len(stories), scores.links, config.event_cosine, story_cannot, story_must,
        dates=table.days,
        window_days=config.event_window_days,
    )
    events_idx = [sorted(e) for e in events_idx]
    events_idx.sort(key=lambda e: e[0])
    say(f"output of {len(events_idx)} events (evidence, ids)")

    # Orient each event's tree of joining links from its first story so every story records the link that joined it.
    story_link: dict[int, tuple[int, str, float, tuple[str, ...]]] = {}
    adjacency: dict[int, list[tuple[int, str, float, tuple[str, ...]]]] = {}
    for lk in used_links:
        evidence = link_evidence(lk, scores)
        adjacency.setdefault(lk.a, []).append((lk.b, lk.method, lk.score, evidence))
        adjacency.setdefault(lk.b, []).append((lk.a, lk.method, lk.score, evidence))
    del scores, table  # the vectors and profiles (gigabytes at a million stories) are not read after the evidence
    for e in events_idx:
        frontier, seen = [e[0]], {e[0]}
        while frontier:
            cur = frontier.pop(0)
            for nxt, method, score, evidence in sorted(adjacency.get(cur, [])):
                if nxt not in seen:
                    seen.add(nxt)
                    story_link[nxt] = (cur, method, score, evidence)
                    frontier.append(nxt)

    prev_story = {aid: st for aid, (st, _ev) in previous.items()}
    prev_event = {aid: ev for aid, (_st, ev) in previous.items()}
    story_ids = assign_ids([[records[i].id for i in s] for s in stories], prev_story, "st", reserved_ids)
    event_ids = assign_ids(
        [[records[i].id for si in e for i in stories[si]] for e in events_idx], prev_event, "ev", reserved_ids
    )

    events: list[Event] = []
    for e, (event_id, status) in zip(events_idx, event_ids):
        members: list[Member] = []
        for si in e:
            sid = story_ids[si][0]
            for i in stories[si]:
                r = records[i]
                if i == stories[si][0]:
                    if si == e[0]:
                        link = Link("seed", 1.0)
                    else:
                        other, method, score, evidence = story_link[si]
                        link = Link(method, score, evidence, records[stories[other][0]].id)
                else:
                    _rank, partner, p = best_pair[i]
                    link = Link(
                        "near-duplicate",
                        round(p.jaccard, 4),
                        (f"jaccard {p.jaccard:.2f}", f"containment {p.containment:.2f}", f"prefix {p.prefix:.2f}"),
                        records[partner].id,
                    )
                members.append(Member(r, languages[r.id][0], sid, link))
        event_stories = tuple(
            Story(story_ids[si][0], tuple(records[i].id for i in stories[si])) for si in e
        )
        # Status also reflects story changes inside an event whose membership is the same.
        if status == "unchanged" and any(story_ids[si][1] != "unchanged" for si in e):
            status = "updated"
        events.append(Event(event_id, status, event_stories, tuple(members)))

    return GroupingResult(events, languages, new_signatures, near_duplicate_links, len(used_links), lsh_index,
                          lsh_index.inserted if lsh_index is not None else 0)
