"""The offline Chinese-English dictionary bridge (CC-CEDICT from a PyPI package, jieba segmentation)."""
from __future__ import annotations

from conftest import WIRE_STORY, ZH_HANS_STORY, ZH_HANT_STORY

from dedupe.bridge import english_terms
from dedupe.config import GroupingConfig
from dedupe.events import pair_similarities

UNRELATED_ZH = "东湾市图书馆新馆周六开馆，藏书超过两百万册，设有儿童阅读区和自习室，市民可免费办理借书证。馆方表示周末开放时间延长至晚上九时。"


def test_english_terms_translate_word_by_word() -> None:
    got = english_terms("香港将在边境口岸安装人工智能闭路电视摄像头")
    for word in ("hong", "kong", "border", "install", "artificial", "intelligence", "television"):
        assert word in got, (word, got.most_common(20))
    assert "的" not in got and all(w.isascii() for w in got)


def test_traditional_is_folded_before_lookup() -> None:
    assert set(english_terms("閉路電視")) == set(english_terms("闭路电视")) != set()


def test_same_story_scores_higher_across_languages_than_another_story() -> None:
    config = GroupingConfig()
    scores = pair_similarities(
        [(WIRE_STORY, "en", ZH_HANS_STORY, "zh-Hans"), (WIRE_STORY, "en", ZH_HANT_STORY, "zh-Hant"),
         (WIRE_STORY, "en", UNRELATED_ZH, "zh-Hans")],
        config,
    )
    (same_hans, m1), (same_hant, m2), (other, m3) = scores
    assert m1 == m2 == m3 == "cross-lingual"
    assert same_hans > other and same_hant > other
    assert other < config.bridge_threshold <= min(same_hans, same_hant)
