"""Topics: the matcher (case, width, Traditional/Simplified, word boundaries, prefixes, exclusions), pre-fetch
scores, per-language queries, the topics file's validation messages and `newsdedupe topics validate`."""
from __future__ import annotations

from pathlib import Path

import pytest
from conftest import REPO, read_jsonl, run_cli
from hypothesis import given, settings
from hypothesis import strategies as st

from crawler.topics import (
    Topic,
    TopicsFileError,
    UnknownTopic,
    find_topic,
    load_topics,
    normalize,
    term_in,
    url_words,
)
from dedupe.chinese import to_simplified, to_traditional

HK = Topic(
    id="hk", name="HK cameras",
    all=(("Hong Kong", "香港"), ("CCTV", "surveillance camera*", "人臉識別", "监控")),
    none=("China Central Television",),
    queries={"en": ("Hong Kong CCTV",), "zh-Hant": ("香港 閉路電視",)},
)


def matches(title: str | None, text: str | None = None, topic: Topic = HK) -> bool:
    return topic.match_article(title, text).matched


# --- the matcher ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text", [
    "Hong Kong police add CCTV to estates",
    "HONG KONG police add cctv to estates",
    "hong kong: new Cctv.",
    "Ｈｏｎｇ Ｋｏｎｇ ＣＣＴＶ",  # full-width forms
    "Hong\nKong estates get CCTV",  # a line break inside a term
    "Hong Kong buys surveillance cameras",  # camera* takes the plural
    "Hong Kong buys surveillance-camera kits",  # a hyphen for the space
    "香港警方增設監控鏡頭",  # Traditional text, Simplified term 监控
    "香港引入人脸识别",  # Simplified text, Traditional term 人臉識別
    "香港CCTV系統",  # a Latin term touching Han characters
])
def test_matches(text: str) -> None:
    assert matches(None, text)


@pytest.mark.parametrize("text", [
    "Hong Kong start-up Procctvia raises funds",  # cctv inside a word
    "Hong Kong tests CCTVs",  # CCTV is whole-word only (no *): another word
    "Hong Kong installs a surveillance camcorder",  # camera* does not match camcorder
    "Singapore adds CCTV at bus stops",  # cameras in another city
    "Hong Kong ferry fares rise",  # Hong Kong without cameras
    "Hongkong CCTV",  # not the term "Hong Kong"
    "深圳地铁启用人脸识别闸机",  # another city
    "China Central Television shows Hong Kong CCTV footage",  # an exclusion
])
def test_does_not_match(text: str) -> None:
    assert not matches(None, text)


def test_match_reports_terms_and_where() -> None:
    m = HK.match_article("Hong Kong police plan", "More CCTV in estates, and surveillance cameras in parks.")
    assert m.matched
    assert m.found == {"title": ("Hong Kong",), "text": ("CCTV", "surveillance camera*")}
    assert m.to_dict() == {"terms": {"title": ["Hong Kong"], "text": ["CCTV", "surveillance camera*"]},
                           "excluded_by": []}
    miss = HK.match_article("Hong Kong ferry fares", "Fares rise in June.")
    assert not miss.matched and miss.missing_groups == (1,)
    excluded = HK.match_article("China Central Television in Hong Kong", "CCTV aired a gala.")
    assert not excluded.matched and excluded.excluded_by == ("China Central Television",)


def test_exclusion_matches_across_scripts_and_case() -> None:
    topic = Topic(id="t", name="t", all=(("香港",),), none=("央視",))
    assert matches("香港新聞", None, topic)
    assert not matches("香港新闻", "据央视报道", topic)
    assert not matches("香港新聞", "據央視報道", topic)


def test_prefix_term_needs_a_word_start() -> None:
    topic = Topic(id="t", name="t", all=(("biometric*",),))
    assert matches("Biometrics law passed", None, topic)
    assert not matches("Antibiometric campaign", None, topic)


def test_japanese_terms_match_as_substrings() -> None:
    topic = Topic(id="t", name="t", all=(("顔認証",), ("香港",)))
    assert matches("香港空港で顔認証ゲートを導入", None, topic)


_words = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=8)


@settings(max_examples=60, deadline=None)
@given(_words, _words)
def test_property_a_latin_term_never_matches_inside_a_longer_word(before: str, after: str) -> None:
    assert not term_in("cctv", normalize(f"{before}cctv{after}"))
    assert not term_in("cctv", normalize(f"{before}cctv"))
    assert term_in("cctv", normalize(f"{before} cctv, {after}"))


