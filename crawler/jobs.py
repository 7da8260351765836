"""The steps of the nightly job outside the crawl itself: group the store, export what labellers need."""
from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from crawler.storage import Store, open_store
from dedupe.config import GroupingConfig
from dedupe.constraints import Constraints
from dedupe.grouping import GroupingResult, StoredSignature, archive_partners, group, nightly_selection
from dedupe.records import ArticleRecord, InputProblem, read_articles_jsonl
from dedupe.writers import event_to_dict, newest_first, write_jsonl

log = logging.getLogger(__name__)


def records_from_store(store: Store, since: str | None = None, topic: str | None = None,
                       ids: set[str] | None = None) -> list[ArticleRecord]:
    articles = store.articles_by_ids(ids) if ids is not None else store.articles(since=since, topic=topic)
    return [
        ArticleRecord(
            id=a.id, text=a.text, title=a.title, url=a.url, language=a.language, published=a.published,
            outlet=a.outlet, topics=tuple(a.topics),
        )
        for a in articles
    ]


# Meta key: the parameters of the store's last grouping of every article (no --since, no --topic). A nightly
# grouping is incremental only on top of such a grouping made with the same parameters.
GROUPED_WITH = "grouping_config"


@dataclass
class StoreGrouping:
    """What `group_store` did: the grouping result (of the articles it regrouped), where events.jsonl is,
    and whether it was incremental (the nightly step) and over how many of the stored articles."""

    result: GroupingResult
    path: Path
    incremental: bool = False
    regrouped: int = 0
    stored: int = 0
    totals: _Totals | None = None


def group_store(
    db: str, out_dir: str | Path, since: str | None = None, config: GroupingConfig | None = None,
    progress: Callable[[str], None] | None = None, topic: str | None = None, redis: str | None = None,
    full: bool = False,
) -> StoreGrouping:
    """Group the stored articles (only a topic's with `topic`), keeping ids stable and reusing stored
    signatures; write events.jsonl. `redis`: keep the LSH index in Redis, shared by every grouping of this
    store (dedupe.lshindex).

    Incremental (the nightly step) when the store was last grouped whole with the same parameters and neither
    `since`, `topic` nor `full` is given: only the new articles, those of the rolling window before them and
    the events these belong to are regrouped (`dedupe.grouping.nightly_selection`); every other event stays
    as stored. events.jsonl always holds every stored event.
    """
    config = config or GroupingConfig()
    index = None
    if redis:
        from crawler.redisconf import redis_params, store_namespace
        from dedupe.lshindex import RedisLSHIndex

        index = RedisLSHIndex(redis_params(redis), store_namespace(db), config)
    path = Path(out_dir) / "events.jsonl"
    whole = not since and not topic
    with open_store(db) as store:
        previous = store.assignments()
        incremental = (whole and not full and bool(previous)
                       and store.get_meta(GROUPED_WITH) == config.fingerprint())
        must, cannot = store.label_pairs()
        selection: set[str] | None = None
        reserved: set[str] = set()
        stored_count = 0
        new_signatures: dict[str, StoredSignature] = {}
        new_records: list[ArticleRecord] = []
        if incremental:
            days = {aid: _day(d) for aid, d in store.article_days().items()}
            stored_count = len(days)
            # Labellers' decisions can arrive any day: their articles' events are regrouped every time (few).
            labelled = {a for pair in [*must, *cannot] for a in pair}
            # Near-duplicates of any age: the new articles' signatures against every stored one (LSH bands).
            new_records = records_from_store(store, ids={a for a in days if a not in previous})
            partners, new_signatures = archive_partners(
                new_records, store.signature_data(config.signature_fingerprint()), config)
            selection = nightly_selection(days, previous, config.rolling_window_days, touched=labelled | partners)
            del days
            if progress:
                progress(f"incremental: {len(selection)} of {stored_count} stored articles to regroup "
                         f"(new ones, the last {config.rolling_window_days} days before them, {len(partners)} "
                         "older near-duplicate candidates, their events)")
            kept = {a: previous[a] for a in selection if a in previous}
            reserved = {x for a, ids in previous.items() if a not in kept for x in ids}
            previous = kept
        if selection is None:
            records = records_from_store(store, since, topic)
        else:  # the new articles are loaded already
            records = new_records + records_from_store(store, ids=selection - {r.id for r in new_records})
            del new_records
        ids = [r.id for r in records]
        stored = {
            aid: StoredSignature(fp, th, size, data)
            for aid, (fp, th, size, data) in store.signatures(ids if selection is not None else None).items()
        }
        stored.update(new_signatures)
        result = group(records, config, previous=previous, signatures=stored, progress=progress,
                       constraints=Constraints.of(must, cannot), lsh_index=index, reserved_ids=reserved)
        del stored
        events = [event_to_dict(e) for e in newest_first(result.events)]
        # One transaction: a run killed while saving leaves the previous grouping whole, never half of each.
        with store.transaction():
            store.save_signatures(
                (aid, s.fingerprint, s.text_hash, s.size, s.data)
                for aid, s in {**new_signatures, **result.new_signatures}.items()
            )
            store.save_assignments(
                (m.article.id, m.story_id, e.event_id) for e in result.events for m in e.members
            )
            if incremental:
                store.update_events(events, removed={ev for _st, ev in previous.values()})
            else:
                store.replace_events(events)
            # Only a grouping of every article with these parameters is a base for the next incremental one.
            store.set_meta(GROUPED_WITH, config.fingerprint() if whole else "")
        totals = _Totals()
        write_jsonl(totals.count(store.events() if incremental else events), path)
    return StoreGrouping(result, path, incremental, len(records), stored_count or len(records), totals)


