"""Property-based tests (hypothesis): normalisation, shingling, grouping, URLs, decoding and the config and
input loaders hold their promises on any input, not only on the examples we thought of.

Strategies mix the scripts the tool meets (Latin, Simplified and Traditional Chinese, full-width forms,
control characters, surrogate-free Unicode at large) so that folding and tokenising meet real edge cases.
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from crawler.discovery import DiscoveryError, parse_feed, parse_sitemap
from crawler.encoding import binary_kind, decode_html
from crawler.extraction import extract_article
from crawler.outlets import OutletsFileError, load_outlets, parse_outlets
from crawler.topics import TopicsFileError, load_topics, parse_topics
from crawler.urls import canonicalize
from dedupe.config import GroupingConfig
from dedupe.grouping import group
from dedupe.language import detect_language
from dedupe.normalize import fold, normalise_for_matching, strip_boilerplate, tokens
from dedupe.records import ArticleRecord, InputProblem, read_articles_jsonl
from dedupe.shingles import shingle_hashes, shingle_sequence

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Text the crawler meets: words of several scripts, punctuation, newlines, odd code points.
WORDS = st.sampled_from([
    "harbour", "cameras", "Hong", "Kong", "police", "60,000", "2,000", "2028", "CCTV", "said", "the", "of",
    "香港", "將", "安裝", "六萬", "部", "閉路電視", "监控", "摄像头", "人脸识别", "２０２８", "ＣＣＴＶ", "—", "“quoted”",
    "Reuters", "(c)", "©", "Read more:", "By Jane Doe", "\u200b", "é", "ß", "İ", "ﬁ",
])
TEXTS = st.one_of(
    st.lists(WORDS, max_size=80).map(" ".join),
    st.lists(st.one_of(WORDS, st.just("\n")), max_size=80).map(" ".join),
    st.text(max_size=400),
)
LANGS = st.sampled_from([None, "en", "zh-Hans", "zh-Hant", "ja", "de", ""])


# --- normalisation ------------------------------------------------------------------------------------
@SETTINGS
@given(TEXTS)
def test_fold_is_idempotent_and_never_raises(text: str) -> None:
    once = fold(text)
    assert fold(once) == once


@SETTINGS
@given(TEXTS)
def test_normalised_text_has_no_runs_of_whitespace_and_is_stable(text: str) -> None:
    norm = normalise_for_matching(text)
    assert norm == norm.strip() and "  " not in norm and "\n" not in norm
    assert normalise_for_matching(norm) == normalise_for_matching(norm)  # deterministic


@SETTINGS
@given(TEXTS)
def test_boilerplate_removal_only_removes(text: str) -> None:
    kept = strip_boilerplate(text)
    # Every kept line is (a suffix of) an input line: nothing is invented or reordered.
    lines = [ln for ln in text.splitlines() if ln.strip()]
    for out_line in kept.splitlines():
        assert any(ln.endswith(out_line) for ln in lines), out_line


@SETTINGS
@given(TEXTS)
def test_tokens_are_non_empty_and_contain_no_space(text: str) -> None:
    for tok in tokens(normalise_for_matching(text)):
        assert tok and not any(c.isspace() for c in tok)


# --- shingling ------------------------------------------------------------------------------------------
@SETTINGS
@given(TEXTS, LANGS)
def test_shingles_are_deterministic_sorted_and_unique(text: str, language: str | None) -> None:
    config = GroupingConfig()
    a = shingle_hashes(text, language or None, config)
    b = shingle_hashes(text, language or None, config)
    assert a.tolist() == b.tolist()
    assert a.tolist() == sorted(set(a.tolist()))
    assert set(a.tolist()) == set(shingle_sequence(text, language or None, config).tolist())


@SETTINGS
@given(TEXTS)
def test_traditional_and_simplified_spelling_give_the_same_shingles(text: str) -> None:
    from dedupe.chinese import to_simplified

    config = GroupingConfig()
    assert shingle_hashes(text, "zh-Hant", config).tolist() == shingle_hashes(to_simplified(text), "zh-Hant", config).tolist()


# --- grouping -------------------------------------------------------------------------------------------
RECORD_TEXTS = st.lists(st.lists(WORDS, min_size=0, max_size=60).map(" ".join), min_size=1, max_size=12)
DATES = st.one_of(st.none(), st.dates(min_value=__import__("datetime").date(2020, 1, 1),
                                      max_value=__import__("datetime").date(2026, 12, 31)).map(str),
                  st.sampled_from(["not a date", "2025-13-45", "2025-02-30T25:00:00Z", ""]))


@st.composite
def record_sets(draw: Any) -> list[ArticleRecord]:
    texts = draw(RECORD_TEXTS)
    # Some exact and near copies, so grouping has something to join.
    texts = texts + [t + " Reuters" for t in draw(st.lists(st.sampled_from(texts), max_size=4))]
    return [ArticleRecord(id=f"a{i}", text=t, title=draw(st.one_of(st.none(), TEXTS)), language=draw(LANGS) or None,
                          published=draw(DATES) or None, outlet=draw(st.sampled_from(["o1", "o2", None])))
            for i, t in enumerate(texts)]


def partition(result: Any) -> list[list[str]]:
    return sorted(sorted(m.article.id for m in e.members) for e in result.events)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(record_sets(), st.randoms(use_true_random=False))
def test_grouping_is_a_partition_and_does_not_depend_on_input_order(records: list[ArticleRecord], rnd: Any) -> None:
    first = group(records)
    ids = [m.article.id for e in first.events for m in e.members]
    assert sorted(ids) == sorted(r.id for r in records)  # every article in exactly one event
    shuffled = list(records)
    rnd.shuffle(shuffled)
    again = group(shuffled)
    assert partition(again) == partition(first)
    assert sorted(e.event_id for e in again.events) == sorted(e.event_id for e in first.events)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(record_sets())
def test_regrouping_with_the_previous_ids_keeps_them(records: list[ArticleRecord]) -> None:
    first = group(records)
    previous = {m.article.id: (m.story_id, e.event_id) for e in first.events for m in e.members}
    again = group(records, previous=previous)
    assert partition(again) == partition(first)
    assert {m.article.id: (m.story_id, e.event_id) for e in again.events for m in e.members} == previous


@SETTINGS
@given(st.lists(WORDS, min_size=30, max_size=80).map(" ".join))
def test_an_exact_copy_always_joins_its_original(text: str) -> None:
    result = group([ArticleRecord(id="a", text=text, published="2025-01-01"),
                    ArticleRecord(id="b", text=text, published="2025-01-02")])
    assert partition(result) == [["a", "b"]]


# --- URLs, decoding, extraction --------------------------------------------------------------------------
URLS = st.one_of(
    st.builds(lambda host, path, q, frag: f"https://{host}/{path}?{q}#{frag}",
              st.sampled_from(["Example.COM", "news.example.org:443", "127.0.0.1:8080", "[::1]", "xn--fsq.example"]),
              st.text(alphabet="abcXYZ/-_.%20", max_size=20),
              st.sampled_from(["", "utm_source=x&id=3", "id=1&utm_medium=y&p=2", "a=1&a=2", "%zz"]),
              st.text(max_size=5)),
    st.text(max_size=60),
)


@SETTINGS
@given(URLS)
def test_canonical_urls_are_idempotent(url: str) -> None:
    try:
        once = canonicalize(url)
    except ValueError:
        return  # refused with a message (an invalid port, say): the callers report it
    assert canonicalize(once) == once
    assert "utm_" not in once.split("?", 1)[-1] or "?" not in once


@SETTINGS
@given(st.binary(max_size=3000), st.sampled_from([None, "text/html", "text/html; charset=utf-8",
                                                  "text/html; charset=gbk", "text/html; charset=bogus"]))
def test_any_bytes_decode_or_are_called_binary(body: bytes, content_type: str | None) -> None:
    text, encoding, how = decode_html(body, content_type)
    assert isinstance(text, str) and encoding and how
    binary_kind(body)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.binary(max_size=2000), TEXTS.map(lambda t: f"<html><title>{t}</title><body><p>{t}</p></body></html>".encode())))
@example(b"<html><body>" + b"<div>" * 5000 + b"x" + b"</div>" * 5000 + b"</body></html>")
def test_extraction_never_raises_and_always_gives_a_known_status(page: bytes) -> None:
    got = extract_article(page, "https://news.example/a.html")
    assert got.status in {"ok", "not_article", "too_short", "no_text", "not_html", "paywall"}
    if got.status == "ok":
        assert got.text.strip()


@SETTINGS
@given(st.binary(max_size=1500))
def test_feed_and_sitemap_parsers_only_raise_discovery_errors(body: bytes) -> None:
    for parse in (parse_feed, parse_sitemap):
        try:
            parse(body, "https://news.example/feed.xml")
        except DiscoveryError:
            pass


@SETTINGS
@given(st.text(max_size=300))
@example('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><rss><channel><item><link>&a;</link></item></channel></rss>')
def test_xml_text_parsers_only_raise_discovery_errors(text: str) -> None:
    for parse in (parse_feed, parse_sitemap):
        try:
            parse(text.encode("utf-8"), "https://news.example/feed.xml")
        except DiscoveryError:
            pass


@SETTINGS
@given(TEXTS, st.one_of(st.none(), st.sampled_from(["en", "zh", "zh-TW", "zh-Hans", "ko", "xx-Bogus", ""])))
def test_language_detection_is_deterministic(text: str, declared: str | None) -> None:
    a = detect_language(text, None, declared)
    b = detect_language(text, None, declared)
    assert a == b


# --- config and input loaders ------------------------------------------------------------------------------
JSONISH = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20)),
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(st.text(max_size=8), children, max_size=4)),
    max_leaves=12,
)
OUTLET_KEYS = ["id", "name", "domains", "languages", "feeds", "sitemaps", "start_urls", "allow", "deny",
               "download_delay", "concurrency", "search_url", "search_pages", "country"]
TOPIC_KEYS = ["id", "name", "all", "none", "queries", "search_pages"]


@SETTINGS
@given(st.lists(st.dictionaries(st.sampled_from(OUTLET_KEYS), JSONISH, max_size=8), max_size=4))
def test_outlets_parser_reports_problems_never_raises(tables: list[dict[str, Any]]) -> None:
    outlets, problems = parse_outlets({"outlet": tables}, "fuzz.toml")
    assert len(outlets) <= len(tables)
    for p in problems:
        assert "fuzz.toml" in str(p)


@SETTINGS
@given(st.lists(st.dictionaries(st.sampled_from(TOPIC_KEYS), JSONISH, max_size=6), max_size=4))
def test_topics_parser_reports_problems_never_raises(tables: list[dict[str, Any]]) -> None:
    topics, problems = parse_topics({"topic": tables}, "fuzz.toml")
    assert len(topics) <= len(tables)
    for p in problems:
        assert "fuzz.toml" in str(p)


@SETTINGS
@given(st.binary(max_size=500))
def test_config_files_of_any_bytes_load_or_fail_with_the_file_name(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzz.toml"
        path.write_bytes(data)
        for loader, error in ((load_outlets, OutletsFileError), (load_topics, TopicsFileError)):
            try:
                _, problems = loader(path)
            except error as exc:
                assert str(path) in str(exc)
            else:
                assert all(str(path) in str(p) for p in problems)


@SETTINGS
@given(st.lists(st.one_of(JSONISH.map(lambda v: json.dumps(v)),
                          st.dictionaries(st.sampled_from(["id", "text", "title", "language", "published", "topics",
                                                           "url", "outlet"]), JSONISH, max_size=8).map(json.dumps),
                          st.binary(max_size=40).map(lambda b: b.decode("latin-1"))), max_size=15))
def test_jsonl_reader_yields_only_well_typed_records(lines: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzz.jsonl"
        path.write_text("\n".join(line.replace("\n", " ") for line in lines), encoding="utf-8")
        problems: list[InputProblem] = []
        records = list(read_articles_jsonl(path, problems))
    for r in records:
        assert isinstance(r.id, str) and isinstance(r.text, str)
        for value in (r.title, r.url, r.language, r.published, r.outlet):
            assert value is None or isinstance(value, str)
        assert all(isinstance(t, str) for t in r.topics)
    assert len({r.id for r in records}) == len(records)
    # Whatever was read groups without an error.
    if records:
        group(records)

