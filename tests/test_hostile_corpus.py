"""The hostile-input corpus (tests/fixtures/hostile/): every file gives its expected outcome, nothing crashes.

Pages go through extraction (and a few through `newsdedupe extract`), feeds and sitemaps through discovery,
config files through the loaders and `validate` commands, the broken JSONL through `group --input`. What each
file must give is in `expected.toml`; the XML attacks must be refused before anything is expanded or read.
"""
from __future__ import annotations

import gzip
import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest
import tomllib
from conftest import TESTS, encoding_family, read_jsonl, run_cli

from crawler.discovery import DiscoveryError, parse_feed, parse_sitemap
from crawler.extraction import extract_article
from crawler.outlets import OutletsFileError, load_outlets
from crawler.topics import TopicsFileError, load_topics
from dedupe.records import InputProblem, read_articles_jsonl

CORPUS = TESTS / "fixtures" / "hostile"
EXPECTED: dict[str, dict[str, dict[str, Any]]] = tomllib.loads((CORPUS / "expected.toml").read_text("utf-8"))
BASE = "http://ledger.example"
CANARY_TEXT = "CANARY-5c1f-do-not-leak"


def corpus_files(kind: str) -> list[str]:
    return sorted(p.name for p in (CORPUS / kind).iterdir())


@pytest.mark.parametrize("kind", ["pages", "feeds", "sitemaps", "config", "jsonl"])
def test_every_corpus_file_has_an_expectation_and_every_expectation_a_file(kind: str) -> None:
    assert corpus_files(kind) == sorted(EXPECTED[kind])


