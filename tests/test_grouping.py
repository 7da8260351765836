"""dedupe.grouping.group: stories (near-duplicates), events (same happening, across languages), stable ids."""
from __future__ import annotations

from collections import Counter

import pytest

from dedupe.config import GroupingConfig
from dedupe.grouping import GroupingResult, group
from dedupe.records import ArticleRecord

EVENT = {"wire", "copy_dateline", "copy_edited", "truncated", "zh_hans", "zh_hant"}
STORY = {"wire", "copy_dateline", "copy_edited", "truncated"}


@pytest.fixture
def records(streetlight_texts: dict[str, str]) -> list[ArticleRecord]:
    t = streetlight_texts
    title = "Harbour City to replace 45,000 streetlights with smart LEDs by 2027"
    return [
        ArticleRecord("wire", t["wire"], title, "https://wire.example/1", "en", "2025-10-07T09:00:00+08:00", "coastalwire"),
        ArticleRecord("copy_dateline", t["copy_dateline"], title, "https://herald.example/2", "en",
                      "2025-10-07T11:00:00+08:00", "herald"),
        ArticleRecord("copy_edited", t["copy_edited"], "City to swap 45,000 streetlights for smart LEDs",
                      "https://post.example/3", "en", "2025-10-07T12:00:00+08:00", "post"),
        ArticleRecord("truncated", t["truncated"], "Smart streetlights for Harbour City", "https://daily.example/4",
                      "en", "2025-10-07T13:00:00+08:00", "daily"),
        ArticleRecord("unrelated", t["unrelated"], "Tai O stilt house reopens as fishing museum",
                      "https://herald.example/5", "en", "2025-10-06T10:00:00+08:00", "herald"),
        # No language given: detected from the text.
        ArticleRecord("zh_hans", t["zh_hans"], "海港市2027年前更换4.5万盏智能街灯", "https://xin.example/6", None,
                      "2025-10-07T15:00:00+08:00", "xinbao"),
        ArticleRecord("zh_hant", t["zh_hant"], "四萬五千盞街燈2027年前換LED 涉資8.5億", "https://gw.example/7", None,
                      "2025-10-08T10:00:00+08:00", "gangwan"),
        ArticleRecord("lookalike", t["lookalike"], "Harbour City to pilot 3,200 smart streetlights",
                      "https://wire.example/0", "en", "2025-05-12T10:00:00+08:00", "coastalwire"),
    ]


@pytest.fixture
def result(records: list[ArticleRecord]) -> GroupingResult:
    return group(records)


def event_of(result: GroupingResult) -> dict[str, str]:
    return {m.article.id: e.event_id for e in result.events for m in e.members}


def story_of(result: GroupingResult) -> dict[str, str]:
    return {m.article.id: m.story_id for e in result.events for m in e.members}


def members_of(result: GroupingResult) -> dict[str, object]:
    return {m.article.id: m for e in result.events for m in e.members}


def layout(result: GroupingResult) -> list[tuple[str, str, list[tuple[str, tuple[str, ...]]]]]:
    """Everything id-related about a result, for comparisons."""
    return [(e.event_id, e.status, [(s.story_id, s.article_ids) for s in e.stories]) for e in result.events]


def test_every_article_in_exactly_one_event_and_one_story(records: list[ArticleRecord], result: GroupingResult) -> None:
    in_events = Counter(m.article.id for e in result.events for m in e.members)
    in_stories = Counter(a for e in result.events for s in e.stories for a in s.article_ids)
    ids = {r.id for r in records}
    assert set(in_events) == ids and set(in_events.values()) == {1}
    assert set(in_stories) == ids and set(in_stories.values()) == {1}
    for e in result.events:
        assert {m.article.id for m in e.members} == {a for s in e.stories for a in s.article_ids}


def test_wire_story_and_edited_copies_form_one_story(result: GroupingResult) -> None:
    stories = story_of(result)
    assert len({stories[i] for i in STORY}) == 1
    members = members_of(result)
    for copy in ("copy_dateline", "copy_edited"):
        assert members[copy].link.method == "near-duplicate"
        assert 0.5 <= members[copy].link.score <= 1.0


