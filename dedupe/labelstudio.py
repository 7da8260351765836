"""Label Studio: candidate events as tasks, the labelling configuration, and labellers' decisions read back.

One task per candidate event. The labeller sees the event (an HTML view of its articles with outlet,
language, date, URL, opening and the evidence of each link) and answers two questions: what the event is
(incident / hazard / complementary information / unrelated / not one event) and which articles do not belong
(a multiple choice whose options are the event's own articles, loaded from the task). The grouping score goes
in as a prediction, so the Data Manager can sort the least certain events first.

Reading an export back gives one `Decision` per labelled task; `decision_pairs` turns it into the must-link
and cannot-link pairs that later grouping runs respect.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dedupe.htmlreport import article_item, date_range, describe_link, esc, link_names, opening

EVENT_CHOICES = ("incident", "hazard", "complementary information", "unrelated", "not one event")
NOT_ONE_EVENT = "not one event"
EVENT_CONTROL = "event_label"
ARTICLES_CONTROL = "does_not_belong"
VIEW = "event"

LABEL_CONFIG = f"""<View>
  <Header value="$title"/>
  <Text name="summary" value="$summary"/>
  <HyperText name="{VIEW}" value="$html"/>
  <Header value="What is this candidate event?"/>
  <Choices name="{EVENT_CONTROL}" toName="{VIEW}" choice="single-radio" required="true" showInline="true">
{chr(10).join(f'    <Choice value="{c}"/>' for c in EVENT_CHOICES)}
  </Choices>
  <Header value="Articles that do not belong to this event (leave empty when all belong)"/>
  <Choices name="{ARTICLES_CONTROL}" toName="{VIEW}" choice="multiple" value="$article_choices"/>
