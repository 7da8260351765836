"""The near-duplicate LSH index in Redis (datasketch's Redis storage, dedupe.lshindex) against a real Redis server:
the same stories and events as the in-memory index, shared by several worker processes and by later runs."""
from __future__ import annotations

import json
import subprocess
import sys
import uuid
from dataclasses import replace
from typing import Any

import pytest
from conftest import REPO, edited_copy_with_dateline, edited_copy_with_sentence_dropped, truncated_copy

from crawler.redisconf import redis_params
from dedupe.config import GroupingConfig
from dedupe.grouping import GroupingResult, group
from dedupe.records import ArticleRecord

CONFIG = GroupingConfig()


def corpus(texts: dict[str, str]) -> list[ArticleRecord]:
    """The streetlight event's copies and reports, a look-alike and an unrelated story, plus copies of those:
    several stories, several events, English and Chinese."""
    records = []
    day = {"wire": 3, "copy_dateline": 3, "copy_edited": 4, "truncated": 4, "zh_hans": 3, "zh_hant": 4,
           "lookalike": 1, "unrelated": 2}
    for name, text in texts.items():
        lang = "zh-Hans" if name == "zh_hans" else "zh-Hant" if name == "zh_hant" else "en"
        records.append(ArticleRecord(id=f"a-{name}", text=text, title=text.split("\n")[0][:80], language=lang,
                                     published=f"2025-10-0{day[name]}", outlet=f"outlet-{name}"))
    records.append(ArticleRecord(id="a-unrelated-copy", text=edited_copy_with_dateline(texts["unrelated"]),
                                 language="en", published="2025-10-02", outlet="wire"))
    records.append(ArticleRecord(id="a-lookalike-copy", text=truncated_copy(texts["lookalike"], 0.8),
                                 language="en", published="2025-10-01", outlet="wire"))
    records.append(ArticleRecord(id="a-wire-again", text=edited_copy_with_sentence_dropped(texts["wire"]),
                                 language="en", published="2025-10-05", outlet="again"))
    return records


def shape(result: GroupingResult) -> list[Any]:
    """Everything a grouping decides: events, their stories, each article's link."""
    return sorted(
        (e.event_id, tuple(sorted((s.story_id, s.article_ids) for s in e.stories)),
         tuple(sorted((m.article.id, m.link.method, m.link.score, m.link.linked_to) for m in e.members)))
        for e in result.events
    )


def index(redis_url: str, namespace: str, config: GroupingConfig = CONFIG) -> Any:
    from dedupe.lshindex import RedisLSHIndex

    return RedisLSHIndex(redis_params(redis_url), namespace, config)


@pytest.fixture
def namespace() -> str:
    return f"newsdedupe:test-{uuid.uuid4().hex[:8]}"


def test_redis_index_gives_same_stories_and_events_as_in_memory(
    redis_server: str, namespace: str, streetlight_texts: dict[str, str]
) -> None:
    records = corpus(streetlight_texts)
    in_memory = group(records, CONFIG)
    shared = index(redis_server, namespace)
    in_redis = group(records, CONFIG, lsh_index=shared)
    assert shape(in_redis) == shape(in_memory)
    assert in_redis.near_duplicate_links == in_memory.near_duplicate_links > 0
    assert in_redis.lsh_inserted == len(records)
    # Real grouping happened: the wire story and its copies share a story; the unrelated story is elsewhere.
    story_of = {m.article.id: m.story_id for e in in_redis.events for m in e.members}
    assert story_of["a-wire"] == story_of["a-copy_dateline"] == story_of["a-copy_edited"]
    assert story_of["a-unrelated"] != story_of["a-wire"]


