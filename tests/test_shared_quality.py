"""Quality gate on the real-world labelled sets in ../shared/data: figures may only go up.

The floors live in tests/quality_floors.json (measured values rounded down); docs/quality.md has the
commands and the full figures.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from dedupe.evaluate import evaluate_grouping_file, evaluate_neardup

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
FLOORS = json.loads((Path(__file__).parent / "quality_floors.json").read_text(encoding="utf-8"))


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"real-world data not found at {path} (../shared/data is absent)")
    return path


def test_shared_events_ecbplus_floor() -> None:
    report = evaluate_grouping_file(_need(DATA / "events" / "ecbplus-dev" / "docs.jsonl"))
    floors = FLOORS["events_ecbplus_dev"]
    events = report["events"]
    print(json.dumps(events))
    assert report["problems"] == []
    for key, floor in floors.items():
        assert events[key] >= floor, f"ECB+ events {key} {events[key]} fell below its floor {floor}"


@pytest.mark.parametrize(
    ("lang", "tag", "limit", "key"),
    [("zh", "zh-Hans", None, "neardup_zh_all"), ("en", "en", 5000, "neardup_en_first_5000")],
)
def test_shared_neardup_floor(lang: str, tag: str, limit: int | None, key: str) -> None:
    base = _need(DATA / "neardup")
    report = evaluate_neardup(base / f"{lang}.jsonl.gz", base / f"{lang}.truth.json", tag, limit)
    floors = FLOORS[key]
    print(json.dumps(report))
    assert report["pair_precision"] >= floors["pair_precision"]
    worst = min(report["recall"].values())
    assert worst >= floors["min_variant_recall"], f"variant recall {report['recall']} below {floors['min_variant_recall']}"
    assert len(report["recall"]) == 6, "every planted variant type must be measured"
    assert report["followups_merged_share"] <= floors["max_followups_merged_share"]


def test_shared_pairs_semeval_floor() -> None:
    from dedupe.evaluate import evaluate_pairs

    report = evaluate_pairs(_need(DATA / "pairs" / "semeval2022-dev" / "pairs.jsonl"))
    floors = FLOORS["pairs_semeval2022_dev"]
    print(json.dumps({"all": report["all"], "en-zh": report["by_language_pair"]["en-zh"]}))
    assert report["all"]["pairs"] == 1458
    assert report["all"]["pearson"] >= floors["pearson_all"]
    assert report["by_language_pair"]["en-zh"]["pearson"] >= floors["pearson_zh_en"]


def test_shared_encoder_use_floors() -> None:
    """Encoder mode (`--encoder use`) on SemEval dev pairs and ECB+ dev: the pair scores it was chosen for, and
    look-alike events kept apart (a heavier USE weight scores pairs better and merges look-alikes)."""
    import os

    from dedupe.config import GroupingConfig
    from dedupe.encoder import EncoderUnavailable, check
    from dedupe.evaluate import evaluate_pairs

    pairs_file = _need(DATA / "pairs" / "semeval2022-dev" / "pairs.jsonl")
    ecb_file = _need(DATA / "events" / "ecbplus-dev" / "docs.jsonl")
    try:
        check("use")
    except EncoderUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI must have the encoder extra (scripts/test.sh installs it): {exc}")
        pytest.skip(f"encoder not installed: {exc}")
    floors = FLOORS["encoder_use"]
    config = GroupingConfig(encoder="use")
    report = evaluate_pairs(pairs_file, config)
    print(json.dumps({"all": report["all"], "en-zh": report["by_language_pair"]["en-zh"]}))
    assert report["all"]["pairs"] == 1458
    assert report["all"]["pearson"] >= floors["pairs_pearson_all"]
    assert report["by_language_pair"]["en-zh"]["pearson"] >= floors["pairs_pearson_zh_en"]
    events = evaluate_grouping_file(ecb_file, config)["events"]
    print(json.dumps(events))
    assert events["bcubed_f1"] >= floors["ecbplus_bcubed_f1"]
    assert events["bcubed_precision"] >= floors["ecbplus_bcubed_precision"]