def test_truncated_copy_joins_its_original(result: GroupingResult) -> None:
    stories = story_of(result)
    assert stories["truncated"] == stories["wire"]
    assert members_of(result)["truncated"].link.method == "near-duplicate"


def test_unrelated_story_stays_apart(result: GroupingResult) -> None:
    events = event_of(result)
    assert events["unrelated"] not in {events[i] for i in EVENT | {"lookalike"}}
    (alone,) = [e for e in result.events if e.event_id == events["unrelated"]]
    assert [m.article.id for m in alone.members] == ["unrelated"]


def test_chinese_reports_join_the_english_event_cross_lingually(result: GroupingResult) -> None:
    events, stories, members = event_of(result), story_of(result), members_of(result)
    assert len({events[i] for i in EVENT}) == 1
    # Different stories (not near-duplicates of the English text), one event.
    assert stories["zh_hans"] != stories["wire"] and stories["zh_hant"] != stories["wire"]
    assert result.languages["zh_hans"][0] == "zh-Hans"
    assert result.languages["zh_hant"][0] == "zh-Hant"
    assert members["zh_hans"].language == "zh-Hans" and members["zh_hant"].language == "zh-Hant"
    cross = [members[i] for i in ("zh_hans", "zh_hant") if members[i].link.method == "cross-lingual"]
    assert cross, "at least one Chinese report must be linked cross-lingually"
    for m in cross:
        # 45,000 / 4.5万 / 四萬五千 and HK$850 million / 8.5亿 / 8.5億 are the shared evidence.
        assert {"45000", "850000000"} <= set(m.link.evidence)
        # The link's score is on the clustering's common scale: at least the event threshold.
        assert GroupingConfig().event_cosine <= m.link.score <= 1.0
    for i in ("zh_hans", "zh_hant"):
        assert members[i].link.method in ("cross-lingual", "same-language")


def test_lookalike_event_stays_separate(result: GroupingResult) -> None:
    events = event_of(result)
    assert events["lookalike"] not in {events[i] for i in EVENT}
    (alone,) = [e for e in result.events if e.event_id == events["lookalike"]]
    assert [m.article.id for m in alone.members] == ["lookalike"]


def test_event_seed_and_links(result: GroupingResult) -> None:
    (big,) = [e for e in result.events if len(e.members) == len(EVENT)]
    methods = Counter(m.link.method for m in big.members)
    assert methods["seed"] == 1
    assert big.members[0].article.id == "wire"  # the earliest article is the seed
    assert big.members[0].link.method == "seed"
    ids = {m.article.id for m in big.members}
    for m in big.members[1:]:
        assert m.link.linked_to in ids and m.link.linked_to != m.article.id
    assert len(big.stories) == 3


def test_counts(result: GroupingResult) -> None:
    assert result.near_duplicate_links >= 3
    assert result.event_links >= 2
    assert len(result.events) == 3


def test_same_input_gives_same_ids(records: list[ArticleRecord], result: GroupingResult) -> None:
    assert layout(group(records)) == layout(result)
    # Input order does not matter either.
    assert layout(group(list(reversed(records)))) == layout(result)


def test_first_run_events_are_new(result: GroupingResult) -> None:
    assert {e.status for e in result.events} == {"new"}
    assert all(e.event_id.startswith("ev-") for e in result.events)
    assert all(s.story_id.startswith("st-") for e in result.events for s in e.stories)


def previous_of(result: GroupingResult) -> dict[str, tuple[str, str]]:
    return {m.article.id: (m.story_id, e.event_id) for e in result.events for m in e.members}


def test_ids_stable_with_previous(records: list[ArticleRecord], result: GroupingResult) -> None:
    again = group(records, previous=previous_of(result))
    assert [(e, s) for e, _st, s in layout(again)] == [(e, s) for e, _st, s in layout(result)]
    assert {e.status for e in again.events} == {"unchanged"}