@dataclass
class _Totals:
    """Counts of the events written (every stored event), by status, with their stories and articles."""

    events: int = 0
    stories: int = 0
    articles: int = 0
    statuses: dict[str, int] = field(default_factory=dict)

    def count(self, events: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for e in events:
            self.events += 1
            self.stories += len(e.get("stories") or [])
            self.articles += len(e.get("articles") or [])
            self.statuses[e["status"]] = self.statuses.get(e["status"], 0) + 1
            yield e


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value[:10]) if value else None
    except ValueError:
        return None


def group_input(
    input_path: str, out_dir: str | Path, since: str | None = None, config: GroupingConfig | None = None,
    progress: Callable[[str], None] | None = None, topic: str | None = None,
) -> tuple[GroupingResult, Path, list[InputProblem], list[ArticleRecord]]:
    """Group an articles JSONL file (bad lines reported, the rest grouped; with `topic`, only the lines whose
    `topics` name it); write events.jsonl."""
    problems: list[InputProblem] = []
    records = list(read_articles_jsonl(input_path, problems))
    if topic:
        records = [r for r in records if topic in r.topics]
    if since:
        records = [r for r in records if not r.published or r.published[:10] >= since]
    result = group(records, config or GroupingConfig(), progress=progress)
    path = Path(out_dir) / "events.jsonl"
    write_jsonl((event_to_dict(e) for e in newest_first(result.events)), path)
    return result, path, problems, records


# One page for people: the newest events only, unless --limit says otherwise (events left out by --only-new's
# limit are not recorded as sent, so they come in the next report).
HTML_LIMIT = 2000


@dataclass
class Export:
    """What one export wrote."""

    paths: list[Path]
    count: int
    skipped: int = 0  # events (or articles) left out by --only-new because they were exported before


def event_digest(event: dict[str, Any]) -> str:
    """An event's membership (its stories and their articles): what a labeller would see change."""
    body = sorted((s["story_id"], sorted(s["article_ids"])) for s in event.get("stories") or [])
    return hashlib.sha1(json.dumps(body).encode("utf-8")).hexdigest()


def _channel(fmt: str, topic: str | None) -> str:
    return fmt + (f":{topic}" if topic else "")


def _select_events(
    store: Store, fmt: str, only_new: bool, topic: str | None, limit: int | None
) -> tuple[list[dict[str, Any]], int, list[tuple[str, str]]]:
    """The stored events to export (newest first), how many --only-new left out, and their digests to record.

    With --only-new an event is written when this channel never had it (status `new`) or its membership
    changed since (status `updated`); the status then says what changed since the last export, not since
    the last grouping.
    """
    labels = store.event_labels()
    seen = store.exported_digests(_channel(fmt, topic)) if only_new else {}
    out: list[dict[str, Any]] = []
    digests: list[tuple[str, str]] = []
    skipped = 0
    for e in store.events():
        if topic and topic not in (e.get("topics") or []):
            continue
        if e["event_id"] in labels:
            e["label"] = labels[e["event_id"]]
        digest = event_digest(e)
        if only_new:
            before = seen.get(e["event_id"])
            if before == digest:
                skipped += 1
                continue
            e["status"] = "new" if before is None else "updated"
        out.append(e)
        digests.append((e["event_id"], digest))
        if limit is not None and len(out) >= limit:
            break
    return out, skipped, digests


def export(
    db: str, out_dir: str | Path, fmt: str, only_new: bool = False, topic: str | None = None,
    limit: int | None = None,
) -> Export:
    """Write candidate events (or articles) in one format; remember what was written for --only-new.

    The export is recorded only after its files are in place, so a crash in between sends the same events
    again next time rather than never.
    """
    out = Path(out_dir)
    if fmt == "html" and limit is None:
        limit = HTML_LIMIT
    with open_store(db) as store:
        if fmt == "articles":
            return _export_articles(store, out, only_new, topic)
        events, skipped, digests = _select_events(store, fmt, only_new, topic, limit)
        texts = store.texts(a["id"] for e in events for a in e.get("articles") or []) if fmt != "jsonl" else {}
        paths = write_events(events, texts, out, fmt, "-new" if only_new else "", topic)
        store.save_exported(_channel(fmt, topic), digests)
    return Export(paths, len(events), skipped)


