"""Candidate events for labellers: Label Studio tasks and config, --only-new, labels fed back, syndication."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    LOOKALIKE_STORY,
    UNRELATED_STORY,
    WIRE_STORY,
    copy_store,
    edited_copy_with_dateline,
    read_jsonl,
    run_cli,
)

from dedupe.constraints import Constraints
from dedupe.events import EventLink, event_clusters
from dedupe.grouping import group
from dedupe.labelstudio import (
    EVENT_CHOICES,
    LABEL_CONFIG,
    Decision,
    LabelsFileError,
    cohesion,
    decision_pairs,
    read_label_studio_export,
)
from dedupe.records import ArticleRecord
from dedupe.stories import PairLink, story_clusters


# --- constraints inside grouping ------------------------------------------------------------------------------
def test_story_cannot_link_holds_against_a_chain() -> None:
    """a-b and b-c are near-duplicates; a labeller split a from c: c must not reach a through b."""
    links = [PairLink(0, 1, 0.9, 0.9, 0.9), PairLink(1, 2, 0.8, 0.8, 0.8)]
    assert sorted(map(sorted, story_clusters(3, links))) == [[0, 1, 2]]
    assert sorted(map(sorted, story_clusters(3, links, {(0, 2)}))) == [[0, 1], [2]]


def test_event_must_link_joins_unlinked_stories_and_cannot_wins() -> None:
    links = [EventLink(0, 1, "same-language", 0.5)]
    events, used = event_clusters(4, links, 0.2, must={(2, 3)})
    assert sorted(events) == [[0, 1], [2, 3]]
    assert {lk.method for lk in used} == {"same-language", "labelled"}
    events, _ = event_clusters(4, links, 0.2, cannot={(0, 1)}, must={(0, 1)})
    assert sorted(events) == [[0], [1], [2], [3]]


def _records() -> list[ArticleRecord]:
    return [
        ArticleRecord(id="wire", text=WIRE_STORY, title="45,000 streetlights", outlet="wire", language="en",
                      published="2025-10-03T08:00:00Z"),
        ArticleRecord(id="copy1", text=edited_copy_with_dateline(WIRE_STORY), outlet="site1", language="en",
                      published="2025-10-03T09:00:00Z"),
        ArticleRecord(id="copy2", text=edited_copy_with_dateline(WIRE_STORY), outlet="site2", language="en",
                      published="2025-10-03T10:00:00Z"),
        ArticleRecord(id="other", text=UNRELATED_STORY, outlet="site1", language="en", published="2025-10-03"),
        ArticleRecord(id="pilot", text=LOOKALIKE_STORY, outlet="site3", language="en", published="2025-03-02"),
    ]


def _event_of(result: Any) -> dict[str, str]:
    return {m.article.id: e.event_id for e in result.events for m in e.members}


def test_group_respects_cannot_and_must_links() -> None:
    plain = _event_of(group(_records()))
    assert plain["wire"] == plain["copy1"] == plain["copy2"]
    assert plain["other"] != plain["wire"]

    result = group(_records(), constraints=Constraints.of(
        must=[("other", "pilot")], cannot=[("copy2", "wire"), ("copy2", "copy1")]))
    ev = _event_of(result)
    assert ev["wire"] == ev["copy1"] and ev["copy2"] != ev["wire"]
    assert ev["other"] == ev["pilot"]
    assert sorted(m.article.id for e in result.events for m in e.members) == sorted(r.id for r in _records())
    joined = {m.article.id: m.link for e in result.events for m in e.members}
    labelled = joined["other"] if joined["other"].method != "seed" else joined["pilot"]
    assert labelled.method == "labelled" and "confirmed by a labeller" in labelled.evidence
    # copy2's evidence no longer names an article it was split from
    assert joined["copy2"].linked_to not in {"wire", "copy1"}


# --- decisions from a Label Studio export ---------------------------------------------------------------------
def _decision(label: str | None, not_belonging: tuple[str, ...] = ()) -> Decision:
    return Decision("f: task 1", "ev-1", ("a", "b", "c", "d"), {"a": "s1", "b": "s1", "c": "s2", "d": "s3"},
                    label, not_belonging, None, "2026-01-01T00:00:00Z")


def test_decision_pairs() -> None:
    must, cannot = decision_pairs(_decision("incident", ("d",)))
    assert must == [("a", "b"), ("a", "c")]
    assert sorted(cannot) == [("d", "a"), ("d", "b"), ("d", "c")]
    must, cannot = decision_pairs(_decision("not one event"))
    assert must == []
    assert sorted(cannot) == [("a", "c"), ("a", "d"), ("b", "c"), ("b", "d"), ("c", "d")]  # a-b: one story
    must, cannot = decision_pairs(_decision(None, ("a",)))
    assert must == [] and sorted(cannot) == [("a", "b"), ("a", "c"), ("a", "d")]


def _task(event_id: str, ids: list[str], *annotations: dict[str, Any], task_id: int = 1) -> dict[str, Any]:
    return {"id": task_id, "data": {"event_id": event_id,
                                    "articles": [{"id": i, "story_id": f"st-{i}"} for i in ids]},
            "annotations": list(annotations), "predictions": []}


def _annotation(label: str | None, marked: list[str], updated: str, cancelled: bool = False) -> dict[str, Any]:
    result = []
    if label:
        result.append({"from_name": "event_label", "to_name": "event", "type": "choices",
                       "value": {"choices": [label]}})
    if marked:
        result.append({"from_name": "does_not_belong", "to_name": "event", "type": "choices",
                       "value": {"choices": marked}})
    return {"id": updated, "result": result, "was_cancelled": cancelled, "completed_by": 7,
            "created_at": updated, "updated_at": updated}


def test_read_export_full_json_latest_annotation_wins(tmp_path: Path) -> None:
    path = tmp_path / "export.json"
    path.write_text(json.dumps([
        _task("ev-1", ["a", "b"], _annotation("hazard", [], "2026-01-01T00:00:00Z"),
              _annotation("incident", ["b"], "2026-01-02T00:00:00Z")),
        _task("ev-2", ["c"], _annotation("unrelated", [], "2026-01-03T00:00:00Z", cancelled=True), task_id=2),
        _task("ev-3", ["d"], task_id=3),
        _task("ev-4", ["e", "f"], _annotation("made up", ["zzz"], "2026-01-03T00:00:00Z"), task_id=4),
        {"id": 5, "data": {"text": "not ours"}, "annotations": []},
    ]), encoding="utf-8")
    decisions, problems, unlabelled = read_label_studio_export(path)
    assert [(d.event_id, d.label, d.not_belonging, d.annotator) for d in decisions] == \
        [("ev-1", "incident", ("b",), "7")]
    assert unlabelled == 3  # cancelled, never annotated, and ev-4 whose only answers were invalid
    assert any("task 4" in p and "made up" in p for p in problems)
    assert any("task 4" in p and "zzz" in p for p in problems)
    assert any("task 5" in p and "not a newsdedupe task" in p for p in problems)


def test_read_export_json_min(tmp_path: Path) -> None:
    path = tmp_path / "min.json"
    path.write_text(json.dumps([
        {"id": 1, "event_id": "ev-1", "articles": [{"id": "a", "story_id": "s"}, {"id": "b", "story_id": "t"}],
         "event_label": "not one event", "annotator": "x@example.org", "updated_at": "2026-01-01T00:00:00Z"},
        {"id": 2, "event_id": "ev-2", "articles": [{"id": "c"}, {"id": "d"}], "does_not_belong": {"choices": ["d"]}},
    ]), encoding="utf-8")
    decisions, problems, unlabelled = read_label_studio_export(path)
    assert problems == [] and unlabelled == 0
    assert [(d.event_id, d.label, d.not_belonging) for d in decisions] == \
        [("ev-1", "not one event", ()), ("ev-2", None, ("d",))]


@pytest.mark.parametrize("body", ["{not json", '"a string"'])
def test_unreadable_export_is_one_clear_error(tmp_path: Path, body: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(LabelsFileError, match="bad.json"):
        read_label_studio_export(path)


def test_labels_import_cli_reports_a_bad_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text("[1, 2", encoding="utf-8")
    proc = run_cli("labels", "import", path, "--db", tmp_path / "s.sqlite3")
    assert proc.returncode == 1
    assert "bad.json" in proc.stderr and "Traceback" not in proc.stderr


# --- exports of the demo store ----------------------------------------------------------------------------------
def _demo_store(demo_run: dict[str, Any], tmp_path: Path) -> Path:
    assert demo_run["proc"].returncode == 0, demo_run["proc"].stderr
    return copy_store(demo_run["db"], tmp_path / "store")


def test_label_studio_export_validates_with_label_studio_sdk(demo_run: dict[str, Any], tmp_path: Path) -> None:
    from label_studio_sdk.label_interface import LabelInterface

    db = _demo_store(demo_run, tmp_path)
    proc = run_cli("export", "--db", db, "--format", "label-studio", "--out", tmp_path / "ls")
    assert proc.returncode == 0, proc.stderr
    tasks = json.loads((tmp_path / "ls" / "label-studio-tasks.json").read_text(encoding="utf-8"))
    config = (tmp_path / "ls" / "label-studio-config.xml").read_text(encoding="utf-8")
    assert config == LABEL_CONFIG
    interface = LabelInterface(config)
    interface.validate()  # Label Studio's own schema, name and toName checks
    assert {c.name for c in interface.controls} == {"event_label", "does_not_belong"}

    events = read_jsonl(demo_run["out"] / "events.jsonl")
    assert [t["data"]["event_id"] for t in tasks] == [e["event_id"] for e in events]
    for task, event in zip(tasks, events):
        assert interface.validate_task({"data": task["data"]})  # (the SDK's own prediction pass is broken)
        for prediction in task["predictions"]:
            assert interface.validate_prediction(prediction, return_errors=True) == []
            assert prediction["score"] == cohesion(event)
        data = task["data"]
        assert [a["id"] for a in data["articles"]] == [a["id"] for a in event["articles"]]
        assert [c["value"] for c in data["article_choices"]] == [a["id"] for a in event["articles"]]
        for a in data["articles"]:
            assert a["title"] and a["outlet"] and a["language"] and a["url"].startswith("http")
            assert a["opening"], f"article {a['id']} has no opening text"
        assert data["languages"] == event["languages"] and data["outlets"] == event["outlets"]
    # What a labeller answers is checked against the same interface.
    bad = {"result": [{"from_name": "event_label", "to_name": "event", "type": "choices",
                       "value": {"choices": ["maybe"]}}]}
    assert interface.validate_prediction(bad, return_errors=True)
    for choice in EVENT_CHOICES:
        ok = {"result": [{"from_name": "event_label", "to_name": "event", "type": "choices",
                          "value": {"choices": [choice]}}]}
        assert interface.validate_prediction(ok, return_errors=True) == []
    # The big event: all six articles, from five outlets, in three languages, the wire first.
    big = next(t["data"] for t in tasks if "60,000" in t["data"]["title"])
    assert big["article_count"] == 6 and len(big["outlets"]) == 5
    assert big["first_published_by"] == ["pacificwire"]


def test_syndication_counts_wire_copies_once(demo_run: dict[str, Any]) -> None:
    events = read_jsonl(demo_run["out"] / "events.jsonl")
    big = next(e for e in events if "60,000" in e["title"])
    copies = [s for s in big["stories"] if len(s["article_ids"]) > 1]
    assert copies, "the demo's wire story is republished"
    # every story is one source, and a republished copy adds no source of its own
    assert big["independent_sources"] == len({_origin(big, s) for s in big["stories"]})
    assert big["independent_sources"] < len(big["outlets"])
    assert big["first_published_by"] == ["pacificwire"]
    for e in events:
        assert 1 <= e["independent_sources"] <= e["article_count"]


def _origin(event: dict[str, Any], story: dict[str, Any]) -> str:
    outlet = {a["id"]: a["outlet"] for a in event["articles"]}
    return str(outlet[story["article_ids"][0]])


def test_only_new_sends_each_event_once_then_changes(demo_run: dict[str, Any], tmp_path: Path) -> None:
    db = _demo_store(demo_run, tmp_path)
    out = tmp_path / "q"
    first = run_cli("export", "--db", db, "--format", "jsonl", "--only-new", "--out", out)
    assert first.returncode == 0, first.stderr
    sent = read_jsonl(out / "events-new.jsonl")
    assert len(sent) == len(read_jsonl(demo_run["out"] / "events.jsonl"))
    assert {e["status"] for e in sent} == {"new"}

    again = run_cli("export", "--db", db, "--format", "jsonl", "--only-new", "--out", out)
    assert again.returncode == 0 and read_jsonl(out / "events-new.jsonl") == []
    assert f"({len(sent)} exported before, left out)" in again.stdout
    # Each format keeps its own record: the demo wrote its Label Studio tasks in full (a full export counts
    # as sent), so none are new there either.
    ls = run_cli("export", "--db", db, "--format", "label-studio", "--only-new", "--out", out)
    assert json.loads((out / "label-studio-tasks-new.json").read_text(encoding="utf-8")) == []

    # A labeller splits an article off the big event: after regrouping, only the changed events are sent.
    big = next(e for e in sent if "60,000" in e["title"])
    moved = big["articles"][-1]["id"]
    export = tmp_path / "labels.json"
    export.write_text(json.dumps([_task(big["event_id"], [a["id"] for a in big["articles"]],
                                        _annotation("incident", [moved], "2026-11-01T10:00:00Z"))]), encoding="utf-8")
    assert run_cli("labels", "import", export, "--db", db).returncode == 0
    assert run_cli("group", "--db", db, "--out", tmp_path / "g").returncode == 0
    third = run_cli("export", "--db", db, "--format", "jsonl", "--only-new", "--out", out)
    assert third.returncode == 0 and ls.returncode == 0, third.stderr + ls.stderr
    changed = read_jsonl(out / "events-new.jsonl")
    assert {e["event_id"] for e in changed} >= {big["event_id"]}
    statuses = {e["event_id"]: e["status"] for e in changed}
    assert statuses[big["event_id"]] == "updated"
    assert any(moved in [a["id"] for a in e["articles"]] and e["status"] == "new" for e in changed)
    assert len(changed) <= 3
    tasks = run_cli("export", "--db", db, "--format", "label-studio", "--only-new", "--out", out)
    assert tasks.returncode == 0, tasks.stderr
    new_tasks = json.loads((out / "label-studio-tasks-new.json").read_text(encoding="utf-8"))
    assert sorted(t["data"]["event_id"] for t in new_tasks) == sorted(e["event_id"] for e in changed)


def test_feedback_is_honoured_by_later_runs(demo_run: dict[str, Any], tmp_path: Path) -> None:
    """A split article, a broken-up event and a confirmed event, through `labels import` and two regroupings."""
    db = _demo_store(demo_run, tmp_path)
    events = read_jsonl(demo_run["out"] / "events.jsonl")
    big = next(e for e in events if "60,000" in e["title"])
    multi = [e for e in events if e["story_count"] > 1 and e["event_id"] != big["event_id"]]
    assert multi, "the demo has a second multi-story event"
    broken = multi[0]
    split_off = next(a["id"] for a in big["articles"] if a["language"] == "zh-Hans")
    export = tmp_path / "labels.json"
    export.write_text(json.dumps([
        _task(big["event_id"], [a["id"] for a in big["articles"]],
              _annotation("incident", [split_off], "2026-11-01T10:00:00Z"), task_id=1),
        _task(broken["event_id"], [a["id"] for a in broken["articles"]],
              _annotation("not one event", [], "2026-11-01T10:05:00Z"), task_id=2),
    ]), encoding="utf-8")
    # the story ids the task showed decide how "not one event" breaks it up
    data = json.loads(export.read_text(encoding="utf-8"))
    data[1]["data"]["articles"] = [{"id": a["id"], "story_id": a["story_id"]} for a in broken["articles"]]
    export.write_text(json.dumps(data), encoding="utf-8")

    imported = run_cli("labels", "import", export, "--db", db)
    assert imported.returncode == 0, imported.stderr
    assert "2 labelled tasks" in imported.stdout and "1 events broken up" in imported.stdout
    for run in ("g1", "g2"):
        assert run_cli("group", "--db", db, "--out", tmp_path / run).returncode == 0
        after = read_jsonl(tmp_path / run / "events.jsonl")
        event_of = {a["id"]: e["event_id"] for e in after for a in e["articles"]}
        stays = [a["id"] for a in big["articles"] if a["id"] != split_off]
        assert len({event_of[a] for a in stays}) == 1, "the confirmed rest stays together"
        assert event_of[split_off] != event_of[stays[0]]
        assert event_of[stays[0]] == big["event_id"], "the confirmed event keeps its id"
        stories = {s["story_id"]: s["article_ids"] for s in broken["stories"]}
        assert len({event_of[ids[0]] for ids in stories.values()}) == len(stories)
        assert sorted(event_of) == sorted(a["id"] for e in events for a in e["articles"])
    again = run_cli("labels", "import", export, "--db", db)
    assert "(0 new or changed)" in again.stdout


def test_export_of_a_grouped_input_file_in_each_format(tmp_path: Path) -> None:
    """`group --input` then `export --events`: labellers get the same files without a crawl store."""
    articles = tmp_path / "articles.jsonl"
    articles.write_text("".join(json.dumps({"id": r.id, "text": r.text, "title": r.title, "outlet": r.outlet,
                                            "language": r.language, "published": r.published}) + "\n"
                                for r in _records()) + "{broken\n", encoding="utf-8")
    assert run_cli("group", "--input", articles, "--out", tmp_path / "g").returncode == 0
    events = read_jsonl(tmp_path / "g" / "events.jsonl")
    for fmt, name in (("jsonl", "events.jsonl"), ("label-studio", "label-studio-tasks.json"),
                      ("html", "report.html")):
        proc = run_cli("export", "--events", tmp_path / "g" / "events.jsonl", "--articles", articles,
                       "--format", fmt, "--out", tmp_path / "x")
        assert proc.returncode == 0, proc.stderr
        assert "articles.jsonl:6" in proc.stderr or fmt == "jsonl"  # the broken line is named, the rest used
        path = tmp_path / "x" / name
        assert path.stat().st_mode & 0o044 == 0o044, "outputs are readable by others (not mkstemp's 0600)"
    tasks = json.loads((tmp_path / "x" / "label-studio-tasks.json").read_text(encoding="utf-8"))
    assert [t["data"]["event_id"] for t in tasks] == [e["event_id"] for e in events]
    wire = next(t["data"] for t in tasks if any(a["id"] == "wire" for a in t["data"]["articles"]))
    assert wire["independent_sources"] == 1 and wire["first_published_by"] == ["wire"]
    assert all(a["opening"] for a in wire["articles"])
    refused = run_cli("export", "--events", tmp_path / "g" / "events.jsonl", "--format", "jsonl", "--only-new",
                      "--out", tmp_path / "x")
    assert refused.returncode == 1 and "--only-new" in refused.stderr


def test_the_later_decision_on_a_pair_wins(tmp_path: Path) -> None:
    from crawler.storage import Store

    def save(kind: str, a: str, b: str, day: int) -> int:
        return st.save_label_pairs([(kind, a, b, "ev-1", None, f"2026-01-0{day}T00:00:00Z", "export.json")])

    with Store(tmp_path / "s.sqlite3") as st:
        assert save("must", "b", "a", 1) == 1
        assert save("must", "a", "b", 3) == 0  # same decision, re-made later: nothing changes but its date
        assert save("cannot", "a", "b", 2) == 0  # older than the must re-made on day 3
        assert st.label_pairs() == ([("a", "b")], [])
        assert save("cannot", "a", "b", 4) == 1
        assert st.label_pairs() == ([], [("a", "b")])