def test_new_article_updates_its_event_without_renumbering(
    records: list[ArticleRecord], result: GroupingResult, streetlight_texts: dict[str, str]
) -> None:
    late_copy = ArticleRecord(
        "late_copy", streetlight_texts["copy_dateline"].replace("Coastal Wire", "Island Wire"), "Streetlights",
        "https://island.example/9", "en", "2025-10-08T09:00:00+08:00", "islandwire",
    )
    fresh = ArticleRecord(
        "fresh", "A typhoon signal number 8 was raised on Thursday evening, closing schools and suspending ferry "
        "services across the harbour for the rest of the day, the observatory said in a statement.",
        "Typhoon signal 8 raised", None, "en", "2025-10-09T18:00:00+08:00", "herald",
    )
    old_event, old_story = event_of(result), story_of(result)

    later = group(records + [late_copy, fresh], previous=previous_of(result))

    events, stories = event_of(later), story_of(later)
    for aid in old_event:
        assert events[aid] == old_event[aid]
        assert stories[aid] == old_story[aid]
    assert events["late_copy"] == events["wire"] and stories["late_copy"] == stories["wire"]
    status = {e.event_id: e.status for e in later.events}
    assert status[events["wire"]] == "updated"
    assert status[events["unrelated"]] == "unchanged"
    assert status[events["lookalike"]] == "unchanged"
    assert status[events["fresh"]] == "new"
    assert events["fresh"] not in set(old_event.values())
    assert len(later.events) == len(result.events) + 1


def test_removed_article_keeps_the_event_id(records: list[ArticleRecord], result: GroupingResult) -> None:
    old_event = event_of(result)
    later = group([r for r in records if r.id != "copy_edited"], previous=previous_of(result))
    events = event_of(later)
    assert events["wire"] == old_event["wire"]
    assert {e.event_id: e.status for e in later.events}[events["wire"]] == "updated"
    assert "copy_edited" not in events


def test_signatures_are_reused(records: list[ArticleRecord], result: GroupingResult) -> None:
    assert set(result.new_signatures) == {r.id for r in records}

    again = group(records, previous=previous_of(result), signatures=result.new_signatures)

    assert again.new_signatures == {}
    assert layout(again) == [(e, "unchanged", s) for e, _st, s in layout(result)]


def test_changed_text_gets_a_new_signature(records: list[ArticleRecord], result: GroupingResult) -> None:
    changed = [
        ArticleRecord(r.id, r.text + "\nThe museum opens at 10am.", r.title, r.url, r.language, r.published, r.outlet)
        if r.id == "unrelated" else r
        for r in records
    ]
    again = group(changed, previous=previous_of(result), signatures=result.new_signatures)
    assert set(again.new_signatures) == {"unrelated"}
    assert layout(again) == [(e, "unchanged", s) for e, _st, s in layout(result)]


def test_signatures_of_another_config_are_not_reused(records: list[ArticleRecord], result: GroupingResult) -> None:
    again = group(records, GroupingConfig(word_ngram=4), signatures=result.new_signatures)
    assert set(again.new_signatures) == {r.id for r in records}


def test_empty_input() -> None:
    empty = group([])
    assert empty.events == [] and empty.new_signatures == {}


def test_lone_and_empty_text_articles_are_events_of_one() -> None:
    recs = [
        ArticleRecord("only-title", "", "Ferry fares rise", language="en", published="2025-10-02"),
        ArticleRecord("tiny", "Short.", None, language="en"),
    ]
    res = group(recs)
    assert sorted(len(e.members) for e in res.events) == [1, 1]
    assert {m.link.method for e in res.events for m in e.members} == {"seed"}


