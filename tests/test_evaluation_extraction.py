"""`eval extraction`: the body metrics on hand-made strings, date/author scoring, the data-set loaders on
small synthetic sets written here, and a floor on the shared labelled pages (skipped when they are absent)."""
from __future__ import annotations

import gzip
import json
from datetime import date
from pathlib import Path

import pytest

from conftest import WIRE_STORY, ZH_HANS_STORY, run_cli
from crawler.evaluation import (
    aggregate,
    author_found,
    evaluate_extraction,
    find_sets,
    parse_day,
    precision_score,
    recall_score,
    score_texts,
    shingle_match,
    tokenize,
    tokenize_cjk,
    truth_author_names,
)

SHARED_EXTRACTION = Path(__file__).resolve().parents[2] / "shared" / "data" / "extraction"


# --- tokenisers -------------------------------------------------------------------------------------------
def test_plain_tokeniser_keeps_a_run_of_chinese_as_one_token() -> None:
    assert tokenize("今天天气很好，We go 2024年!") == ["今天天气很好", "We", "go", "2024年"]


def test_cjk_tokeniser_splits_han_and_kana_but_not_latin_digits_or_hangul() -> None:
    assert tokenize_cjk("今天天气很好，We go 2024年!") == ["今", "天", "天", "气", "很", "好", "We", "go", "2024", "年"]
    assert tokenize_cjk("ひらがな") == ["ひ", "ら", "が", "な"]
    assert tokenize_cjk("한국어 text_1") == ["한국어", "text_1"]
    assert tokenize_cjk("") == [] and tokenize_cjk(None) == []


# --- shingle metric ---------------------------------------------------------------------------------------
def test_perfect_match_scores_one() -> None:
    tp, fp, fn = shingle_match("a b c d e f", "a b c d e f")
    assert (tp, fp, fn) == (1.0, 0.0, 0.0)
    assert precision_score(tp, fp, fn) == recall_score(tp, fp, fn) == 1.0
    assert score_texts([("One two three four five.", "One, two three\nfour five")]) == {
        "precision": 1.0, "recall": 1.0, "f1": 1.0, "accuracy": 1.0}


def test_disjoint_texts_score_zero() -> None:
    tp, fp, fn = shingle_match("a b c d e", "v w x y z")
    assert (tp, fp, fn) == (0.0, 0.5, 0.5)
    assert precision_score(tp, fp, fn) == recall_score(tp, fp, fn) == 0.0
    assert score_texts([("a b c d e", "v w x y z")]) == {
        "precision": 0.0, "recall": 0.0, "f1": 0.0, "accuracy": 0.0}


def test_partial_match_by_hand() -> None:
    # truth shingles: abcd bcde cdef; prediction: abcd bcde cdex -> TP 2, FP 1, FN 1 (normalised by 4).
    assert shingle_match("a b c d e f", "a b c d e x") == (0.5, 0.25, 0.25)
    scores = score_texts([("a b c d e f", "a b c d e x")])
    assert scores["precision"] == pytest.approx(2 / 3) and scores["recall"] == pytest.approx(2 / 3)
    assert scores["accuracy"] == 0.0


def test_shingles_are_a_multiset() -> None:
    # truth: abcd bcda cdab dabc abcd (abcd twice); prediction: abcd once -> TP 1, FP 0, FN 4.
    tp, fp, fn = shingle_match("a b c d a b c d", "a b c d")
    assert (tp, fp, fn) == (0.2, 0.0, 0.8)
    assert precision_score(tp, fp, fn) == 1.0 and recall_score(tp, fp, fn) == pytest.approx(0.2)


def test_texts_shorter_than_a_shingle_still_compare() -> None:
    assert shingle_match("a b", "a b") == (1.0, 0.0, 0.0)
    assert shingle_match("a b", "a c") == (0.0, 0.5, 0.5)