def test_batched_queries_match_datasketch_query(redis_server: str, namespace: str,
                                                streetlight_texts: dict[str, str]) -> None:
    import numpy as np

    from dedupe.shingles import shingle_sequence
    from dedupe.signatures import minhash_signatures

    records = corpus(streetlight_texts)
    sigs = minhash_signatures([np.unique(shingle_sequence(r.text, r.language, CONFIG)) for r in records], CONFIG)
    shared = index(redis_server, namespace)
    assert shared.add((r.id, m) for r, m in zip(records, sigs)) == len(records)
    batched = shared.query_many(sigs, batch=4)
    for m, found in zip(sigs, batched):
        assert found == {k.decode() for k in shared.lsh.query(m)}
    assert any(len(f) > 1 for f in batched)


WORKER = """
import json, sys
sys.path.insert(0, {tests!r})
from conftest import *  # noqa
from crawler.redisconf import redis_params
from dedupe.config import GroupingConfig
from dedupe.grouping import text_hash
from dedupe.lshindex import RedisLSHIndex
from dedupe.records import ArticleRecord
from dedupe.shingles import shingle_sequence
from dedupe.signatures import minhash_signatures
import numpy as np
rows = json.loads(sys.stdin.read())
records = [ArticleRecord(**r) for r in rows]
config = GroupingConfig()
sigs = minhash_signatures([np.unique(shingle_sequence(r.text, r.language, config)) for r in records], config)
idx = RedisLSHIndex(redis_params({url!r}), {namespace!r}, config, buffer_size=7)
print(idx.add((f"{{r.id}}|{{text_hash(r)}}", m) for r, m in zip(records, sigs)))
"""


def test_two_workers_fill_one_index_and_grouping_uses_it(
    redis_server: str, namespace: str, streetlight_texts: dict[str, str]
) -> None:
    """Two processes insert half the articles each, at the same time, into the index under one basename; a
    grouping then finds every signature there (inserts none) and decides as the in-memory index does."""
    records = corpus(streetlight_texts)
    halves = [records[0::2], records[1::2]]
    code = WORKER.format(tests=str(REPO / "tests"), url=redis_server, namespace=namespace)
    procs = [subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, cwd=REPO) for _ in halves]
    outs = [p.communicate(json.dumps([{"id": r.id, "text": r.text, "language": r.language} for r in h]),
                          timeout=120) for p, h in zip(procs, halves)]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
    assert sorted(int(out) for out, _ in outs) == sorted(len(h) for h in halves)
    shared = index(redis_server, namespace)
    result = group(records, CONFIG, lsh_index=shared)
    assert result.lsh_inserted == 0
    assert shape(result) == shape(group(records, CONFIG))


def test_later_run_inserts_only_new_articles_and_ignores_changed_texts(
    redis_server: str, namespace: str, streetlight_texts: dict[str, str]
) -> None:
    records = corpus(streetlight_texts)
    first = group(records[:-1], CONFIG, lsh_index=index(redis_server, namespace))
    assert first.lsh_inserted == len(records) - 1
    # Next night: one new article, and one article whose text changed (now the unrelated story's words).
    changed = replace(records[1], text=streetlight_texts["unrelated"] + "\nCorrection appended.")
    tonight = [records[0], changed, *records[2:]]
    later = group(tonight, CONFIG, lsh_index=index(redis_server, namespace))
    assert later.lsh_inserted == 2  # the new article and the changed one (under its new text's key)
    assert shape(later) == shape(group(tonight, CONFIG))
    story_of = {m.article.id: m.story_id for e in later.events for m in e.members}
    assert story_of[changed.id] != story_of["a-wire"]  # its old text's entry is no candidate any more


def test_other_parameters_use_another_index(redis_server: str, namespace: str) -> None:
    a = index(redis_server, namespace)
    b = index(redis_server, namespace, GroupingConfig(bands=32, rows=4))
    c = index(redis_server, namespace, GroupingConfig(num_perm=256, bands=42, rows=3))
    assert len({a.basename, b.basename, c.basename}) == 3
    assert all(x.basename.startswith(namespace + ":lsh:") for x in (a, b, c))
