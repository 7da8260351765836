"""The steps of the nightly job outside the crawl itself: group the store, export what labellers need."""
from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from crawler.storage import Store
from dedupe.config import GroupingConfig
from dedupe.grouping import GroupingResult, StoredSignature, group
from dedupe.records import ArticleRecord, InputProblem, read_articles_jsonl
from dedupe.writers import event_to_dict, newest_first, write_jsonl

log = logging.getLogger(__name__)


def records_from_store(store: Store, since: str | None = None, topic: str | None = None) -> list[ArticleRecord]:
    return [
        ArticleRecord(
            id=a.id, text=a.text, title=a.title, url=a.url, language=a.language, published=a.published,
            outlet=a.outlet, topics=tuple(a.topics),
        )
        for a in store.articles(since=since, topic=topic)
    ]


def group_store(
    db: str, out_dir: str | Path, since: str | None = None, config: GroupingConfig | None = None,
    progress: Callable[[str], None] | None = None, topic: str | None = None,
) -> tuple[GroupingResult, Path]:
    """Group the stored articles (only a topic's with `topic`), keeping ids stable and reusing stored
    signatures; write events.jsonl."""
    config = config or GroupingConfig()
    with Store(db) as store:
        records = records_from_store(store, since, topic)
        stored = {
            aid: StoredSignature(fp, th, size, data) for aid, (fp, th, size, data) in store.signatures().items()
        }
        result = group(records, config, previous=store.assignments(), signatures=stored, progress=progress)
        store.save_signatures(
            (aid, s.fingerprint, s.text_hash, s.size, s.data) for aid, s in result.new_signatures.items()
        )
        store.save_assignments(
            (m.article.id, m.story_id, e.event_id) for e in result.events for m in e.members
        )
        events = [event_to_dict(e) for e in newest_first(result.events)]
        store.replace_events(events)
    path = Path(out_dir) / "events.jsonl"
    write_jsonl(events, path)
    return result, path


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


def export_events(db: str, out_dir: str | Path, topic: str | None = None) -> tuple[Path, int]:
    """The latest grouping's events; with `topic`, only events some article of which matched the topic."""
    with Store(db) as store:
        events = [e for e in store.events() if topic is None or topic in e.get("topics", [])]
    path = Path(out_dir) / "events.jsonl"
    return path, write_jsonl(events, path)


def export_articles(db: str, out_dir: str | Path, topic: str | None = None) -> tuple[Path, int]:
    path = Path(out_dir) / "articles.jsonl"
    with Store(db) as store:
        n = write_jsonl((a.to_dict() for a in store.articles(topic=topic)), path)
    return path, n


def event_summary_rows(events: list[dict[str, Any]], limit: int = 20) -> list[list[Any]]:
    rows = []
    for e in events[:limit]:
        title = e["title"] or ""
        rows.append([
            e["event_id"], e["status"], e["first_published"] or "", e["article_count"], e["story_count"],
            ",".join(e["languages"]), ",".join(e["outlets"]), title[:48] + ("…" if len(title) > 48 else ""),
        ])
    return rows