def test_precision_is_averaged_over_pages_with_a_prediction_only() -> None:
    truth = "a b c d e"
    pages = [shingle_match(truth, truth), shingle_match(truth, ""), shingle_match(truth, None)]
    assert pages[1] == pages[2] == (0.0, 0.0, 1.0)
    scores = aggregate(pages)
    assert scores["precision"] == 1.0  # the two empty predictions do not count for precision
    assert scores["recall"] == pytest.approx(1 / 3)
    assert scores["f1"] == pytest.approx(2 * 1 * (1 / 3) / (1 + 1 / 3))


def test_cjk_shingles_and_tokens_on_chinese() -> None:
    truth, pred = "今天天气很好。", "今天天气很坏。"
    # Plain \w+: one token each, different -> nothing matches.
    assert score_texts([(truth, pred)], "shingle")["f1"] == 0.0
    # Per character: 今天天气 天天气很 match, 天气很好 / 天气很坏 do not.
    cjk = score_texts([(truth, pred)], "shingle_cjk")
    assert cjk["precision"] == pytest.approx(2 / 3) and cjk["recall"] == pytest.approx(2 / 3)
    # Bag of characters: 5 of 6 shared.
    assert score_texts([(truth, pred)], "token")["f1"] == pytest.approx(5 / 6)
    assert score_texts([("今天 天气", "今天天气")], "shingle_cjk")["accuracy"] == 1.0


# --- dates and authors ------------------------------------------------------------------------------------
@pytest.mark.parametrize("value, expected", [
    ("2005-5-7 21:23:57", date(2005, 5, 7)), ("2022-02-13", date(2022, 2, 13)),
    ("2022-02-06 13:48\n", date(2022, 2, 6)), ("2018", None), ("1998-3", None), ("UNKNOWN", None),
    ("UNKNWON", None), ("", None), (None, None), ("刘涛", None), ("2005-13-40", None),
])
def test_truth_day(value: str | None, expected: date | None) -> None:
    assert parse_day(value) == expected


def test_predicted_day_from_iso() -> None:
    assert parse_day("2005-08-28T00:00:00", iso=True) == date(2005, 8, 28)
    assert parse_day("2019-11-15T05:30:00+00:00", iso=True) == date(2019, 11, 15)
    assert parse_day(None, iso=True) is None


def test_author_names_and_matching() -> None:
    assert truth_author_names("王建宏 张文攀") == ["王建宏", "张文攀"]
    assert truth_author_names("赵延东、风笑天\n") == ["赵延东", "风笑天"]
    assert truth_author_names("周思博 (Joel Spolsky)") == ["周思博", "Joel", "Spolsky"]
    assert truth_author_names("UNKNOWN") == truth_author_names("") == truth_author_names(None) == []
    assert author_found(["王建宏", "张文攀"], ("记者 张文攀",))
    assert not author_found(["王建宏"], ())
    assert not author_found(["王建宏"], ("李明",))


# --- loaders and the command, on small synthetic sets -----------------------------------------------------
def _page(title: str, body: str, charset: str | None, date_line: str = "") -> str:
    meta = f'<meta charset="{charset}">' if charset else ""
    paras = "".join(f"<p>{p}</p>" for p in body.split("\n"))
    return (f"<html><head>{meta}<title>{title}</title></head><body>"
            f"<div class='nav'><a href='/'>Home</a></div>"
            f"<article><h1>{title}</h1>{date_line}{paras}</article>"
            "<footer>Contact us</footer></body></html>")


