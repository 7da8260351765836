"""Grouping at scale: the project's grouping (what `newsdedupe group --input` runs) on 10 k, 100 k, 1 M generated
articles, per stage time and peak memory, the nightly step (new articles against the stored ones), and in the
same run the signature + LSH stage with datasketch (per-shingle `update`, and its best configuration) and rensa
on the same documents.

    python bench/grouping.py [--sizes 10000,100000] [--nightly 20000 --archive 1000000] [--compare 20000]
                             [--data ../shared/data/neardup]

The nightly step (`--nightly N --archive M`) is what `newsdedupe group` does on a store that was grouped before:
N new articles dated on the night after the archive's last day; `dedupe.grouping.nightly_selection` over the days
of all M + N articles picks what to regroup (the new ones, the rolling window before them, their events), and
`group()` runs on that selection with the stored signatures and ids. The archive's articles inside the window
are grouped first, as the previous nights left them (that grouping is not timed); the older ones only need a
day and an assignment for the selection (a placeholder story and event each: they are outside the window and
their events are never touched), so an archive of a million articles can be simulated without grouping it all.

Articles are generated from the near-duplicate benchmark (`en.jsonl.gz`, `zh.jsonl.gz`, 4:1): its 24,988
documents as they are (with their planted near-duplicates), then new articles, each a collage of 2-6
paragraphs of random documents of one language with 3% of the words (or characters) replaced, and every
seventh one a wire copy of an earlier generated article (2% edits, a new dateline). Ids, outlets (60) and
dates (three years) are drawn at random, seeded: the same sizes give the same documents.

Peak memory is the largest RSS of this process seen by a sampling thread (every 50 ms) during the stage,
including what earlier stages still hold (tracemalloc would multiply the run time).
"""
from __future__ import annotations

import argparse
import gc
import gzip
import json
import os
import platform
import random
import sys
import threading
import time
import zlib
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import psutil

from dedupe.config import GroupingConfig
from dedupe.grouping import StoredSignature, group
from dedupe.records import ArticleRecord

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "neardup"
MB = 1024 * 1024


