"""Grouping quality: pairwise precision/recall/F1, B-cubed, adjusted Rand index, look-alike merges."""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from math import comb
from pathlib import Path
from typing import Any

from dedupe.config import GroupingConfig
from dedupe.grouping import group
from dedupe.records import ArticleRecord, InputProblem, record_from_dict


def _pairs_same(labels: Mapping[str, str], ids: Sequence[str]) -> int:
    return sum(comb(n, 2) for n in Counter(labels[i] for i in ids).values())


def cluster_scores(gold: Mapping[str, str], predicted: Mapping[str, str]) -> dict[str, float]:
    """Compare two clusterings of the same items (item id -> cluster label)."""
    ids = sorted(gold)
    n = len(ids)
    joint = Counter((gold[i], predicted[i]) for i in ids)
    tp = sum(comb(c, 2) for c in joint.values())
    gold_pairs = _pairs_same(gold, ids)
    pred_pairs = _pairs_same(predicted, ids)
    precision = tp / pred_pairs if pred_pairs else 1.0
    recall = tp / gold_pairs if gold_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    gold_size = Counter(gold[i] for i in ids)
    pred_size = Counter(predicted[i] for i in ids)
    b_p = sum(joint[(gold[i], predicted[i])] / pred_size[predicted[i]] for i in ids) / n if n else 1.0
    b_r = sum(joint[(gold[i], predicted[i])] / gold_size[gold[i]] for i in ids) / n if n else 1.0
    b_f = 2 * b_p * b_r / (b_p + b_r) if b_p + b_r else 0.0
    total = comb(n, 2)
    expected = gold_pairs * pred_pairs / total if total else 0.0
    max_index = (gold_pairs + pred_pairs) / 2
    ari = (tp - expected) / (max_index - expected) if max_index != expected else 1.0
    return {
        "pairwise_precision": round(precision, 4), "pairwise_recall": round(recall, 4), "pairwise_f1": round(f1, 4),
        "bcubed_precision": round(b_p, 4), "bcubed_recall": round(b_r, 4), "bcubed_f1": round(b_f, 4),
        "ari": round(ari, 4), "items": n, "gold_clusters": len(gold_size), "predicted_clusters": len(pred_size),
    }


def lookalike_merges(gold: Mapping[str, str], predicted: Mapping[str, str], topic: Mapping[str, str]) -> int:
    """Wrongly merged pairs whose two articles share a topic (hard negatives: same kind, other happening)."""
    by_pred: dict[str, list[str]] = {}
    for i, p in predicted.items():
        by_pred.setdefault(p, []).append(i)
    wrong = 0
    for members in by_pred.values():
        for x in range(len(members)):
            for y in range(x + 1, len(members)):
                a, b = members[x], members[y]
                if gold[a] != gold[b] and topic.get(a) is not None and topic.get(a) == topic.get(b):
                    wrong += 1
    return wrong


def read_labelled(path: str | Path) -> tuple[list[ArticleRecord], dict[str, str], dict[str, str], list[InputProblem]]:
    """Labelled articles: `gold` (or `event_id`) is the true event; `doc_id` accepted for `id`."""
    records: list[ArticleRecord] = []
    gold: dict[str, str] = {}
    topic: dict[str, str] = {}
    problems: list[InputProblem] = []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                obj: dict[str, Any] = json.loads(line)
            except json.JSONDecodeError as exc:
                problems.append(InputProblem(str(path), lineno, f"not valid JSON ({exc.msg})"))
                continue
            if "id" not in obj and "doc_id" in obj:
                obj["id"] = obj["doc_id"]
            label = obj.get("gold", obj.get("event_id"))
            if obj.get("id") is None or not obj.get("text") or label is None:
                problems.append(InputProblem(str(path), lineno, "needs id, text and gold"))
                continue
            r = record_from_dict(obj)
            if r.id in gold:
                problems.append(InputProblem(str(path), lineno, f"duplicate id {r.id!r}; the first one is kept"))
                continue
            records.append(r)
            gold[r.id] = str(label)
            if obj.get("topic") is not None:
                topic[r.id] = str(obj["topic"])
    return records, gold, topic, problems


def grouping_mistakes(gold: Mapping[str, str], predicted: Mapping[str, str]) -> dict[str, Any]:
    """What went wrong, for reading: each true event split over several predicted events (its articles per
    predicted event), and each predicted event holding several true ones (its articles per true event)."""
    def by(outer: Mapping[str, str], inner: Mapping[str, str]) -> dict[str, dict[str, list[str]]]:
        out: dict[str, dict[str, list[str]]] = {}
        for aid in sorted(outer):
            out.setdefault(outer[aid], {}).setdefault(inner[aid], []).append(aid)
        return out

    return {
        "split": {g: parts for g, parts in by(gold, predicted).items() if len(parts) > 1},
        "merged": {p: parts for p, parts in by(predicted, gold).items() if len(parts) > 1},
    }


def evaluate_grouping(records: Sequence[ArticleRecord], gold: Mapping[str, str], topic: Mapping[str, str],
                      config: GroupingConfig | None = None, mistakes: bool = False) -> dict[str, Any]:
    result = group(records, config)
    events = {m.article.id: e.event_id for e in result.events for m in e.members}
    stories = {m.article.id: m.story_id for e in result.events for m in e.members}
    report: dict[str, Any] = {"events": cluster_scores(gold, events), "stories": cluster_scores(gold, stories)}
    if topic:
        report["events"]["lookalike_merges"] = lookalike_merges(gold, events, topic)
    if mistakes:
        report["mistakes"] = grouping_mistakes(gold, events)
    return report


