"""Grouping quality figures: pairwise, B-cubed, ARI and look-alike merges on hand-made clusterings."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from dedupe.evaluate import cluster_scores, evaluate_grouping_file, lookalike_merges, read_labelled

GOLD = {"a": "X", "b": "X", "c": "Y", "d": "Y", "e": "Z"}
SCORE_KEYS = ["pairwise_precision", "pairwise_recall", "pairwise_f1", "bcubed_precision", "bcubed_recall",
              "bcubed_f1", "ari"]


def test_perfect_clustering_scores_one_everywhere() -> None:
    renamed = {"a": "1", "b": "1", "c": "2", "d": "2", "e": "3"}  # labels need not match, only the partition
    scores = cluster_scores(GOLD, renamed)
    assert all(scores[k] == 1.0 for k in SCORE_KEYS)
    assert (scores["items"], scores["gold_clusters"], scores["predicted_clusters"]) == (5, 3, 3)


def test_all_in_one_cluster() -> None:
    scores = cluster_scores(GOLD, {k: "all" for k in GOLD})
    # 2 true pairs among 10 predicted pairs.
    assert scores["pairwise_precision"] == 0.2
    assert scores["pairwise_recall"] == 1.0
    assert scores["pairwise_f1"] == pytest.approx(1 / 3, abs=1e-4)
    # B-cubed precision: (2/5 * 4 + 1/5) / 5.
    assert scores["bcubed_precision"] == 0.36
    assert scores["bcubed_recall"] == 1.0
    assert scores["ari"] == 0.0
    assert scores["predicted_clusters"] == 1


def test_all_singletons() -> None:
    scores = cluster_scores(GOLD, {k: k for k in GOLD})
    assert scores["pairwise_precision"] == 1.0
    assert scores["pairwise_recall"] == 0.0
    assert scores["pairwise_f1"] == 0.0
    assert scores["bcubed_precision"] == 1.0
    assert scores["bcubed_recall"] == 0.6  # (1/2 * 4 + 1) / 5
    assert scores["bcubed_f1"] == 0.75
    assert scores["ari"] == 0.0
    assert scores["predicted_clusters"] == 5


def test_crossed_clustering_is_worse_than_chance() -> None:
    scores = cluster_scores(GOLD, {"a": "1", "b": "2", "c": "1", "d": "2", "e": "3"})
    assert scores["pairwise_precision"] == 0.0 and scores["pairwise_recall"] == 0.0
    assert scores["ari"] < 0
    assert scores["bcubed_f1"] == 0.6


def test_lookalike_merges_count_wrong_pairs_within_a_topic() -> None:
    topic = {"a": "cctv", "b": "cctv", "c": "cctv", "d": "ferry", "e": "ferry"}
    predicted = {"a": "1", "b": "1", "c": "1", "d": "2", "e": "2"}
    # Wrong merges: (a,c) and (b,c) in topic cctv, (d,e) in topic ferry.
    assert lookalike_merges(GOLD, predicted, topic) == 3
    assert lookalike_merges(GOLD, GOLD, topic) == 0
    # A wrong merge across topics is not a look-alike merge.
    assert lookalike_merges(GOLD, {"a": "1", "b": "1", "c": "2", "d": "2", "e": "2"},
                            {"a": "t1", "b": "t1", "c": "t2", "d": "t2", "e": "t3"}) == 0
    # Without topics nothing counts.
    assert lookalike_merges(GOLD, {k: "all" for k in GOLD}, {}) == 0


def _labelled(tmp_path: Path, rows: list[dict[str, object]]) -> Path:
    path = tmp_path / "labelled.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    return path


def test_evaluate_grouping_file(tmp_path: Path, streetlight_texts: dict[str, str]) -> None:
    t = streetlight_texts
    path = _labelled(tmp_path, [
        {"id": "wire", "text": t["wire"], "language": "en", "published": "2025-10-07", "gold": "lights", "topic": "l"},
        {"id": "copy", "text": t["copy_dateline"], "language": "en", "published": "2025-10-07", "gold": "lights",
         "topic": "l"},
        {"doc_id": "zh", "text": t["zh_hans"], "published": "2025-10-07", "event_id": "lights", "topic": "l"},
        {"id": "pilot", "text": t["lookalike"], "language": "en", "published": "2025-05-12", "gold": "pilot",
         "topic": "l"},
        {"id": "museum", "text": t["unrelated"], "language": "en", "published": "2025-10-06", "gold": "museum"},
    ])

    report = evaluate_grouping_file(path)

    assert report["file"] == str(path)
    assert report["problems"] == []
    assert report["events"]["items"] == 5
    assert report["events"]["bcubed_f1"] == 1.0
    assert report["events"]["lookalike_merges"] == 0
    # Stories are near-duplicates only: the Chinese report is its own story.
    assert report["stories"]["pairwise_recall"] < 1.0
    assert report["stories"]["pairwise_precision"] == 1.0


def test_read_labelled_reports_unlabelled_lines(tmp_path: Path) -> None:
    path = tmp_path / "l.jsonl"
    path.write_text('{"id": "a", "text": "x", "gold": "1"}\nnot json\n{"id": "b", "text": "y"}\n', encoding="utf-8")
    records, gold, _topic, problems = read_labelled(path)
    assert [r.id for r in records] == ["a"]
    assert gold == {"a": "1"}
    assert [p.line for p in problems] == [2, 3]


def test_read_labelled_reports_duplicate_ids(tmp_path: Path) -> None:
    path = tmp_path / "dup.jsonl"
    path.write_text('{"id": "a", "text": "x", "gold": "1"}\n{"id": "a", "text": "y", "gold": "2"}\n', encoding="utf-8")
    records, gold, _topic, problems = read_labelled(path)
    assert [r.id for r in records] == ["a"]
    assert gold == {"a": "1"}
    assert [p.line for p in problems] == [2]


def test_grouping_mistakes_lists_splits_and_merges() -> None:
    from dedupe.evaluate import grouping_mistakes

    gold = {"a": "g1", "b": "g1", "c": "g2", "d": "g3"}
    predicted = {"a": "p1", "b": "p2", "c": "p2", "d": "p3"}
    assert grouping_mistakes(gold, predicted) == {
        "split": {"g1": {"p1": ["a"], "p2": ["b"]}},
        "merged": {"p2": {"g1": ["b"], "g2": ["c"]}},
    }
    assert grouping_mistakes(gold, gold) == {"split": {}, "merged": {}}