# --- generated articles ------------------------------------------------------------------------------------
def load_corpus(data: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for lang in ("en", "zh"):
        with gzip.open(data / f"{lang}.jsonl.gz", "rt", encoding="utf-8") as fh:
            out[lang] = [json.loads(line)["text"] for line in fh]
    return out


def _edit(rng: random.Random, text: str, rate: float, vocab: list[str], chars: bool) -> str:
    units = list(text) if chars else text.split(" ")
    for _ in range(max(1, int(len(units) * rate))):
        units[rng.randrange(len(units))] = rng.choice(vocab)
    return ("" if chars else " ").join(units)


def generate(n: int, corpus: dict[str, list[str]], seed: int = 8, start: int = 0) -> Iterator[PackedRecord]:
    """Articles number `start` ... `start + n - 1` of the generated stream (the same stream for every size)."""
    rng = random.Random(seed)
    paragraphs = {lang: [p for t in texts for p in t.split("\n\n") if p.strip()] for lang, texts in corpus.items()}
    vocab = {"en": [w for p in rng.sample(paragraphs["en"], 3000) for w in p.split()],
             "zh": [c for p in rng.sample(paragraphs["zh"], 1000) for c in p if not c.isspace()]}
    originals = [("en", t) for t in corpus["en"]] + [("zh", t) for t in corpus["zh"]]
    day0 = datetime(2023, 1, 1, tzinfo=timezone.utc)
    recent: list[tuple[str, str]] = []
    for i in range(start + n):
        # The random stream is consumed the same way for every article, so article i is the same in every run.
        lang = "zh" if rng.random() < 0.2 else "en"
        published = day0 + timedelta(seconds=rng.randrange(3 * 365 * 86400))
        outlet = f"outlet{rng.randrange(60):02d}"
        r = rng.random()
        if i < len(originals):
            lang, text = originals[i]
        elif r < 1 / 7 and recent:
            lang, text = rng.choice(recent)
            text = ("WIRE DESK —\n\n" if lang == "en" else "本報訊\n\n") + _edit(rng, text, 0.02, vocab[lang], lang == "zh")
        else:
            k = rng.randrange(2, 7)
            text = "\n\n".join(_edit(rng, rng.choice(paragraphs[lang]), 0.03, vocab[lang], lang == "zh")
                               for _ in range(k))
            recent.append((lang, text))
            if len(recent) > 2000:
                recent.pop(rng.randrange(len(recent)))
        if i < start:
            continue
        yield PackedRecord(i, text, lang == "en", int(published.timestamp()), int(outlet[6:]))


_DAY0 = datetime(1970, 1, 1, tzinfo=timezone.utc)


class PackedRecord:
    """A generated article held compactly (its text zlib-compressed, the other fields computed when asked): a
    million `ArticleRecord`s with their texts as `str` take over 4 GB, these about a third of that. It offers
    what grouping reads of an `ArticleRecord` (the same values `ArticleRecord` held before)."""

    __slots__ = ("_i", "_packed", "_en", "_ts", "_outlet")
    topics: tuple[str, ...] = ()
    extra: dict[str, Any] = {}

    def __init__(self, i: int, text: str, en: bool, timestamp: int, outlet: int) -> None:
        self._i, self._en, self._ts, self._outlet = i, en, timestamp, outlet
        self._packed = zlib.compress(text.encode("utf-8"), 1)

    @property
    def id(self) -> str:
        return f"gen{self._i:08d}"

    @property
    def text(self) -> str:
        return zlib.decompress(self._packed).decode("utf-8")

    @property
    def title(self) -> str:
        first = self.text.strip().split("\n", 1)[0]
        return first[:90] if self._en else first[:30]

    @property
    def outlet(self) -> str:
        return f"outlet{self._outlet:02d}"

    @property
    def url(self) -> str:
        return f"https://{self.outlet}.example/{self._i}"

    @property
    def language(self) -> str:
        return "en" if self._en else "zh-Hans"

    @property
    def published(self) -> str:
        return (_DAY0 + timedelta(seconds=self._ts)).isoformat()

    @property
    def published_date(self) -> date:
        return (_DAY0 + timedelta(seconds=self._ts)).date()

    def record(self) -> ArticleRecord:
        return ArticleRecord(id=self.id, text=self.text, title=self.title, url=self.url, language=self.language,
                             published=self.published, outlet=self.outlet)


# --- measuring -----------------------------------------------------------------------------------------------
def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the grouping's worker processes)."""
    import resource

    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + c.ru_utime + c.ru_stime


class Stages:
    """Wall time and peak RSS per stage; stages are marked by the grouping's progress messages."""

    def __init__(self) -> None:
        self.proc = psutil.Process()
        self.rows: list[tuple[str, float, float, int]] = []
        self._name = "start"
        self._t = time.perf_counter()
        self._c = cpu_seconds()
        self._peak = self.proc.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.05):
            self._peak = max(self._peak, self.proc.memory_info().rss)

    def mark(self, name: str) -> None:
        now, cpu = time.perf_counter(), cpu_seconds()
        self._peak = max(self._peak, self.proc.memory_info().rss)
        self.rows.append((self._name, now - self._t, cpu - self._c, self._peak))
        print(f"  [{time.strftime('%H:%M:%S')}] {self._name}: {now - self._t:.1f} s wall, {cpu - self._c:.1f} s CPU, "
              f"peak RSS {self._peak / MB:.0f} MB", file=sys.stderr, flush=True)
        self._name, self._t, self._c, self._peak = name, now, cpu, self.proc.memory_info().rss

    def stop(self) -> None:
        if not self._stop.is_set():
            self.mark("")
            self._stop.set()


def stage_name(message: str) -> str:
    return message.split(" ")[0].split("(")[0]


def run_group(records: list[ArticleRecord], stages: Stages, **kwargs: Any) -> Any:
    """`group()` with its stages timed: languages (given here), signatures, near-duplicates (LSH + exact
    confirmation + stories), then the event stages: profiles (story profiles, in worker processes from 20,000
    stories), pairs (candidate pairs and their scores), clustering (average-link), output (evidence, ids,
    members)."""
    stages.mark("languages")
    result = group(records, GroupingConfig(), progress=lambda m: stages.mark(stage_name(m)), **kwargs)
    stages.stop()
    return result


def print_stages(title: str, stages: Stages) -> float:
    print(f"\n{title}")
    print("| stage | wall s | CPU s | peak RSS MB |")
    print("|---|---|---|---|")
    total = cpu_total = 0.0
    for name, secs, cpu, peak in stages.rows[1:]:
        total += secs
        cpu_total += cpu
        print(f"| {name} | {secs:.1f} | {cpu:.1f} | {peak / MB:.0f} |")
    print(f"| **total** | **{total:.1f}** | **{cpu_total:.1f}** | **{max(r[3] for r in stages.rows) / MB:.0f}** |")
    return total


# --- signatures + LSH with other libraries on the same documents ---------------------------------------------
def shingle_strings(records: list[ArticleRecord], config: GroupingConfig) -> list[list[bytes]]:
    """Each document's distinct shingles as UTF-8 strings (what a library hashes itself)."""
    from dedupe.normalize import normalise_for_matching, tokens
    from dedupe.shingles import uses_char_shingles

    out = []
    for r in records:
        toks = tokens(normalise_for_matching(r.text))
        char = uses_char_shingles(r.language, r.text)
        n, sep = (config.char_ngram, "") if char else (config.word_ngram, " ")
        grams = {sep.join(toks[i:i + n]) for i in range(max(1, len(toks) - n + 1))}
        out.append([g.encode("utf-8") for g in grams])
    return out


