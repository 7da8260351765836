"""`newsdedupe demo`: the whole nightly job on the bundled sample site, checked against the contracts."""
from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from conftest import SAMPLE_SITE, query, read_jsonl

EXPECTED = json.loads((SAMPLE_SITE / "expected.json").read_text(encoding="utf-8"))["articles"]
LINK_METHODS = {"near-duplicate", "same-language", "cross-lingual", "seed"}
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@pytest.fixture(scope="module")
def demo(demo_run: dict[str, Any]) -> dict[str, Any]:
    proc = demo_run["proc"]
    assert proc.returncode == 0, proc.stderr
    return demo_run


@pytest.fixture(scope="module")
def events(demo: dict[str, Any]) -> list[dict[str, Any]]:
    return read_jsonl(demo["out"] / "events.jsonl")


@pytest.fixture(scope="module")
def path_of(events: list[dict[str, Any]]) -> dict[str, str]:
    """Article id -> the sample site path its URL ends with."""
    out: dict[str, str] = {}
    for e in events:
        for a in e["articles"]:
            matches = [x["path"] for x in EXPECTED if a["url"].endswith("/" + x["path"])]
            assert len(matches) <= 1
            if matches:
                out[a["id"]] = matches[0]
    return out


@pytest.fixture(scope="module")
def event_of_path(events: list[dict[str, Any]], path_of: dict[str, str]) -> dict[str, str]:
    return {path_of[a["id"]]: e["event_id"] for e in events for a in e["articles"] if a["id"] in path_of}


def paths_of_event(label: str) -> list[str]:
    return [x["path"] for x in EXPECTED if x["event"] == label]


def test_demo_exits_0_and_prints_summary(demo: dict[str, Any], events: list[dict[str, Any]]) -> None:
    out = demo["proc"].stdout
    assert "demo: serving 5 sample outlets" in out
    assert f"demo: {len(events)} candidate events" in out
    assert "robots.txt-disallowed pages fetched: 0" in out
    for outlet in ("pacificwire", "harbourherald", "bayviewpost", "xinbao", "gangwan"):
        assert any(line.startswith(outlet + " ") for line in out.splitlines())


def _check_types(obj: dict[str, Any], spec: dict[str, Any], where: str) -> None:
    for key, types in spec.items():
        assert key in obj, f"{where}: missing {key!r}"
        assert isinstance(obj[key], types), f"{where}: {key!r} is {type(obj[key]).__name__}"


EVENT_FIELDS = {
    "event_id": str, "status": str, "title": str, "titles": dict, "first_published": (str, type(None)),
    "last_published": (str, type(None)), "languages": list, "outlets": list, "article_count": int,
    "story_count": int, "topics": list, "stories": list, "articles": list,
}
ARTICLE_FIELDS = {
    "id": str, "url": (str, type(None)), "title": (str, type(None)), "outlet": (str, type(None)),
    "language": (str, type(None)), "published": (str, type(None)), "story_id": str, "link": dict,
}


def test_events_follow_the_contract(events: list[dict[str, Any]]) -> None:
    assert events
    for e in events:
        where = e.get("event_id", "?")
        _check_types(e, EVENT_FIELDS, where)
        assert e["event_id"].startswith("ev-")
        assert e["status"] == "new"  # a fresh store
        assert e["title"]
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in e["titles"].items())
        assert set(e["titles"]) <= set(e["languages"])
        for key in ("first_published", "last_published"):
            assert e[key] is None or DATE.match(e[key])
        if e["first_published"] and e["last_published"]:
            assert e["first_published"] <= e["last_published"]
        assert e["article_count"] == len(e["articles"])
        assert e["story_count"] == len(e["stories"])
        assert e["languages"] == sorted({a["language"] for a in e["articles"] if a["language"]})
        assert e["outlets"] == sorted({a["outlet"] for a in e["articles"] if a["outlet"]})
        dates = sorted(a["published"] for a in e["articles"] if a["published"])
        assert (e["first_published"], e["last_published"]) == ((dates[0], dates[-1]) if dates else (None, None))
        for s in e["stories"]:
            _check_types(s, {"story_id": str, "article_ids": list}, where)
            assert s["story_id"].startswith("st-") and s["article_ids"]
        for a in e["articles"]:
            _check_types(a, ARTICLE_FIELDS, f"{where}/{a.get('id')}")
            assert a["published"] is None or DATE.match(a["published"])
            _check_types(a["link"], {"method": str, "score": (int, float), "evidence": list}, f"{where}/{a['id']}")
            assert a["link"]["method"] in LINK_METHODS
            assert 0.0 <= a["link"]["score"] <= 1.0
            assert all(isinstance(x, str) for x in a["link"]["evidence"])
        assert [a["link"]["method"] for a in e["articles"]].count("seed") == 1


def test_every_article_in_exactly_one_event_and_one_story(events: list[dict[str, Any]]) -> None:
    in_events = Counter(a["id"] for e in events for a in e["articles"])
    assert set(in_events.values()) == {1}
    for e in events:
        story_ids = [s["story_id"] for s in e["stories"]]
        assert len(set(story_ids)) == len(story_ids)
        in_stories = Counter(aid for s in e["stories"] for aid in s["article_ids"])
        assert set(in_stories.values()) == {1}
        assert set(in_stories) == {a["id"] for a in e["articles"]}
        story_of = {aid: s["story_id"] for s in e["stories"] for aid in s["article_ids"]}
        assert all(a["story_id"] == story_of[a["id"]] for a in e["articles"])
    all_story_ids = [s["story_id"] for e in events for s in e["stories"]]
    assert len(set(all_story_ids)) == len(all_story_ids)
    assert len({e["event_id"] for e in events}) == len(events)


