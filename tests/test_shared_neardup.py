"""Near-duplicate recall on real-world data (../shared/data/neardup), with follow-up stories kept apart.

Uses the first 3,000 English documents of the benchmark; skipped when the shared data folder is absent.
"""
from __future__ import annotations

import gzip
import itertools
import json
from pathlib import Path

import pytest

from conftest import SHARED_DATA
from dedupe.config import GroupingConfig
from dedupe.grouping import group
from dedupe.records import ArticleRecord

NEARDUP = SHARED_DATA / "neardup"
N_DOCS = 3000
MIN_RECALL = 0.95


def _load(folder: Path) -> tuple[list[ArticleRecord], dict[str, object]]:
    docs: list[ArticleRecord] = []
    with gzip.open(folder / "en.jsonl.gz", "rt", encoding="utf-8") as fh:
        for line in itertools.islice(fh, N_DOCS):
            obj = json.loads(line)
            docs.append(ArticleRecord(id=str(obj["id"]), text=obj["text"], language="en"))
    truth = json.loads((folder / "en.truth.json").read_text(encoding="utf-8"))
    return docs, truth


def test_shared_neardup_english_recall_and_followups() -> None:
    if not (NEARDUP / "en.jsonl.gz").is_file() or not (NEARDUP / "en.truth.json").is_file():
        pytest.skip(f"shared near-duplicate data not found at {NEARDUP} (see ../shared/data/README.md)")
    docs, truth = _load(NEARDUP)
    loaded = {d.id for d in docs}
    assert len(loaded) == N_DOCS

    # Stories do not depend on the event parameters; few event terms keep event linking over 3,000 undated
    # documents cheap (with the default max_terms it takes over a minute).
    result = group(docs, GroupingConfig(max_terms=10))

    story = {m.article.id: m.story_id for e in result.events for m in e.members}
    assert set(story) == loaded
    true_pairs = [
        (a, b)
        for cluster in truth["clusters"]
        for a, b in itertools.combinations(sorted({str(x) for x in cluster} & loaded), 2)
    ]
    found = sum(story[a] == story[b] for a, b in true_pairs)
    followups = [(str(f), str(s)) for f, s in truth["followup_src"].items() if str(f) in loaded and str(s) in loaded]
    merged_followups = [(f, s) for f, s in followups if story[f] == story[s]]
    recall = found / len(true_pairs)
    print(f"\nneardup en: {N_DOCS} docs, {len(true_pairs)} true pairs, recall {recall:.4f} "
          f"({found}/{len(true_pairs)}); follow-up pairs {len(followups)}, merged {len(merged_followups)}; "
          f"{len({s for s in story.values()})} stories")

    assert len(true_pairs) >= 50, "too few planted pairs among the loaded documents to measure recall"
    assert recall >= MIN_RECALL
    assert followups, "no follow-up pair among the loaded documents"
    assert merged_followups == []
