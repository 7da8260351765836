"""Writers: events and articles as JSONL, written to a temporary file and renamed (never half a file)."""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from dedupe.grouping import Event, Member
from dedupe.records import parse_timestamp


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


def _remove_orphans(directory: Path) -> None:
    """Delete the temporary files (`.NAME.PID.RANDOM.tmp`) that writers killed before their rename left in
    `directory`, whatever file they were writing: a run report has a new name every run, so its orphan would
    never be written over."""
    for tmp in directory.glob(".*.*.*.tmp"):
        parts = tmp.name[: -len(".tmp")].rsplit(".", 2)
        pid = parts[1] if len(parts) == 3 else ""
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            with contextlib.suppress(OSError):
                tmp.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextmanager
def atomic_writer(path: str | Path, mode: str = "w") -> Iterator[IO[Any]]:
    """Write to a temporary file beside `path` and rename it into place only when the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_orphans(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else "utf-8") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; outputs are read by other people and tools
        os.replace(tmp, path)
        _fsync_dir(path.parent)  # the rename itself survives a power cut
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _short_date(value: str | None) -> str | None:
    return value[:10] if value else None


def event_to_dict(event: Event) -> dict[str, Any]:
    """The events contract's object for one event."""
    members = event.members
    dates = event.dates
    titles: dict[str, str] = {}
    for m in members:  # members are in story order, seed first: the first title per language is the earliest
        if m.language and m.article.title and m.language not in titles:
            titles[m.language] = m.article.title
    seed = members[0]
    title = seed.article.title or next((m.article.title for m in members if m.article.title), None)
    if not title:
        title = (seed.article.text or "").strip().split("\n")[0][:120]
    return {
        "event_id": event.event_id,
        "status": event.status,
        "title": title,
        "titles": titles,
        "first_published": dates[0].isoformat() if dates else None,
        "last_published": dates[-1].isoformat() if dates else None,
        "languages": sorted({m.language for m in members if m.language}),
        "outlets": sorted({m.article.outlet for m in members if m.article.outlet}),
        "article_count": len(members),
        "story_count": len(event.stories),
        "topics": sorted({t for m in members for t in m.article.topics}),
        **syndication(event),
        "stories": [{"story_id": s.story_id, "article_ids": list(s.article_ids)} for s in event.stories],
        "articles": [
            {
                "id": m.article.id,
                "url": m.article.url,
                "title": m.article.title,
                "outlet": m.article.outlet,
                "language": m.language,
                "published": _short_date(m.article.published),
                "story_id": m.story_id,
                "link": {
                    "method": m.link.method,
                    "score": m.link.score,
                    "evidence": list(m.link.evidence),
                    "linked_to": m.link.linked_to,
                },
            }
            for m in members
        ],
    }


def _source_key(m: Member) -> str:
    """Who published an article: its outlet, else its host, else the article itself."""
    if m.article.outlet:
        return m.article.outlet
    url = m.article.url or ""
    host = url.split("://", 1)[-1].split("/", 1)[0].lower().removeprefix("www.")
    return host or m.article.id


def syndication(event: Event) -> dict[str, Any]:
    """Independent sources (copies of one text count once, for the outlet that published it first) and
    the outlet(s) that published first (several when their timestamps tie)."""
    by_id = {m.article.id: m for m in event.members}
    origins = {_source_key(by_id[s.article_ids[0]]) for s in event.stories}  # a story's first article: its origin
    stamped = [(ts, m) for m in event.members if (ts := parse_timestamp(m.article.published)) is not None]
    first: list[str] = []
    if stamped:
        earliest = min(ts for ts, _m in stamped)
        first = sorted({_source_key(m) for ts, m in stamped if ts == earliest})
    return {"independent_sources": len(origins), "first_published_by": first}


def newest_first(events: Iterable[Event]) -> list[Event]:
    """Events ordered by their latest article date (undated last), then id."""
    def key(e: Event) -> tuple[int, str, str]:
        d = e.dates
        return (0 if d else 1, "" if not d else "~" + _invert(d[-1].isoformat()), e.event_id)

    return sorted(events, key=key)


def _invert(iso: str) -> str:
    # Sorting ascending on the digit complement gives newest first while keeping the key a string.
    return "".join(chr(ord("9") - (ord(c) - ord("0"))) if c.isdigit() else c for c in iso)


def write_events_jsonl(events: Iterable[Event], path: str | Path) -> int:
    """Write events newest first; returns how many were written."""
    n = 0
    with atomic_writer(path) as fh:
        for e in newest_first(events):
            fh.write(json.dumps(event_to_dict(e), ensure_ascii=False) + "\n")
            n += 1
    return n


def write_jsonl(rows: Iterable[dict[str, Any]], path: str | Path) -> int:
    n = 0
    with atomic_writer(path) as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    return n