def _synthetic_sets(root: Path) -> None:
    aeb = root / "scrapinghub-aeb"
    (aeb / "html").mkdir(parents=True)
    page = _page("Streetlights", WIRE_STORY, "utf-8")
    (aeb / "html" / "p1.html.gz").write_bytes(gzip.compress(page.encode()))
    truth = {"p1": {"articleBody": WIRE_STORY, "url": "https://example.org/a"}}
    (aeb / "ground-truth.json").write_text(json.dumps(truth))
    wce = root / "chinese-wce"
    for sub in ("original", "cleaned", "date", "author"):
        (wce / sub).mkdir(parents=True)
    # GBK bytes and no charset anywhere: the extractor has to detect the encoding.
    html = _page("街灯", ZH_HANS_STORY, None, '<p class="date">2025-10-03</p>')
    (wce / "original" / "u1.html").write_bytes(html.encode("gbk"))
    (wce / "cleaned" / "u1.txt").write_text(ZH_HANS_STORY, encoding="utf-8")
    (wce / "date" / "u1.txt").write_text("2025-10-3 09:30", encoding="utf-8")
    (wce / "author" / "u1.txt").write_text("UNKNOWN", encoding="utf-8")
    dan = root / "daniel-zh"
    (dan / "html").mkdir(parents=True)
    (dan / "reference").mkdir()
    (dan / "html" / "d1.html.gz").write_bytes(gzip.compress(_page("街灯", ZH_HANS_STORY, "utf-8").encode()))
    paras = ["街灯", *ZH_HANS_STORY.split("\n")]
    (dan / "reference" / "d1").write_text("".join(f"<p>{p}</p>\n" for p in paras), encoding="utf-8")


def test_sets_are_recognised_and_scored(tmp_path: Path) -> None:
    _synthetic_sets(tmp_path)
    assert [k for k, _ in find_sets(tmp_path)] == ["chinese-wce", "daniel-zh", "scrapinghub-aeb"]
    assert [k for k, _ in find_sets(tmp_path / "daniel-zh")] == ["daniel-zh"]
    results = {r["kind"]: r for r in evaluate_extraction(tmp_path, extractors=("ours",))}
    assert results["scrapinghub-aeb"]["summary"]["ours"]["shingle"]["f1"] > 0.9
    wce = results["chinese-wce"]["summary"]["ours"]
    assert wce["shingle_cjk"]["f1"] > 0.9  # decoded from GBK without a declared charset
    assert wce["dates"]["pages"] == 1
    assert wce["languages"] == {"zh-Hans": 1}
    # The reference keeps the headline, which the extractor drops from the body: a little recall is lost.
    assert 0.8 < results["daniel-zh"]["summary"]["ours"]["shingle_cjk"]["recall"] <= 1.0
    with pytest.raises(ValueError):
        find_sets(tmp_path / "daniel-zh" / "html")


def test_cli_eval_extraction_prints_a_table_and_writes_a_report(tmp_path: Path) -> None:
    _synthetic_sets(tmp_path / "data")
    report = tmp_path / "report.md"
    proc = run_cli("eval", "extraction", tmp_path / "data" / "scrapinghub-aeb", "--report", report)
    assert proc.returncode == 0, proc.stderr
    assert "scrapinghub-aeb" in proc.stdout and "trafilatura" in proc.stdout and "ms/page" in proc.stdout
    text = report.read_text(encoding="utf-8")
    assert text.startswith("# Extraction evaluation") and "| scrapinghub-aeb | ours |" in text