def export_files(
    events_file: str | Path, articles_file: str | Path | None, out_dir: str | Path, fmt: str,
    topic: str | None = None, limit: int | None = None,
) -> tuple[Export, list[InputProblem]]:
    """Export an events.jsonl written by `group --input` (texts for openings from its articles file)."""
    from dedupe.records import read_jsonl_objects

    problems: list[InputProblem] = []
    events = [e for _n, e in read_jsonl_objects(events_file, problems, required=("event_id", "articles"))
              if not topic or topic in (e.get("topics") or [])][:limit]
    texts: dict[str, str] = {}
    if articles_file is not None and fmt != "jsonl":
        texts = {r.id: r.text for r in read_articles_jsonl(articles_file, problems)}
    return Export(write_events(events, texts, Path(out_dir), fmt, "", topic), len(events)), problems


def write_events(
    events: list[dict[str, Any]], texts: dict[str, str], out: Path, fmt: str, suffix: str, topic: str | None
) -> list[Path]:
    """Write events as `jsonl`, `label-studio` or `html`; returns the files written."""
    if fmt == "jsonl":
        path = out / f"events{suffix}.jsonl"
        write_jsonl(events, path)
        return [path]
    if fmt == "label-studio":
        from crawler import __version__
        from dedupe.labelstudio import write_label_studio

        tasks, config, _n = write_label_studio(events, texts, out, f"newsdedupe-{__version__}", suffix)
        return [tasks, config]
    if fmt == "html":
        from dedupe.htmlreport import render_report
        from dedupe.writers import atomic_writer

        path = out / f"report{suffix}.html"
        title = "newsdedupe: candidate events" + (f" on {topic}" if topic else "") + \
            (" (new or updated since the last export)" if suffix else "")
        with atomic_writer(path) as fh:
            fh.write(render_report(events, texts, title=title))
        return [path]
    raise ValueError(f"unknown export format {fmt!r}: use jsonl, articles, label-studio or html")


def _export_articles(store: Store, out: Path, only_new: bool, topic: str | None) -> Export:
    """All stored articles, or with --only-new those stored since the last articles export (by row order)."""
    key = "exported:" + _channel("articles", topic)
    after = int(store.get_meta(key) or 0) if only_new else 0
    last = after
    path = out / ("articles-new.jsonl" if only_new else "articles.jsonl")

    def rows() -> Any:
        nonlocal last
        for rowid, a in store.articles_after(after):
            last = max(last, rowid)
            if topic and topic not in a.topics:
                continue
            yield a.to_dict()

    n = write_jsonl(rows(), path)
    if last != after or not only_new:
        store.set_meta(key, str(last))
    return Export([path], n, store.count_articles() - n if only_new else 0)


def import_labels(db: str, path: str | Path) -> dict[str, Any]:
    """Record the decisions of a Label Studio export; later groupings of the store respect them."""
    from crawler.storage import now_iso
    from dedupe.labelstudio import NOT_ONE_EVENT, decisions_pairs, read_label_studio_export

    decisions, problems, unlabelled = read_label_studio_export(path)
    rows = decisions_pairs(decisions)
    imported = now_iso()
    with open_store(db) as store:
        changed = store.save_label_pairs(
            (kind, a, b, d.event_id, d.annotator, d.decided or imported, str(path)) for kind, a, b, d in rows
        )
        for d in decisions:
            if d.label:
                kept = [a for a in d.article_ids if a not in d.not_belonging]
                store.save_event_label(d.event_id, d.label, kept, d.annotator, d.decided or imported, str(path))
    labels: dict[str, int] = {}
    for d in decisions:
        if d.label:
            labels[d.label] = labels.get(d.label, 0) + 1
    return {
        "labelled_tasks": len(decisions),
        "unlabelled_tasks": unlabelled,
        "labels": labels,
        "articles_split_off": sum(len(d.not_belonging) for d in decisions),
        "events_broken_up": sum(1 for d in decisions if d.label == NOT_ONE_EVENT),
        "events_confirmed": sum(1 for d in decisions if d.label and d.label != NOT_ONE_EVENT),
        "must_links": sum(1 for kind, *_ in rows if kind == "must"),
        "cannot_links": sum(1 for kind, *_ in rows if kind == "cannot"),
        "pairs_changed": changed,
        "problems": problems,
    }


def event_summary_rows(events: list[dict[str, Any]], limit: int = 20) -> list[list[Any]]:
    rows = []
    for e in events[:limit]:
        title = e["title"] or ""
        rows.append([
            e["event_id"], e["status"], e["first_published"] or "", e["article_count"], e["story_count"],
            ",".join(e["languages"]), ",".join(e["outlets"]), title[:48] + ("…" if len(title) > 48 else ""),
        ])
    return rows