def compare_libraries(records: list[ArticleRecord], config: GroupingConfig) -> list[tuple[str, float, int]]:
    """(variant, CPU seconds for shingles + signatures + LSH insert + query of every document, candidate pairs);
    CPU time of this one process, so the other load on a shared machine counts less than in wall time."""
    import xxhash
    from datasketch import MinHash, MinHashLSH

    import numpy as np

    from dedupe.shingles import shingle_hashes
    from dedupe.signatures import minhash_signatures
    from dedupe.stories import band_candidate_pairs

    rows = []
    n = len(records)

    def lsh_pairs(sigs: list[Any]) -> int:
        lsh = MinHashLSH(num_perm=config.num_perm, params=(config.bands, config.rows))
        with lsh.insertion_session() as s:
            for i, m in enumerate(sigs):
                s.insert(i, m, check_duplication=False)
        return sum(1 for i, m in enumerate(sigs) for j in lsh.query(m) if j > i)

    t0 = time.process_time()
    sets = [shingle_hashes(r.text, r.language, config) for r in records]
    sigs = minhash_signatures(sets, config)
    matrix = np.array([m.hashvalues for m in sigs], dtype=np.uint32)
    pairs = len(band_candidate_pairs(matrix, np.ones(len(matrix), dtype=bool), config))
    rows.append(("ours: xxh32 shingles, `MinHash.generator` (batch), numpy banding of the signature matrix "
                 "(what `group` does)", time.process_time() - t0, pairs))
    t0 = time.process_time()
    pairs = lsh_pairs(sigs)
    rows.append(("  the same signatures in datasketch's `MinHashLSH` (insertion_session, query each): LSH part only",
                 time.process_time() - t0, pairs))
    del sets, sigs, matrix

    t0 = time.process_time()
    strings = shingle_strings(records, config)
    t_shingle = time.process_time() - t0

    # datasketch as its README shows it: one `update` per shingle, SHA-1 of each (a 10% sample, scaled up).
    sample = strings[: max(1, n // 10)]
    t0 = time.process_time()
    for doc in sample:
        m = MinHash(num_perm=config.num_perm, seed=config.seed)
        for g in doc:
            m.update(g)
    t_update = (time.process_time() - t0) * n / len(sample)
    rows.append(("datasketch per-shingle `update` (SHA-1), 10% sample scaled; LSH not included",
                 t_shingle + t_update, -1))

    # datasketch's best: `MinHash.bulk` (update_batch per document) with xxhash, LSH insertion_session.
    t0 = time.process_time()
    sigs = MinHash.bulk(strings, num_perm=config.num_perm, seed=config.seed, hashfunc=xxhash.xxh32_intdigest)
    pairs = lsh_pairs(sigs)
    rows.append(("datasketch best: `MinHash.bulk` + xxh32, LSH insertion_session",
                 t_shingle + time.process_time() - t0, pairs))
    del sigs

    try:
        import rensa
    except ImportError:
        rows.append(("rensa: not installed (`pip install rensa`)", float("nan"), -1))
        return rows
    # rensa's LSH needs num_perm divisible by its band count: 32 bands of 4 rows (the closest to our 42 x 3).
    t0 = time.process_time()
    mhs = []
    for doc in strings:
        m = rensa.RMinHash(num_perm=config.num_perm, seed=config.seed)
        m.update(doc)
        mhs.append(m)
    lsh = rensa.RMinHashLSH(threshold=0.5, num_perm=config.num_perm, num_bands=32)
    for i, m in enumerate(mhs):
        lsh.insert(i, m)
    pairs = sum(1 for i, m in enumerate(mhs) for j in lsh.query(m) if j > i)
    rows.append(("rensa `RMinHash` + `RMinHashLSH` (32 bands x 4 rows)", t_shingle + time.process_time() - t0, pairs))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10000,100000", help="comma-separated article counts")
    ap.add_argument("--nightly", type=int, default=20000, help="new articles of the nightly step (0: skip)")
    ap.add_argument("--archive", type=int, default=1_000_000, help="stored articles the nightly step runs against")
    ap.add_argument("--compare", type=int, default=20000, help="documents for the library comparison (0: skip)")
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--profile", action="store_true", help="profile each grouping with pyinstrument, print the tree")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, "
          f"{psutil.virtual_memory().total / 2**30:.0f} GB RAM, {platform.python_implementation()} "
          f"{platform.python_version()}")
    corpus = load_corpus(Path(args.data))
    config = GroupingConfig()

    if args.compare:
        records = list(generate(args.compare, corpus))
        print(f"\nsignatures + LSH (index, then query every document) on the same {len(records)} articles")
        print("| variant | CPU s | docs per CPU s | candidate pairs |")
        print("|---|---|---|---|")
        for name, secs, pairs in compare_libraries(records, config):
            print(f"| {name} | {secs:.1f} | {len(records) / secs:.0f} | {pairs if pairs >= 0 else '-'} |")
        del records
        gc.collect()

    for size in sizes:
        t0 = time.perf_counter()
        records = list(generate(size, corpus))
        gen_s = time.perf_counter() - t0
        stages = Stages()
        profiler = None
        if args.profile:
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.005)
            profiler.start()
        result = run_group(records, stages)
        if profiler is not None:
            profiler.stop()
            print(profiler.output_text(unicode=False, color=False), file=sys.stderr)
        n_stories = sum(len(e.stories) for e in result.events)
        total = print_stages(f"group {size} articles (generated in {gen_s:.0f} s): {n_stories} stories, "
                             f"{len(result.events)} events", stages)
        print(f"throughput: {size / total:.0f} articles/s")
        del records, result
        gc.collect()

    if args.nightly:
        nightly(args.archive, args.nightly, corpus, config)