_han = st.text(alphabet="香港警方增設監控鏡頭閉路電視人臉識別深圳地鐵新聞報導區議會", min_size=0, max_size=30)


@settings(max_examples=60, deadline=None)
@given(_han)
def test_property_matching_ignores_the_chinese_script(text: str) -> None:
    assert matches(None, to_traditional(text)) == matches(None, to_simplified(text))


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=60))
def test_property_matching_ignores_case(text: str) -> None:
    assert matches(None, text.upper()) == matches(None, text.lower()) or text.upper().lower() != text.lower()


# --- before fetching --------------------------------------------------------------------------------------------
def test_prefetch_score_counts_groups_and_vetoes_exclusions() -> None:
    assert HK.prefetch_score("Hong Kong adds CCTV", (), "https://x.example/a") == 2
    assert HK.prefetch_score(None, ("CCTV",), "https://x.example/2025/hong-kong-estates") == 2
    assert HK.prefetch_score("Councillors press officials", (), "https://x.example/a") == 0
    assert HK.prefetch_score("China Central Television gala", (), "https://x.example/a") is None
    assert HK.prefetch_score(None, (), "https://x.example/%E9%A6%99%E6%B8%AF-cctv") == 2


def test_url_words() -> None:
    assert url_words("https://x.example/news/2025/03/hong-kong_cctv-plan.html?id=3") == "news 2025 03 hong kong cctv plan html"


def test_queries_for_outlet_languages() -> None:
    assert HK.queries_for(["en"]) == [("en", "Hong Kong CCTV")]
    assert HK.queries_for(["zh-Hant", "en"]) == [("zh-Hant", "香港 閉路電視"), ("en", "Hong Kong CCTV")]
    # No Simplified query: the Traditional one converted.
    assert HK.queries_for(["zh-Hans"]) == [("zh-Hans", "香港 闭路电视")]
    assert HK.queries_for(["fr"]) == []
    assert HK.queries_for([]) == [("en", "Hong Kong CCTV"), ("zh-Hant", "香港 閉路電視")]


# --- the topics file ----------------------------------------------------------------------------------------------
GOOD = """
[[topic]]
id = "good"
name = "A good topic"
all = [["Hong Kong", "香港"], ["CCTV"]]
none = ["China Central Television"]
queries = {en = "Hong Kong CCTV", zh-Hant = ["香港 閉路電視", "香港 監控"]}
search_pages = 3
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "topics.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_default_topics_file_is_valid() -> None:
    topics, problems = load_topics(REPO / "topics.toml")
    assert problems == []
    (topic,) = topics
    assert topic.id == "hk-surveillance"
    assert {lang for lang, _ in topic.queries_for([])} == {"en", "zh-Hant", "zh-Hans"}
    for text in ("Hong Kong police to add 2,000 CCTV cameras", "港府擬增設閉路電視", "香港推行人脸识别",
                 "HK$40 million for SmartView", "Hong Kong's smart lampposts and facial recognition"):
        assert topic.match_article(text, None).matched, text
    for text in ("Shenzhen adds facial recognition", "Hong Kong ferry fares rise", "央视直播香港烟花"):
        assert not topic.match_article(text, None).matched, text


def test_good_file_loads(tmp_path: Path) -> None:
    topics, problems = load_topics(write(tmp_path, GOOD))
    assert problems == []
    (t,) = topics
    assert t.all == (("Hong Kong", "香港"), ("CCTV",))
    assert t.queries == {"en": ("Hong Kong CCTV",), "zh-Hant": ("香港 閉路電視", "香港 監控")}
    assert t.search_pages == 3


BAD = GOOD + """
[[topic]]
id = "Bad Id"
all = [["x"]]

[[topic]]
id = "nogroups"
all = []

[[topic]]
id = "badgroup"
all = [["Hong Kong"], [], ["ok", 3]]

[[topic]]
id = "badqueries"
all = [["a"]]
queries = {zh = "香港", en = ""}

[[topic]]
id = "contradiction"
all = [["CCTV"]]
none = ["cctv"]

[[topic]]
id = "stars"
all = [["ca*mera"], ["*"]]
search_pages = 0
colour = "blue"