def test_eval_via_crawl_scores_what_the_crawl_stores(tmp_path: Path) -> None:
    """--via-crawl serves the pages from 127.0.0.1 (text/html, no charset: the GBK page has none anywhere),
    crawls them with `crawl --urls` and scores the stored records: the same figures as the direct extraction
    when the crawl stores what extract_article gives; a page that is not an article is not stored and scores
    as an empty text."""
    _synthetic_sets(tmp_path / "data")
    wce = tmp_path / "data" / "chinese-wce"
    about = "<html><head><title>关于我们</title></head><body><p>联系我们</p></body></html>"
    (wce / "original" / "u2.html").write_bytes(about.encode("gbk"))
    (wce / "cleaned" / "u2.txt").write_text("本站简介", encoding="utf-8")
    proc = run_cli("eval", "extraction", wce, "--via-crawl", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = {line.split()[1]: line.split() for line in proc.stdout.splitlines() if line.startswith("chinese-wce  ")}
    assert set(rows) == {"ours", "crawl"}
    recall = rows["ours"][5]  # the article's recall is the same; the other page's is 0 both ways
    assert float(recall) > 0.4 and rows["crawl"][5] == recall
    assert rows["ours"][11] == "0" and rows["crawl"][11] == "1"  # "no text": the not-an-article page is not stored
    assert "crawled records that differ from the direct extraction: 1 of 2 (u2)" in proc.stdout


# --- the shared labelled pages ----------------------------------------------------------------------------
# Figures of our extractor on the full developer splits (docs/extraction-eval.md), rounded down; the
# floors live with the others in tests/quality_floors.json.
_FLOORS = json.loads((Path(__file__).parent / "quality_floors.json").read_text(encoding="utf-8"))["extraction"]
FLOORS = {k: _FLOORS[k] for k in ("scrapinghub-aeb", "chinese-wce", "daniel-zh")}
DATE_FLOOR = _FLOORS["date_accuracy"]
MAX_WRONG_DATES = _FLOORS["max_wrong_dates"]
AUTHOR_FLOOR = _FLOORS["author_accuracy"]
HEADLINE_FLOORS = _FLOORS["headline_language"]
CRAWL_FLOORS = _FLOORS["through_the_crawl"]


def test_shared_extraction_floor() -> None:
    missing = [k for k in FLOORS if not (SHARED_EXTRACTION / k).is_dir()]
    if missing:
        pytest.skip(f"shared extraction data not found at {SHARED_EXTRACTION} (missing {', '.join(missing)}; "
                    "see ../shared/data/README.md)")
    # Our extractor only (no baseline): about 20 s for the 456 pages.
    results = {r["kind"]: r for r in evaluate_extraction(SHARED_EXTRACTION, extractors=("ours",))}
    assert set(results) == set(FLOORS)
    assert results["scrapinghub-aeb"]["pages"] == 127
    assert results["chinese-wce"]["pages"] == 48
    assert results["daniel-zh"]["pages"] == 281
    for kind, floor in FLOORS.items():
        summary = results[kind]["summary"]["ours"]
        metric = "shingle" if kind == "scrapinghub-aeb" else "shingle_cjk"
        assert summary[metric]["f1"] >= floor, (kind, summary[metric])
    dates = results["chinese-wce"]["summary"]["ours"]["dates"]
    assert dates["pages"] == 33
    assert dates["accuracy"] >= DATE_FLOOR, dates
    # No date beats a wrong date (copyright years, archive lists, "today").
    assert dates["wrong"] <= MAX_WRONG_DATES, dates
    authors = results["chinese-wce"]["summary"]["ours"]["authors"]
    assert authors["accuracy"] >= AUTHOR_FLOOR, authors
    for kind, floor in HEADLINE_FLOORS.items():
        headlines = results[kind]["summary"]["ours"]["headlines"]
        assert headlines["with_declared"] >= floor * headlines["pages"], (kind, headlines)


def test_shared_extraction_floor_through_the_crawl() -> None:
    """Issue 4's held-out check crawls its pages with `crawl --urls` from 127.0.0.1 (no charset) and scores what
    the store holds: the same pages here, through a real crawl (about 30 s)."""
    if not all((SHARED_EXTRACTION / k).is_dir() for k in CRAWL_FLOORS):
        pytest.skip(f"shared extraction data not found at {SHARED_EXTRACTION} (see ../shared/data/README.md)")
    results = {r["kind"]: r for r in evaluate_extraction(SHARED_EXTRACTION, extractors=("crawl",))}
    for kind, floor in CRAWL_FLOORS.items():
        summary = results[kind]["summary"]["crawl"]
        metric = "shingle" if kind == "scrapinghub-aeb" else "shingle_cjk"
        assert summary[metric]["f1"] >= floor, (kind, summary[metric])
        # Every page is stored but those that are not articles (a forum error page, a one-line page).
        assert summary["no_text"] <= 1, (kind, summary["status"])