def test_events_newest_first(events: list[dict[str, Any]]) -> None:
    keys = [e["last_published"] for e in events]
    dated = [k for k in keys if k is not None]
    assert dated == sorted(dated, reverse=True)
    assert keys[: len(dated)] == dated  # undated events last


def test_events_span_outlets_and_languages(events: list[dict[str, Any]]) -> None:
    assert any(len(e["outlets"]) >= 2 for e in events)
    assert any(len(e["languages"]) >= 2 for e in events)


def test_every_sample_article_stored_once_with_its_outlet_and_language(
    events: list[dict[str, Any]], path_of: dict[str, str]
) -> None:
    assert sorted(path_of.values()) == sorted(x["path"] for x in EXPECTED)
    by_path = {x["path"]: x for x in EXPECTED}
    for e in events:
        for a in e["articles"]:
            x = by_path[path_of[a["id"]]]
            assert a["outlet"] == x["outlet"], x["path"]
            assert a["language"] == x["language"], x["path"]
            assert a["published"] == x["published"], x["path"]
            assert a["title"] == x["title"], x["path"]


def test_event_a_is_one_event(event_of_path: dict[str, str]) -> None:
    assert len({event_of_path[p] for p in paths_of_event("A")}) == 1


def test_event_b_is_apart_from_event_a(event_of_path: dict[str, str], events: list[dict[str, Any]],
                                       path_of: dict[str, str]) -> None:
    b_events = {event_of_path[p] for p in paths_of_event("B")}
    assert len(b_events) == 1
    (b_event,) = b_events
    assert b_event != event_of_path[paths_of_event("A")[0]]
    (b,) = [e for e in events if e["event_id"] == b_event]
    assert {path_of[a["id"]] for a in b["articles"]} == set(paths_of_event("B"))


def test_event_c_articles_together(event_of_path: dict[str, str], events: list[dict[str, Any]],
                                   path_of: dict[str, str]) -> None:
    c_paths = paths_of_event("C")
    assert len(c_paths) == 2
    (c_event,) = {event_of_path[p] for p in c_paths}
    (c,) = [e for e in events if e["event_id"] == c_event]
    assert {path_of[a["id"]] for a in c["articles"]} == set(c_paths)
    # The wire copy is a near-duplicate of the original: one story.
    assert c["story_count"] == 1


@pytest.mark.parametrize("label", ["D", "E", "other"])
def test_single_articles_are_events_of_one(label: str, event_of_path: dict[str, str],
                                           events: list[dict[str, Any]]) -> None:
    sizes = {e["event_id"]: e["article_count"] for e in events}
    for path in paths_of_event(label):
        assert sizes[event_of_path[path]] == 1, path


def test_cross_lingual_evidence_in_event_a(events: list[dict[str, Any]], event_of_path: dict[str, str],
                                           path_of: dict[str, str]) -> None:
    (a_event,) = {event_of_path[p] for p in paths_of_event("A")}
    (ev,) = [e for e in events if e["event_id"] == a_event]
    chinese = [a for a in ev["articles"] if a["language"] in ("zh-Hans", "zh-Hant")]
    assert len(chinese) == 2
    cross = [a for a in chinese if a["link"]["method"] == "cross-lingual"]
    assert cross
    for a in cross:
        assert "60000" in a["link"]["evidence"]


def test_articles_jsonl_has_one_line_per_stored_article(demo: dict[str, Any], events: list[dict[str, Any]]) -> None:
    rows = read_jsonl(demo["out"] / "articles.jsonl")
    (count,) = query(demo["db"], "SELECT COUNT(*) AS n FROM articles")
    assert len(rows) == count["n"] == len(EXPECTED)
    assert len({r["id"] for r in rows}) == len(rows)
    assert {r["id"] for r in rows} == {a["id"] for e in events for a in e["articles"]}
    for r in rows:
        for key in ("id", "text", "url", "canonical_url", "title", "language", "published", "outlet", "authors",
                    "fetched", "discovered_via", "language_source", "extraction_status", "topics"):
            assert key in r, key
        assert r["text"] and r["extraction_status"] == "ok"


def test_robots_disallowed_page_not_stored(demo: dict[str, Any]) -> None:
    rows = read_jsonl(demo["out"] / "articles.jsonl")
    assert not any("/private/" in (r["url"] or "") or "/private/" in r["canonical_url"] for r in rows)
    assert query(demo["db"], "SELECT id FROM articles WHERE url LIKE '%/private/%'") == []
    for page in ("gangwan/index.html", "gangwan/about.html"):
        assert not any(r["url"].endswith(page) for r in rows)


def test_run_report_written(demo: dict[str, Any]) -> None:
    reports = list((Path(demo["out"]) / "runs").glob("*.json"))
    assert len(reports) == 1
    report = json.loads(reports[0].read_text(encoding="utf-8"))
    assert sum(c.get("stored", 0) for c in report["outlets"].values()) == len(EXPECTED)
    assert report["robots_forbidden"] >= 1