@pytest.fixture(scope="module")
def canary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A local file that the external-entity documents try to pull in."""
    path = tmp_path_factory.mktemp("canary") / "secret.txt"
    path.write_text(CANARY_TEXT, encoding="utf-8")
    return path


def served(kind: str, name: str, canary: Path) -> bytes:
    """A corpus file as the test site serves it ({{BASE}} and {{CANARY}} filled in)."""
    data = (CORPUS / kind / name).read_bytes()
    return data.replace(b"{{BASE}}", BASE.encode()).replace(b"{{CANARY}}", str(canary).encode())


@pytest.mark.parametrize("name", sorted(EXPECTED["pages"]))
def test_page_gives_its_expected_status_and_fields(name: str) -> None:
    want = EXPECTED["pages"][name]
    got = extract_article((CORPUS / "pages" / name).read_bytes(), f"{BASE}/news/{name}", None, "text/html")
    assert got.status == want["status"], name
    if want["status"] != "ok":
        assert not got.text or got.status in ("too_short",)
        return
    assert got.title == want["title"]
    assert got.language == want["language"]
    assert want["text_has"] in got.text
    if "encoding" in want:
        assert encoding_family(got.encoding) == want["encoding"]
    # Replacement characters only where bytes were really broken, never a page of mojibake.
    assert got.text.count("\ufffd") <= 4


@pytest.mark.parametrize("name", ["pdf-as-html.html", "gbk-declared-utf8.html", "script-laden.html"])
def test_extract_command_prints_the_record_or_the_reason(name: str) -> None:
    result = run_cli("extract", CORPUS / "pages" / name, "--url", f"{BASE}/news/{name}")
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["extraction_status"] == EXPECTED["pages"][name]["status"]
    if record["extraction_status"] == "ok":
        assert record["title"] == EXPECTED["pages"][name]["title"]


@pytest.mark.parametrize("kind,name", [("feeds", n) for n in sorted(EXPECTED["feeds"])]
                         + [("sitemaps", n) for n in sorted(EXPECTED["sitemaps"])])
def test_feed_or_sitemap_is_read_or_refused_with_a_reason(kind: str, name: str, canary: Path) -> None:
    want = EXPECTED[kind][name]
    body = served(kind, name, canary)
    url = f"{BASE}/{name}"
    parse = (lambda: [d.url for d in parse_feed(body, url)]) if kind == "feeds" else (
        lambda: [d.url for d in parse_sitemap(body, url)[1]])
    if "error" in want:
        with pytest.raises(DiscoveryError) as info:
            parse()
        assert want["error"] in str(info.value)
    else:
        assert parse() == [u.replace("{{BASE}}", BASE) for u in want["urls"]]


def test_entity_attacks_fail_fast_and_never_read_the_local_file(canary: Path) -> None:
    # Refused before any expansion: no URL, title or error message carries the file's contents or a
    # billion "lol"s.
    for kind in ("feeds", "sitemaps"):
        for name in ("billion-laughs.xml", "external-entity.xml", "quadratic-blowup.xml", "parameter-entity.xml"):
            if not (CORPUS / kind / name).exists():
                continue
            with pytest.raises(DiscoveryError) as info:
                (parse_feed if kind == "feeds" else parse_sitemap)(served(kind, name, canary), f"{BASE}/{name}")
            assert CANARY_TEXT not in str(info.value) and len(str(info.value)) < 300


@pytest.mark.parametrize("name", sorted(EXPECTED["config"]))
def test_config_file_problems_name_the_file_and_keep_the_valid_entries(name: str) -> None:
    want = EXPECTED["config"][name]
    path = CORPUS / "config" / name
    loader, error = (load_outlets, OutletsFileError) if name.startswith("outlets") else (load_topics, TopicsFileError)
    try:
        valid, problems = loader(path)
        messages = [str(p) for p in problems]
    except error as exc:
        valid, messages = [], [str(exc)]
    assert [v.id for v in valid] == want["valid"]
    for fragment in want["problems"]:
        assert any(fragment in m for m in messages), (fragment, messages)
    assert all(str(path) in m for m in messages), messages


@pytest.mark.parametrize("name", ["outlets-bad-fields.toml", "topics-not-toml.toml", "outlets-not-utf8.toml"])
def test_validate_command_reports_every_problem_and_exits_1(name: str) -> None:
    command = "outlets" if name.startswith("outlets") else "topics"
    result = run_cli(command, "validate", CORPUS / "config" / name)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr + result.stdout
    for fragment in EXPECTED["config"][name]["problems"]:
        assert fragment in result.stderr + result.stdout


def test_jsonl_reader_reports_each_bad_line_and_keeps_the_rest() -> None:
    want = EXPECTED["jsonl"]["articles-bad-lines.jsonl"]
    problems: list[InputProblem] = []
    records = list(read_articles_jsonl(CORPUS / "jsonl" / "articles-bad-lines.jsonl", problems))
    assert [r.id for r in records] == want["ids"]
    messages = [str(p) for p in problems]
    for fragment in want["problems"]:
        assert any(fragment in m for m in messages), (fragment, messages)
    # Fields of the wrong type were dropped, so grouping sees only strings.
    a4 = next(r for r in records if r.id == "a4")
    assert a4.title is None and a4.language is None and a4.published is None and a4.topics == ()


def test_group_on_broken_jsonl_names_each_bad_line_and_groups_the_rest(tmp_path: Path) -> None:
    source = CORPUS / "jsonl" / "articles-bad-lines.jsonl"
    result = run_cli("group", "--input", source, "--out", tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in EXPECTED["jsonl"]["articles-bad-lines.jsonl"]["problems"]:
        assert f"{source}{fragment}" in result.stderr or fragment in result.stderr
    events = read_jsonl(tmp_path / "events.jsonl")
    grouped = sorted(a["id"] for e in events for a in e["articles"])
    assert grouped == sorted(EXPECTED["jsonl"]["articles-bad-lines.jsonl"]["ids"])
    # a1 and a2 are the same story (one word changed): one event holds both.
    assert any({"a1", "a2"} <= {a["id"] for a in e["articles"]} for e in events)


def test_corpus_generator_reproduces_the_committed_files(tmp_path: Path) -> None:
    """The committed corpus is what make_corpus.py writes (so a change to one is a change to the other)."""
    spec = importlib.util.spec_from_file_location("make_corpus", CORPUS / "make_corpus.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.HERE = tmp_path
    for step in (module.pages, module.feeds, module.sitemaps, module.config, module.jsonl):
        step()
    for kind in ("pages", "feeds", "sitemaps", "config", "jsonl"):
        for name in corpus_files(kind):
            made = (tmp_path / kind / name).read_bytes()
            committed = (CORPUS / kind / name).read_bytes()
            if name == "gzip-bomb.xml.gz":  # a gzip header carries the time it was written
                made, committed = gzip.decompress(made), gzip.decompress(committed)
            assert made == committed, f"{kind}/{name} differs from what make_corpus.py writes"
