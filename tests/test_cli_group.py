"""`newsdedupe group`, `extract` and `eval grouping` through the command line."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from conftest import FIXTURE_SITE, copy_store, read_jsonl, run_cli


def _articles_file(tmp_path: Path, texts: dict[str, str]) -> tuple[Path, set[str]]:
    good = [
        {"id": "wire", "text": texts["wire"], "title": "Harbour City to replace 45,000 streetlights", "language": "en",
         "published": "2025-10-07T09:00:00+08:00", "outlet": "coastalwire", "url": "https://wire.example/1",
         "unknown_field": {"kept": True}},
        {"id": "copy", "text": texts["copy_dateline"], "title": "Harbour City to replace 45,000 streetlights",
         "language": "en", "published": "2025-10-07", "outlet": "herald"},
        {"id": "zh", "text": texts["zh_hant"], "published": "2025-10-08", "outlet": "gangwan"},
        {"id": "museum", "text": texts["unrelated"], "published": "2025-10-06", "outlet": "herald"},
    ]
    lines = [
        json.dumps(good[0], ensure_ascii=False),
        '{"id": "broken", "text": "unterminated',                      # line 2: invalid JSON
        json.dumps(good[1], ensure_ascii=False),
        json.dumps({"id": "no-text", "title": "A title only"}),        # line 4: missing text
        "",
        json.dumps(good[2], ensure_ascii=False),
        json.dumps({"text": "An article without an id."}),             # line 7: missing id
        json.dumps(good[3], ensure_ascii=False),
        json.dumps({"id": "copy", "text": "A second article with an id already used."}),  # line 9: duplicate
    ]
    path = tmp_path / "articles.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, {g["id"] for g in good}


def test_group_input_reports_bad_lines_and_groups_the_rest(tmp_path: Path, streetlight_texts: dict[str, str]) -> None:
    path, good_ids = _articles_file(tmp_path, streetlight_texts)
    out = tmp_path / "out"

    proc = run_cli("group", "--input", path, "--out", out)

    assert proc.returncode == 0, proc.stderr
    problem_lines = [ln for ln in proc.stderr.splitlines() if str(path) in ln]
    assert sorted(int(ln.split(f"{path}:", 1)[1].split(":", 1)[0]) for ln in problem_lines) == [2, 4, 7, 9]
    assert "Traceback" not in proc.stderr
    events = read_jsonl(out / "events.jsonl")
    seen = Counter(a["id"] for e in events for a in e["articles"])
    assert set(seen) == good_ids
    assert set(seen.values()) == {1}
    event_of = {a["id"]: e["event_id"] for e in events for a in e["articles"]}
    assert event_of["wire"] == event_of["copy"] == event_of["zh"]
    assert event_of["museum"] != event_of["wire"]
    assert "4 articles" in proc.stdout
    (big,) = [e for e in events if e["article_count"] == 3]
    assert big["languages"] == ["en", "zh-Hant"]  # the language of "zh" was detected
    assert big["outlets"] == ["coastalwire", "gangwan", "herald"]


def test_group_input_since_filters_by_published(tmp_path: Path, streetlight_texts: dict[str, str]) -> None:
    path, _good = _articles_file(tmp_path, streetlight_texts)
    out = tmp_path / "out"

    proc = run_cli("group", "--input", path, "--out", out, "--since", "2025-10-07")

    assert proc.returncode == 0, proc.stderr
    ids = {a["id"] for e in read_jsonl(out / "events.jsonl") for a in e["articles"]}
    assert ids == {"wire", "copy", "zh"}


def test_group_input_with_bad_since_fails_cleanly(tmp_path: Path, streetlight_texts: dict[str, str]) -> None:
    path, _good = _articles_file(tmp_path, streetlight_texts)
    proc = run_cli("group", "--input", path, "--out", tmp_path / "out", "--since", "garbage")
    assert proc.returncode == 1
    assert "garbage" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "out" / "events.jsonl").exists()


def test_group_input_missing_file_fails_cleanly(tmp_path: Path) -> None:
    missing = tmp_path / "missing.jsonl"
    proc = run_cli("group", "--input", missing, "--out", tmp_path / "out")
    assert proc.returncode == 1
    assert str(missing) in proc.stderr
    assert "Traceback" not in proc.stderr


def test_regroup_of_crawled_store_keeps_ids(demo_run: dict[str, Any], tmp_path: Path) -> None:
    assert demo_run["proc"].returncode == 0, demo_run["proc"].stderr
    before = read_jsonl(demo_run["out"] / "events.jsonl")
    db = copy_store(demo_run["db"], tmp_path / "store")

    first = run_cli("group", "--db", db, "--out", tmp_path / "g1")
    second = run_cli("group", "--db", db, "--out", tmp_path / "g2")

    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    for out in ("g1", "g2"):
        after = read_jsonl(tmp_path / out / "events.jsonl")
        assert [e["event_id"] for e in after] == [e["event_id"] for e in before]
        assert [[s["story_id"] for s in e["stories"]] for e in after] == \
               [[s["story_id"] for s in e["stories"]] for e in before]
        assert {e["status"] for e in after} == {"unchanged"}
        assert [sorted(a["id"] for a in e["articles"]) for e in after] == \
               [sorted(a["id"] for a in e["articles"]) for e in before]
    assert "unchanged" in second.stdout


def test_export_articles_and_events_from_store(demo_run: dict[str, Any], tmp_path: Path) -> None:
    db = copy_store(demo_run["db"], tmp_path / "store")

    arts = run_cli("export", "--db", db, "--format", "articles", "--out", tmp_path / "exp")
    evs = run_cli("export", "--db", db, "--format", "jsonl", "--out", tmp_path / "exp")

    assert arts.returncode == 0 and evs.returncode == 0, arts.stderr + evs.stderr
    assert read_jsonl(tmp_path / "exp" / "events.jsonl") == read_jsonl(demo_run["out"] / "events.jsonl")
    exported = read_jsonl(tmp_path / "exp" / "articles.jsonl")
    assert sorted(r["id"] for r in exported) == sorted(r["id"] for r in read_jsonl(demo_run["out"] / "articles.jsonl"))


@pytest.mark.parametrize(
    ("rel", "language", "title", "fragment"),
    [
        ("zh/big5/2025/10/03/story.html", "zh-Hant", "西貢漁民合作社推出海上導賞團 盼年輕人認識漁業文化",
         "由經驗豐富的漁民帶領市民乘坐漁船出海"),
        ("zh/gbk/2025/10/02/market.html", "zh-Hans", "深水埗荣昌街街市翻新工程下月动工 摊贩忧生意受影响",
         "约六十个摊位需要分批迁往附近的休憩处临时营业"),
        ("en/2025/10/03/cameras.html", "en",
         "Community Board Backs Plan to Double Street Cameras on Mui Wo Waterfront",
         "would add fourteen cameras between the ferry pier and the cycle park"),
    ],
)
def test_extract_prints_json(rel: str, language: str, title: str, fragment: str) -> None:
    url = f"https://kowloon.example/{rel}"
    proc = run_cli("extract", FIXTURE_SITE / rel, "--url", url)

    assert proc.returncode == 0, proc.stderr
    record = json.loads(proc.stdout)
    assert record["status"] == "ok"
    assert record["url"] == url
    assert record["title"] == title
    assert record["language"] == language
    assert fragment in record["text"]
    assert "Sign up for the Ledger Morning Briefing" not in record["text"]
    assert "九龙邮报有限公司" not in record["text"] and "九龍郵報有限公司" not in record["text"]


def test_extract_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.html"
    proc = run_cli("extract", missing, "--url", "https://x.example/a")
    assert proc.returncode == 1
    assert str(missing) in proc.stderr
    assert proc.stdout.strip() == ""


def test_eval_grouping_prints_scores(tmp_path: Path, streetlight_texts: dict[str, str]) -> None:
    t = streetlight_texts
    rows = [
        {"id": "wire", "text": t["wire"], "language": "en", "published": "2025-10-07", "gold": "lights"},
        {"id": "copy", "text": t["copy_edited"], "language": "en", "published": "2025-10-07", "gold": "lights"},
        {"id": "zh", "text": t["zh_hans"], "published": "2025-10-07", "gold": "lights"},
        {"id": "pilot", "text": t["lookalike"], "language": "en", "published": "2025-05-12", "gold": "pilot"},
        {"id": "museum", "text": t["unrelated"], "language": "en", "published": "2025-10-06", "gold": "museum"},
    ]
    path = tmp_path / "labelled.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\nnot json\n", encoding="utf-8")

    proc = run_cli("eval", "grouping", path)

    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["events"]["bcubed_f1"] == 1.0
    assert report["events"]["items"] == 5
    assert 0.0 < report["stories"]["bcubed_f1"] < 1.0
    assert len(report["problems"]) == 1 and report["problems"][0].startswith(f"{path}:6: ")


# --- the nightly step: incremental grouping of a store ---------------------------------------------------------
def _add(db: Path, aid: str, text: str, published: str, outlet: str) -> None:
    from crawler.storage import open_store

    url = f"https://{outlet}.example/{aid}"
    with open_store(db) as store:
        store.add_article({
            "id": aid, "url": url, "canonical_url": url, "outlet": outlet, "title": text.split(". ")[0][:90],
            "text": text, "language": "en", "language_source": "test", "published": published,
            "published_source": "test", "authors": [], "fetched": published, "discovered_via": "test",
            "extraction_status": "ok", "encoding": "utf-8", "topics": [], "meta": {},
        })


def _membership(events: list[dict[str, Any]]) -> dict[str, list[str]]:
    return {e["event_id"]: sorted(a["id"] for a in e["articles"]) for e in events}


def test_nightly_group_regroups_only_the_window_and_keeps_older_events(
    tmp_path: Path, streetlight_texts: dict[str, str]
) -> None:
    db = tmp_path / "store.db"
    _add(db, "museum", streetlight_texts["unrelated"], "2024-03-01T09:00:00+00:00", "herald")
    _add(db, "wire", streetlight_texts["wire"], "2025-10-07T09:00:00+08:00", "coastalwire")
    first = run_cli("group", "--db", db, "--out", tmp_path / "n1")
    assert first.returncode == 0, first.stderr
    assert "incremental" not in first.stdout  # the first grouping of a store is whole
    night1 = {e["event_id"]: e for e in read_jsonl(tmp_path / "n1" / "events.jsonl")}
    museum_event = next(k for k, e in night1.items() if e["articles"][0]["id"] == "museum")
    wire_event = next(k for k, e in night1.items() if e["articles"][0]["id"] == "wire")

    # The next night brings a copy of the wire story and a look-alike report.
    _add(db, "copy", streetlight_texts["copy_dateline"], "2025-10-07T15:00:00+08:00", "herald")
    _add(db, "lookalike", streetlight_texts["lookalike"], "2025-10-08T09:00:00+08:00", "gangwan")
    second = run_cli("group", "--db", db, "--out", tmp_path / "n2")
    assert second.returncode == 0, second.stderr
    # museum (2024) is outside the 30-day window before the new articles: not regrouped, but still written
    assert "incremental (nightly step): regrouped 3 of 4 stored articles" in second.stdout
    night2 = read_jsonl(tmp_path / "n2" / "events.jsonl")
    status = {e["event_id"]: e["status"] for e in night2}
    members = _membership(night2)
    assert members[museum_event] == ["museum"] and status[museum_event] == "unchanged"
    assert members[wire_event] == ["copy", "wire"] and status[wire_event] == "updated"
    (look_event,) = [k for k, m in members.items() if m == ["lookalike"]]
    assert status[look_event] == "new"
    assert [e["event_id"] for e in night2][-1] == museum_event  # newest first, as a whole grouping orders them
    assert "4 articles -> 3 stories -> 3 events (1 new, 1 unchanged, 1 updated)" in second.stdout

    # A whole regrouping of the store gives the same events with the same ids.
    full = run_cli("group", "--db", db, "--out", tmp_path / "full", "--full")
    assert full.returncode == 0 and "incremental" not in full.stdout
    assert _membership(read_jsonl(tmp_path / "full" / "events.jsonl")) == members

    # Nothing new: nothing regrouped, every event unchanged.
    again = run_cli("group", "--db", db, "--out", tmp_path / "n3")
    assert "regrouped 0 of 4" in again.stdout
    assert {e["status"] for e in read_jsonl(tmp_path / "n3" / "events.jsonl")} == {"unchanged"}

    # A copy of the 2024 article, published tonight: far outside the window, it still joins its story (the
    # window brings in the October articles, the signature comparison the 2024 one).
    _add(db, "museum_copy", "MUSEUM DESK —\n\n" + streetlight_texts["unrelated"], "2025-10-09T09:00:00+00:00", "gangwan")
    late = run_cli("group", "--db", db, "--out", tmp_path / "late")
    assert late.returncode == 0 and "regrouped 5 of 5" in late.stdout, late.stdout + late.stderr
    late_events = read_jsonl(tmp_path / "late" / "events.jsonl")
    assert _membership(late_events)[museum_event] == ["museum", "museum_copy"]
    (museum_after,) = [e for e in late_events if e["event_id"] == museum_event]
    assert museum_after["status"] == "updated" and len(museum_after["stories"]) == 1
    members[museum_event] = ["museum", "museum_copy"]

    # A grouping of part of the store (--since) is no base for an incremental one: the next is whole again.
    part = run_cli("group", "--db", db, "--out", tmp_path / "part", "--since", "2025-01-01")
    assert part.returncode == 0 and "incremental" not in part.stdout
    after = run_cli("group", "--db", db, "--out", tmp_path / "n4")
    assert after.returncode == 0 and "incremental" not in after.stdout
    assert _membership(read_jsonl(tmp_path / "n4" / "events.jsonl")) == members