[[topic]]
id = "good"
all = [["dup"]]
"""


def test_problems_name_file_topic_and_field_and_valid_topics_are_kept(tmp_path: Path) -> None:
    path = write(tmp_path, BAD)
    topics, problems = load_topics(path)
    assert [t.id for t in topics] == ["good"]
    text = [str(p) for p in problems]
    src = str(path)
    expected = [
        f"{src}: topic #2: id: 'Bad Id' must be a lowercase slug like 'hk-surveillance'",
        f"{src}: topic nogroups: all: must be a non-empty list of term groups, got []",
        f"{src}: topic badgroup: all[2]: must be a non-empty list of terms, got []",
        f"{src}: topic badgroup: all[3]: 3 must be a string",
        f"{src}: topic badqueries: queries.zh: 'zh': use 'zh-Hans' or 'zh-Hant' for Chinese",
        f"{src}: topic badqueries: queries.en: must be a non-empty string or list of strings, got ''",
        f"{src}: topic contradiction: none: 'cctv' is also a required term: no article could match",
        f"{src}: topic stars: all[1]: 'ca*mera': '*' is only allowed at the end of a term",
        f"{src}: topic stars: all[2]: '*': empty term",
        f"{src}: topic stars: search_pages: 0 must be an integer from 1 to 50",
        f"{src}: topic good: id: duplicate id; ids must be unique",
    ]
    for line in expected:
        assert line in text, (line, text)
    assert any(s.startswith(f"{src}: topic stars: colour: unknown field") for s in text)
    assert len(text) == len(expected) + 1


def test_unreadable_and_non_toml_files(tmp_path: Path) -> None:
    with pytest.raises(TopicsFileError, match="cannot read file"):
        load_topics(tmp_path / "missing.toml")
    with pytest.raises(TopicsFileError, match="not valid TOML"):
        load_topics(write(tmp_path, "[[topic]\nid = "))
    assert [str(p) for p in load_topics(write(tmp_path, "x = 1\n"))[1]] == [
        f"{tmp_path / 'topics.toml'}: topic -: topic: no [[topic]] entries found"
    ]


def test_find_topic_names_known_ids_and_why_an_id_is_invalid(tmp_path: Path) -> None:
    path = write(tmp_path, BAD)
    assert find_topic(path, "good")[0].id == "good"
    with pytest.raises(UnknownTopic, match=r"--topic nope: no such valid topic in .*; known topics: good$"):
        find_topic(path, "nope")
    with pytest.raises(UnknownTopic, match=r"nogroups: .*it has errors: all: must be a non-empty list"):
        find_topic(path, "nogroups")


# --- the command line -----------------------------------------------------------------------------------------------
def test_cli_topics_validate(tmp_path: Path) -> None:
    ok = run_cli("topics", "validate", write(tmp_path, GOOD))
    assert ok.returncode == 0, ok.stderr
    assert "OK, 1 topics" in ok.stdout and "good: 2 groups of 3 terms, 1 exclusions" in ok.stdout
    bad_path = tmp_path / "bad" / "topics.toml"
    bad_path.parent.mkdir()
    bad_path.write_text(BAD, encoding="utf-8")
    bad = run_cli("topics", "validate", bad_path)
    assert bad.returncode == 1
    assert f"error: {bad_path}: topic nogroups: all: must be a non-empty list of term groups" in bad.stderr
    assert "12 problem(s); 1 valid topic(s)" in bad.stderr
    missing = run_cli("topics", "validate", tmp_path / "none.toml")
    assert missing.returncode == 1 and "cannot read file" in missing.stderr
    default = run_cli("topics", "validate", cwd=REPO)
    assert default.returncode == 0 and "hk-surveillance" in default.stdout


def test_cli_crawl_with_unknown_topic_fails_listing_known_ids(tmp_path: Path) -> None:
    topics = write(tmp_path, BAD)
    outlets = tmp_path / "outlets.toml"
    outlets.write_text('[[outlet]]\nid = "x"\nname = "X"\ndomains = ["127.0.0.1"]\n'
                       'feeds = ["http://127.0.0.1:9/feed.xml"]\n', encoding="utf-8")
    proc = run_cli("crawl", "--outlets", outlets, "--topics", topics, "--topic", "nope", "--db",
                   tmp_path / "db.sqlite3", "--out", tmp_path / "out")
    assert proc.returncode == 1
    assert "--topic nope: no such valid topic" in proc.stderr and "known topics: good" in proc.stderr
    assert not (tmp_path / "out" / "runs").exists()


def test_cli_group_and_export_reject_an_unknown_topic(tmp_path: Path) -> None:
    topics = write(tmp_path, GOOD)
    for args in (["group", "--db", tmp_path / "db.sqlite3"], ["export", "--db", tmp_path / "db.sqlite3",
                                                              "--format", "jsonl"]):
        proc = run_cli(*args, "--out", tmp_path / "out", "--topic", "nope", "--topics", topics)
        assert proc.returncode == 1, proc.stdout
        assert "--topic nope: unknown topic" in proc.stderr and "known topics: good" in proc.stderr
    # A topic the file defines is fine even when no article carries it yet.
    proc = run_cli("export", "--db", tmp_path / "db.sqlite3", "--format", "articles", "--out", tmp_path / "out",
                   "--topic", "good", "--topics", topics)
    assert proc.returncode == 0, proc.stderr
    assert "0 articles of topic good" in proc.stdout


def test_cli_group_input_limited_to_a_topic(tmp_path: Path) -> None:
    lines = [
        '{"id": "a", "text": "Hong Kong police add CCTV cameras in estates.", "topics": ["hk"]}',
        '{"id": "b", "text": "Ferry fares rise in June on island routes.", "topics": []}',
        '{"id": "c", "text": "Facial recognition gates at the Hong Kong border.", "topics": ["hk", "other"]}',
    ]
    path = tmp_path / "articles.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    proc = run_cli("group", "--input", path, "--out", tmp_path / "out", "--topic", "hk",
                   "--topics", tmp_path / "absent.toml")
    assert proc.returncode == 0, proc.stderr
    events = read_jsonl(tmp_path / "out" / "events.jsonl")
    assert {x["id"] for e in events for x in e["articles"]} == {"a", "c"}
    assert all("hk" in e["topics"] for e in events)


def test_spider_orders_a_feeds_entries_by_prefetch_evidence() -> None:
    from crawler.discovery import Discovered
    from crawler.spiders.outlets import OutletsSpider

    spider = OutletsSpider(outlets="", topic="hk-surveillance", topics=str(REPO / "topics.toml"))
    entries = [
        Discovered(url="https://x.example/news/ferry-fares", via="feed", title="Ferry fares rise"),
        Discovered(url="https://x.example/news/gala", via="feed", title="China Central Television gala"),
        Discovered(url="https://x.example/news/a", via="feed", title="Hong Kong adds CCTV"),
        Discovered(url="https://x.example/news/hong-kong-budget", via="feed", title="Budget day"),
        Discovered(url="https://x.example/news/b", via="news-sitemap", title="New rules", keywords=("香港", "監控")),
    ]
    order = [d.url.rsplit("/", 1)[1] for d in spider.best_first(entries)]
    assert order == ["a", "b", "hong-kong-budget", "ferry-fares", "gala"]
    # Without a topic the feed's own order is kept.
    assert OutletsSpider(outlets="").best_first(entries) == entries


def test_spider_with_unknown_topic_fails_at_start() -> None:
    from crawler.spiders.outlets import OutletsSpider

    with pytest.raises(UnknownTopic, match="known topics: hk-surveillance"):
        OutletsSpider(outlets="", topic="nope", topics=str(REPO / "topics.toml"))


def test_default_topic_on_the_sample_site_finds_exactly_the_camera_events() -> None:
    """The bundled sample outlets (our own writing): events A and B are about Hong Kong CCTV, the rest
    (ferry fares, a library, trams, a robotics prize, ...) are not. One of B's pages names only districts."""
    import json

    from conftest import SAMPLE_SITE

    from crawler.extraction import extract_article

    (topic,), _ = load_topics(REPO / "topics.toml")
    expected = json.loads((SAMPLE_SITE / "expected.json").read_text(encoding="utf-8"))["articles"]
    matched = set()
    for article in expected:
        record = extract_article((SAMPLE_SITE / article["path"]).read_bytes(), f"http://127.0.0.1/{article['path']}")
        if topic.match_article(record.title, record.text).matched:
            matched.add(article["path"])
    assert matched == {a["path"] for a in expected if a["event"] in ("A", "B")}


def test_cli_crawl_with_a_valid_topic_of_a_file_with_errors_goes_on(tmp_path: Path) -> None:
    topics = write(tmp_path, BAD)
    urls = tmp_path / "urls.txt"
    urls.write_text("# nothing to fetch\n", encoding="utf-8")
    proc = run_cli("crawl", "--urls", urls, "--topics", topics, "--topic", "good", "--db", tmp_path / "db.sqlite3",
                   "--out", tmp_path / "out", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert f"error: {topics}: topic nogroups: all: must be a non-empty list" in proc.stderr
    assert "topic good: 0 candidates" in proc.stdout
    (report,) = (tmp_path / "out" / "runs").glob("*.json")
    assert '"topic": "good"' in report.read_text(encoding="utf-8")