@pytest.mark.parametrize(
    ("kwargs", "names"),
    [
        ({"num_perm": 8}, ["num_perm", "64"]),
        ({"bands": 50, "rows": 3}, ["bands", "rows", "num_perm"]),
        ({"bands": 0}, ["bands"]),
        ({"story_jaccard": 1.5}, ["story_jaccard", "(0, 1]"]),
        ({"story_jaccard": 0.0}, ["story_jaccard"]),
        ({"event_cosine": -0.1}, ["event_cosine"]),
        ({"neutral_threshold": 2}, ["neutral_threshold"]),
        ({"word_ngram": 0}, ["word_ngram"]),
        ({"event_window_days": -1}, ["event_window_days", "10"]),
    ],
)
def test_config_rejects_bad_values_helpfully(kwargs: dict[str, float], names: list[str]) -> None:
    with pytest.raises(ValueError) as info:
        GroupingConfig(**kwargs)
    message = str(info.value)
    for name in names:
        assert name in message
    assert "use" in message or "e.g." in message


@pytest.mark.parametrize("value", [0, -1])
def test_config_rejects_non_positive_max_terms(value: int) -> None:
    with pytest.raises(ValueError, match="max_terms"):
        GroupingConfig(max_terms=value)


def test_config_defaults_are_valid_and_frozen() -> None:
    config = GroupingConfig()
    with pytest.raises(AttributeError):
        config.num_perm = 64  # type: ignore[misc]
    assert config.signature_fingerprint() == GroupingConfig().signature_fingerprint()
    assert config.signature_fingerprint() != GroupingConfig(word_ngram=4).signature_fingerprint()
    # Parameters a signature does not depend on do not invalidate stored signatures.
    assert config.signature_fingerprint() == GroupingConfig(event_cosine=0.5).signature_fingerprint()


def test_worker_processes_give_the_same_result(
    records: list[ArticleRecord], result: GroupingResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Large inputs shingle, sign and profile in worker processes: same events, links and signatures."""
    from dedupe import grouping

    monkeypatch.setattr(grouping, "PARALLEL_MIN_ARTICLES", 1)
    monkeypatch.setattr(grouping, "_CHUNK", 2)  # several chunks, so order across workers matters
    monkeypatch.setenv("NEWSDEDUPE_GROUP_WORKERS", "2")
    assert grouping._worker_count(len(records)) == 2
    parallel = group(records)
    assert parallel.events == result.events
    assert parallel.new_signatures == result.new_signatures
    # Reused signatures (rebuilt from bytes) give the same result as computed ones.
    again = group(records, signatures=result.new_signatures)
    assert again.events == result.events and again.new_signatures == {}


def test_nightly_selection_takes_new_articles_their_window_and_whole_events() -> None:
    from datetime import date

    from dedupe.grouping import nightly_selection

    days = {"old1": date(2024, 1, 1), "old2": date(2025, 9, 20), "recent": date(2025, 9, 25),
            "late_member": date(2024, 1, 3), "new": date(2025, 10, 1), "labelled": date(2023, 5, 5)}
    previous = {"old1": ("st-1", "ev-1"), "old2": ("st-2", "ev-2"), "recent": ("st-3", "ev-3"),
                "late_member": ("st-4", "ev-3"), "labelled": ("st-5", "ev-5")}
    # window: 10 days before 2025-10-01 -> recent (2025-09-25); its event ev-3 also holds late_member (2024)
    assert nightly_selection(days, previous, 10) == {"new", "recent", "late_member"}
    assert nightly_selection(days, previous, 11) == {"new", "recent", "late_member", "old2"}
    assert nightly_selection(days, previous, 10, touched={"labelled", "unknown"}) == \
        {"new", "recent", "late_member", "labelled"}
    assert nightly_selection(days, {**previous, "new": ("st-6", "ev-6")}, 10) == set()


def test_a_chinese_story_between_english_ones_and_an_empty_last_story() -> None:
    """Found by hypothesis: the compact profiles' per-story counts broke when the last stories of a block have
    no terms (an empty text) and the bridge (Chinese and English both present) is built."""
    records = [ArticleRecord(id="a0", text="harbour harbour harbour harbour harbour harbour harbour"),
               ArticleRecord(id="a1", text="香港"), ArticleRecord(id="a2", text="")]
    result = group(records)
    assert sorted(m.article.id for e in result.events for m in e.members) == ["a0", "a1", "a2"]