</View>
"""


def cohesion(event: Mapping[str, Any]) -> float:
    """The grouping's confidence in an event: its weakest link score (1.0 for an event of one article; a link a
    labeller confirmed counts as certain)."""
    scores = [1.0 if a["link"]["method"] == "labelled" else float(a["link"]["score"])
              for a in event.get("articles") or [] if (a.get("link") or {}).get("method") not in (None, "seed")]
    return round(min(scores), 4) if scores else 1.0


def event_task(event: Mapping[str, Any], texts: Mapping[str, str], model_version: str) -> dict[str, Any]:
    """A Label Studio task for one event (the `data` the configuration reads, and one prediction)."""
    arts = list(event.get("articles") or [])
    summary = (
        date_range(event)
        + f" · {len(arts)} articles, {event.get('independent_sources', '?')} independent sources"
        + f" · languages: {', '.join(event.get('languages') or []) or '?'}"
        + f" · outlets: {', '.join(event.get('outlets') or []) or '?'}"
        + (f" · first: {', '.join(event['first_published_by'])}" if event.get("first_published_by") else "")
    )
    names = link_names(arts)
    view = "<ul style=\"list-style:none;padding:0\">" + "".join(
        article_item(a, texts.get(str(a.get("id"))), names) for a in arts) + "</ul>"
    data = {
        "event_id": event.get("event_id"),
        "status": event.get("status"),
        "title": event.get("title") or "(untitled)",
        "summary": summary,
        "first_published": event.get("first_published"),
        "last_published": event.get("last_published"),
        "languages": list(event.get("languages") or []),
        "outlets": list(event.get("outlets") or []),
        "topics": list(event.get("topics") or []),
        "independent_sources": event.get("independent_sources"),
        "first_published_by": list(event.get("first_published_by") or []),
        "article_count": len(arts),
        "articles": [
            {
                "id": a.get("id"), "title": a.get("title"), "outlet": a.get("outlet"), "language": a.get("language"),
                "published": a.get("published"), "url": a.get("url"), "story_id": a.get("story_id"),
                "opening": opening(texts.get(str(a.get("id")))), "link": describe_link(a.get("link") or {}, names),
            }
            for a in arts
        ],
        "article_choices": [
            {
                "value": a.get("id"),
                "html": f"<b>{esc(a.get('title') or a.get('id'))}</b> · {esc(a.get('outlet') or '?')} · "
                        f"{esc(a.get('language') or '?')} · {esc(a.get('published') or 'undated')}",
            }
            for a in arts
        ],
        "html": view,
    }
    return {
        "data": data,
        "predictions": [{"model_version": model_version, "score": cohesion(event), "result": []}],
    }


def write_label_studio(
    events: Iterable[Mapping[str, Any]], texts: Mapping[str, str], out_dir: str | Path, model_version: str,
    suffix: str = "",
) -> tuple[Path, Path, int]:
    """Write `label-studio-tasks{suffix}.json` (a JSON list, as Label Studio imports it) and
    `label-studio-config.xml` (the labelling interface to create the project with)."""
    from dedupe.writers import atomic_writer

    out = Path(out_dir)
    tasks = [event_task(e, texts, model_version) for e in events]
    tasks_path, config_path = out / f"label-studio-tasks{suffix}.json", out / "label-studio-config.xml"
    with atomic_writer(tasks_path) as fh:
        json.dump(tasks, fh, ensure_ascii=False, indent=1)
        fh.write("\n")
    with atomic_writer(config_path) as fh:
        fh.write(LABEL_CONFIG)
    return tasks_path, config_path, len(tasks)


# --- reading decisions back ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Decision:
    """What one labeller decided about one task (the latest submitted annotation wins)."""

    where: str  # "FILE: task 12", for messages
    event_id: str
    article_ids: tuple[str, ...]
    story_of: dict[str, str]  # article id -> story id, as the task showed them
    label: str | None  # one of EVENT_CHOICES, None when only articles were marked
    not_belonging: tuple[str, ...]
    annotator: str | None
    decided: str  # when the annotation was last changed (ISO 8601), for "latest decision wins"


class LabelsFileError(ValueError):
    """The whole file cannot be read (not JSON, not a list of tasks)."""


def _choices(value: Any) -> list[str]:
    """A control's value in either export: {'choices': [...]}, a list, or a plain string (JSON-MIN, one choice)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        value = value.get("choices", [])
    if isinstance(value, list):
        return [str(v) for v in value if isinstance(v, (str, int))]
    return []


def _from_annotation(task: Mapping[str, Any]) -> tuple[dict[str, list[str]], str | None, str, bool] | None:
    """(control -> choices, annotator, decided, cancelled) of a full-JSON task's latest annotation."""
    annotations = [a for a in task.get("annotations") or [] if isinstance(a, dict)]
    if not annotations:
        return None
    latest = max(annotations, key=lambda a: (str(a.get("updated_at") or a.get("created_at") or ""), str(a.get("id"))))
    controls: dict[str, list[str]] = {}
    for region in latest.get("result") or []:
        if isinstance(region, dict) and region.get("type") == "choices":
            controls.setdefault(str(region.get("from_name")), []).extend(_choices(region.get("value")))
    who = latest.get("completed_by")
    if isinstance(who, dict):
        who = who.get("email") or who.get("id")
    decided = str(latest.get("updated_at") or latest.get("created_at") or "")
    return controls, (str(who) if who is not None else None), decided, bool(latest.get("was_cancelled"))