def evaluate_grouping_file(path: str | Path, config: GroupingConfig | None = None, mistakes: bool = False
                           ) -> dict[str, Any]:
    records, gold, topic, problems = read_labelled(path)
    report = evaluate_grouping(records, gold, topic, config, mistakes)
    report["file"] = str(path)
    report["problems"] = [str(p) for p in problems]
    return report


def evaluate_neardup(
    docs_path: str | Path, truth_path: str | Path, language: str, limit: int | None = None,
    config: GroupingConfig | None = None,
) -> dict[str, Any]:
    """Story-level scores on the near-duplicate benchmark (`*.jsonl.gz` + `*.truth.json`).

    Recall per variant type (a planted variant must land in its source's story), pair precision over all
    pairs put in one story (against the truth clusters), and follow-up stories merged with their source.
    """
    import gzip
    import time
    from collections import defaultdict

    records: list[ArticleRecord] = []
    opener = gzip.open if str(docs_path).endswith(".gz") else open
    with opener(docs_path, "rt", encoding="utf-8") as fh:
        for n, line in enumerate(fh):
            if limit is not None and n >= limit:
                break
            obj = json.loads(line)
            records.append(ArticleRecord(id=str(obj["id"]), text=obj["text"], language=language))
    truth = json.loads(Path(truth_path).read_text(encoding="utf-8"))
    loaded = {r.id for r in records}
    t0 = time.perf_counter()
    result = group(records, config)
    seconds = time.perf_counter() - t0
    story = {m.article.id: m.story_id for e in result.events for m in e.members}
    cluster_of: dict[str, int] = {}
    for k, members in enumerate(truth["clusters"]):
        for x in members:
            cluster_of[str(x)] = k
    by_story: dict[str, list[str]] = defaultdict(list)
    for aid, sid in story.items():
        by_story[sid].append(aid)
    tp = fp = 0
    for members in by_story.values():
        for x in range(len(members)):
            for y in range(x + 1, len(members)):
                a, b = members[x], members[y]
                if a in cluster_of and cluster_of.get(a) == cluster_of.get(b):
                    tp += 1
                else:
                    fp += 1
    per_type: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for variant, source in truth["variant_src"].items():
        if variant in loaded and str(source) in loaded:
            kind = truth["variant_type"][variant]
            per_type[kind][1] += 1
            per_type[kind][0] += int(story[variant] == story[str(source)])
    followups = [(k, str(v)) for k, v in truth["followup_src"].items() if k in loaded and str(v) in loaded]
    merged = sum(1 for a, b in followups if story[a] == story[b])
    return {
        "documents": len(records),
        "seconds": round(seconds, 1),
        "pair_precision": round(tp / (tp + fp), 4) if tp + fp else 1.0,
        "false_pairs": fp,
        "recall": {k: round(a / n, 4) for k, (a, n) in sorted(per_type.items())},
        "followups_merged": merged,
        "followups": len(followups),
        "followups_merged_share": round(merged / len(followups), 4) if followups else 0.0,
    }


def evaluate_pairs(path: str | Path, config: GroupingConfig | None = None) -> dict[str, Any]:
    """Pearson correlation of our same-event score with `-Overall` on labelled article pairs (SemEval-2022
    Task 8 format: text1, text2, lang1, lang2, Overall from 1 = same story to 4 = unrelated), overall, per
    language pair, for original vs machine-translated pairs, and for the pairs at even and at odd positions of
    the file (what is tuned on these pairs is tuned on the even half and reported on the odd one too); ROC-AUC
    for Overall <= 1.5 vs >= 2.5."""
    import numpy as np

    from dedupe.events import pair_similarities

    rows = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    items = [(r["text1"] or "", _tag(r["lang1"]), r["text2"] or "", _tag(r["lang2"])) for r in rows]
    scores = pair_similarities(items, config or GroupingConfig())

    def stats(idx: list[int]) -> dict[str, Any]:
        s = np.array([scores[i][0] for i in idx])
        y = -np.array([float(rows[i]["Overall"]) for i in idx])
        pearson = float(np.corrcoef(s, y)[0, 1]) if len(idx) > 2 and s.std() > 0 and y.std() > 0 else float("nan")
        pos = [scores[i][0] for i in idx if float(rows[i]["Overall"]) <= 1.5]
        neg = [scores[i][0] for i in idx if float(rows[i]["Overall"]) >= 2.5]
        auc = (
            sum((a > b) + 0.5 * (a == b) for a in pos for b in neg) / (len(pos) * len(neg)) if pos and neg else float("nan")
        )
        return {"pairs": len(idx), "pearson": round(pearson, 4), "roc_auc": round(float(auc), 4)}

    by_lang: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        by_lang.setdefault("-".join(sorted((r["lang1"], r["lang2"]))), []).append(i)
    return {
        "file": str(path),
        "all": stats(list(range(len(rows)))),
        "original": stats([i for i, r in enumerate(rows) if not r.get("mt_augmented")]),
        "machine_translated": stats([i for i, r in enumerate(rows) if r.get("mt_augmented")]),
        "even_half": stats(list(range(0, len(rows), 2))),
        "odd_half": stats(list(range(1, len(rows), 2))),
        "by_language_pair": {k: stats(v) for k, v in sorted(by_lang.items())},
    }


def _tag(lang: str | None) -> str | None:
    # The set writes Chinese as "zh" (machine-translated, Simplified).
    return "zh-Hans" if lang == "zh" else lang
