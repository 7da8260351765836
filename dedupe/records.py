"""Article records as grouping sees them, and the articles JSONL reader."""
from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ArticleRecord:
    """One article to group. `published` is an ISO date or datetime string, or None."""

    id: str
    text: str
    title: str | None = None
    url: str | None = None
    language: str | None = None
    published: str | None = None
    outlet: str | None = None
    topics: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def published_date(self) -> date | None:
        return parse_date(self.published)


def parse_timestamp(value: str | None) -> datetime | None:
    """Parse an ISO 8601 date or datetime as an aware UTC datetime (naive values are taken as UTC)."""
    if not value:
        return None
    v = value.strip().replace("Z", "+00:00")
    try:
        dt = datetime.fromisoformat(v)
    except ValueError:
        d = parse_date(value)
        if d is None:
            return None
        dt = datetime(d.year, d.month, d.day)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc)


def parse_date(value: str | None) -> date | None:
    """Parse an ISO 8601 date or datetime (a trailing Z included); None when absent or unparseable."""
    if not value:
        return None
    v = value.strip()
    try:
        return datetime.fromisoformat(v.replace("Z", "+00:00")).date()
    except ValueError:
        pass
    try:
        return date.fromisoformat(v[:10])
    except ValueError:
        return None


@dataclass(frozen=True)
class InputProblem:
    source: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.message}"


KNOWN_FIELDS = {"id", "text", "title", "url", "language", "published", "outlet", "topics"}


def record_from_dict(obj: dict[str, Any]) -> ArticleRecord:
    topics = obj.get("topics") or ()
    if isinstance(topics, str):
        topics = (topics,)
    return ArticleRecord(
        id=str(obj["id"]),
        text=str(obj.get("text") or ""),
        title=obj.get("title") or None,
        url=obj.get("url") or None,
        language=obj.get("language") or None,
        published=str(obj["published"]) if obj.get("published") else None,
        outlet=obj.get("outlet") or None,
        topics=tuple(str(t) for t in topics),
        extra={k: v for k, v in obj.items() if k not in KNOWN_FIELDS},
    )


def read_jsonl_objects(
    path: str | Path, problems: list[InputProblem], required: tuple[str, ...] = ()
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, object) for the JSON objects of a JSONL file that have the `required` fields; bad
    lines go to `problems`."""
    source = str(path)
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError as exc:
                problems.append(InputProblem(source, lineno, f"not valid UTF-8 ({exc.reason})"))
                continue
            except json.JSONDecodeError as exc:
                problems.append(InputProblem(source, lineno, f"not valid JSON ({exc.msg})"))
                continue
            if not isinstance(obj, dict):
                problems.append(InputProblem(source, lineno, "not a JSON object"))
                continue
            missing = [k for k in required if obj.get(k) in (None, "")]
            if missing:
                problems.append(InputProblem(source, lineno, f"missing required field(s): {', '.join(missing)}"))
                continue
            yield lineno, obj


def read_articles_jsonl(path: str | Path, problems: list[InputProblem]) -> Iterator[ArticleRecord]:
    """Yield records from an articles JSONL file; bad lines are appended to `problems` and skipped."""
    source = str(path)
    seen: set[str] = set()
    for lineno, obj in read_jsonl_objects(path, problems, required=("id", "text")):
        if not isinstance(obj["text"], str):
            problems.append(InputProblem(source, lineno, "field 'text' must be a string"))
            continue
        for key in ("title", "url", "language", "published", "outlet"):
            value = obj.get(key)
            if value is not None and not isinstance(value, str):
                problems.append(InputProblem(source, lineno, f"field {key!r} must be a string, not "
                                             f"{type(value).__name__}; ignored"))
                obj = {k: v for k, v in obj.items() if k != key}
        topics = obj.get("topics")
        if topics is not None and not isinstance(topics, str) and not (
            isinstance(topics, list) and all(isinstance(t, str) for t in topics)
        ):
            problems.append(InputProblem(source, lineno, "field 'topics' must be a list of strings; ignored"))
            obj = {k: v for k, v in obj.items() if k != "topics"}
        rid = str(obj["id"])
        if rid in seen:
            problems.append(InputProblem(source, lineno, f"duplicate id {rid!r}; the first one is kept"))
            continue
        seen.add(rid)
        yield record_from_dict(obj)