def read_label_studio_export(path: str | Path) -> tuple[list[Decision], list[str], int]:
    """Decisions from a Label Studio export (JSON or JSON-MIN), the problems found, and tasks left unlabelled.

    A task that is not one of ours (no event_id or articles), an unknown event choice, or an article choice
    that is not one of the task's articles is reported with the task's position and left out; the rest is read.
    """
    path = Path(path)
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LabelsFileError(f"{path}: not a Label Studio JSON export: {exc}") from exc
    if isinstance(rows, dict):
        rows = [rows]
    if not isinstance(rows, list):
        raise LabelsFileError(f"{path}: expected a JSON list of tasks, got {type(rows).__name__}")
    decisions: list[Decision] = []
    problems: list[str] = []
    unlabelled = 0
    for n, task in enumerate(rows, 1):
        where = f"{path}: task {n}" + (f" (id {task['id']})" if isinstance(task, dict) and "id" in task else "")
        if not isinstance(task, dict):
            problems.append(f"{where}: not a JSON object")
            continue
        full = "data" in task and isinstance(task["data"], dict)
        data = task["data"] if full else task
        event_id = data.get("event_id")
        articles = data.get("articles")
        if not isinstance(event_id, str) or not isinstance(articles, list):
            problems.append(f"{where}: no event_id or articles in its data (not a newsdedupe task)")
            continue
        ids = tuple(str(a["id"]) for a in articles if isinstance(a, dict) and a.get("id") is not None)
        story_of = {str(a["id"]): str(a.get("story_id") or a["id"]) for a in articles
                    if isinstance(a, dict) and a.get("id") is not None}
        if full:
            got = _from_annotation(task)
            if got is None:
                unlabelled += 1
                continue
            controls, annotator, decided, cancelled = got
            if cancelled:
                unlabelled += 1
                continue
        else:
            controls = {k: _choices(task.get(k)) for k in (EVENT_CONTROL, ARTICLES_CONTROL) if k in task}
            annotator = str(task["annotator"]) if task.get("annotator") is not None else None
            decided = str(task.get("updated_at") or task.get("created_at") or "")
            if not controls:
                unlabelled += 1
                continue
        labels = controls.get(EVENT_CONTROL, [])
        label = labels[0] if labels else None
        if label is not None and label not in EVENT_CHOICES:
            problems.append(f"{where}: unknown {EVENT_CONTROL} choice {label!r} (expected one of "
                            f"{', '.join(EVENT_CHOICES)}); its event label is ignored")
            label = None
        marked = controls.get(ARTICLES_CONTROL, [])
        unknown = [a for a in marked if a not in story_of]
        if unknown:
            problems.append(f"{where}: {ARTICLES_CONTROL} names articles that are not in the task: "
                            f"{', '.join(unknown)}; ignored")
        not_belonging = tuple(a for a in marked if a in story_of)
        if label is None and not not_belonging:
            unlabelled += 1
            continue
        decisions.append(Decision(where, event_id, ids, story_of, label, not_belonging, annotator, decided))
    return decisions, problems, unlabelled


def decision_pairs(d: Decision) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(must, cannot) article pairs for one decision.

    - each article marked "does not belong" is cannot-linked to every article that stays;
    - "not one event" breaks the event into its near-duplicate stories (cannot-links across stories; an event
      of one story is broken into its articles);
    - any other event label confirms what stays: must-links chaining the remaining articles.
    """
    out = set(d.not_belonging)
    stay = [a for a in d.article_ids if a not in out]
    cannot = [(x, y) for x in d.not_belonging for y in stay]
    must: list[tuple[str, str]] = []
    if d.label == NOT_ONE_EVENT:
        single_story = len({d.story_of.get(a, a) for a in stay}) <= 1
        for i, x in enumerate(stay):
            for y in stay[i + 1:]:
                if single_story or d.story_of.get(x, x) != d.story_of.get(y, y):
                    cannot.append((x, y))
    elif d.label is not None and len(stay) > 1:
        must = [(stay[0], y) for y in stay[1:]]
    return must, cannot


def decisions_pairs(decisions: Iterable[Decision]) -> list[tuple[str, str, str, Decision]]:
    """(kind, a, b, decision) rows for every decision, kind `must` or `cannot`."""
    rows = []
    for d in decisions:
        must, cannot = decision_pairs(d)
        rows += [("must", a, b, d) for a, b in must] + [("cannot", a, b, d) for a, b in cannot]
    return rows
