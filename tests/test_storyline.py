"""Quality gate on our own multilingual story lines (tests/fixtures/storyline/): event-level B-cubed and
pairwise F1 of `newsdedupe eval grouping`, and `newsdedupe group --input` run as a user would, with no
language given. `hk-cameras` is the set grouping was developed on; `taipei-scooters` was written first and
held out of every change (docs/quality.md, "Story lines"). Floors in tests/quality_floors.json."""
from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from conftest import read_jsonl, run_cli
from dedupe.evaluate import evaluate_grouping_file

FIXTURES = Path(__file__).parent / "fixtures" / "storyline"
FLOORS = json.loads((Path(__file__).parent / "quality_floors.json").read_text(encoding="utf-8"))
SETS = [("hk-cameras", "events_storyline_hk_cameras"), ("taipei-scooters", "events_storyline_taipei_scooters")]


@pytest.mark.parametrize(("name", "key"), SETS)
def test_storyline_event_floor(name: str, key: str) -> None:
    report = evaluate_grouping_file(FIXTURES / f"{name}.jsonl", mistakes=True)
    events = report["events"]
    print(json.dumps({"events": events, "mistakes": report["mistakes"]}, ensure_ascii=False))
    assert report["problems"] == []
    floors = FLOORS[key]
    for figure in ("bcubed_f1", "bcubed_precision", "pairwise_f1"):
        assert events[figure] >= floors[figure], f"{name}: {figure} {events[figure]} fell below {floors[figure]}"
    assert events["lookalike_merges"] <= floors["max_lookalike_merges"], report["mistakes"]["merged"]


@pytest.mark.parametrize("name", [n for n, _ in SETS])
def test_storyline_fixture_is_what_its_texts_build(name: str, tmp_path: Path) -> None:
    """The JSONL is generated from the texts in build.py's modules; no line tells grouping its language."""
    lines = read_jsonl(FIXTURES / f"{name}.jsonl")
    assert lines and all("language" not in a for a in lines)
    assert all(a["published"] and a["gold"] and a["title"] and a["outlet"] for a in lines)
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]); import build, importlib; "
        "m = importlib.import_module(sys.argv[2]); build.HERE = __import__('pathlib').Path(sys.argv[3]); "
        "build.write(m.NAME, m.TOPIC, m.ARTICLES)"
    )
    subprocess.run([sys.executable, "-c", script, str(FIXTURES), name.replace("-", "_"), str(tmp_path)], check=True)
    assert (tmp_path / f"{name}.jsonl").read_text(encoding="utf-8") == (FIXTURES / f"{name}.jsonl").read_text(
        encoding="utf-8")


def test_group_input_on_the_story_line_as_a_user_runs_it(tmp_path: Path) -> None:
    """`group --input` detects every language, keeps the look-alike camera plans a year apart and the follow-up
    a week later out of the first plan's event, and gives the Chinese-only event its Chinese reports."""
    out = tmp_path / "out"
    proc = run_cli("group", "--input", FIXTURES / "hk-cameras.jsonl", "--out", out)
    assert proc.returncode == 0, proc.stderr
    events = read_jsonl(out / "events.jsonl")
    seen = Counter(a["id"] for e in events for a in e["articles"])
    assert set(seen.values()) == {1} and len(seen) == 48
    language = {a["id"]: a["language"] for e in events for a in e["articles"]}
    assert language["hk-e1-wire"] == "en" and language["hk-e1-mingri"] == "zh-Hant"
    assert language["hk-e1-gangao"] == "zh-Hans"
    event_of = {a["id"]: e["event_id"] for e in events for a in e["articles"]}
    first = {a for a in event_of if event_of[a] == event_of["hk-e1-wire"]}
    assert first == {f"hk-e1-{o}" for o in ("wire", "kowloon", "digest", "harbour", "mingri", "gangwen", "gangao")}
    (chinese_only,) = [e for e in events if e["event_id"] == event_of["hk-e10-mingri"]]
    assert chinese_only["languages"] == ["zh-Hans", "zh-Hant"] and chinese_only["article_count"] == 3
    (plan,) = [e for e in events if e["event_id"] == event_of["hk-e5-wire"]]
    assert (plan["first_published"], plan["last_published"]) == ("2025-11-25", "2025-11-26")