def nightly(archive: int, n_new: int, corpus: dict[str, list[str]], config: GroupingConfig) -> None:
    """The nightly step against an archive (see the module's docstring)."""
    import numpy as np

    from dedupe.grouping import archive_partners, nightly_selection

    t0 = time.perf_counter()
    days: dict[str, date | None] = {}
    window: list[ArticleRecord] = []
    new: list[ArticleRecord] = []
    last_day = (datetime(2023, 1, 1, tzinfo=timezone.utc) + timedelta(days=3 * 365)).date()
    night = last_day + timedelta(days=1)
    start = last_day - timedelta(days=config.rolling_window_days)
    for i, r in enumerate(generate(archive + n_new, corpus)):
        if i < archive:
            d = r.published_date
            days[r.id] = d
            if d is not None and d >= start:
                window.append(r)
        else:  # tonight's articles: the same kind of text, published during the night after the archive
            when = datetime.combine(night, datetime.min.time(), timezone.utc) + timedelta(seconds=(i * 7919) % 86400)
            new.append(ArticleRecord(id=r.id, text=r.text, title=r.title, url=r.url, language=r.language,
                                     published=when.isoformat(), outlet=r.outlet))
            days[r.id] = night
    gen_s = time.perf_counter() - t0
    print(f"\nnightly step: {n_new} new articles against an archive of {archive} (generated in {gen_s:.0f} s; "
          f"{len(window)} archive articles in the last {config.rolling_window_days} days)")
    before = group(window, config)  # the previous nights' grouping of the window (not timed)
    new_ids = {r.id for r in new}
    previous = {a: (f"st-old-{a}", f"ev-old-{a}") for a in days if a not in new_ids}
    previous.update({m.article.id: (m.story_id, e.event_id) for e in before.events for m in e.members})
    signatures = dict(before.new_signatures)
    del before
    gc.collect()

    # The archive's stored signatures: the window's real ones, random ones for the older articles (no texts are
    # generated for those; random signatures cost the band comparison the same and match nothing).
    rng = np.random.default_rng(1)
    window_ids = {r.id for r in window}
    older = [a for a in days if a not in window_ids and a not in new_ids]

    def stored_signatures() -> Iterator[tuple[str, bytes]]:
        for aid, sig in signatures.items():
            if sig.data is not None:
                yield aid, sig.data
        for start in range(0, len(older), 100_000):
            block = rng.integers(0, 2**32, size=(len(older[start:start + 100_000]), config.num_perm),
                                 dtype=np.uint64).astype(np.uint32)
            for aid, row in zip(older[start:start + 100_000], block):
                yield aid, row.tobytes()

    stages = Stages()
    stages.mark("archive")  # new signatures, compared with every stored one (what `group` on a store does)
    partners, new_signatures = archive_partners(new, stored_signatures(), config)
    signatures.update(new_signatures)
    stages.mark("selection")
    chosen = nightly_selection(days, previous, config.rolling_window_days, touched=partners)
    by_id = {r.id: r for r in [*window, *new]}
    missing = chosen - set(by_id)
    if missing:  # only archive articles outside the window could be missing: their placeholder events are single
        raise SystemExit(f"selection reached {len(missing)} articles outside the window")
    records = [by_id[a] for a in sorted(chosen)]
    kept = {a: previous[a] for a in chosen if a in previous}
    result = run_group(records, stages, previous=kept, signatures=signatures)
    changed = sum(1 for e in result.events if e.status != "unchanged")
    print_stages(f"nightly: {len(new)} new articles, {len(partners)} older near-duplicate candidates, "
                 f"{len(records)} regrouped of {len(days)} ({changed} events new or updated)", stages)


if __name__ == "__main__":
    main()
