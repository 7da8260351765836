"""`newsdedupe eval extraction DIR`: score the article extractor on labelled pages, next to plain trafilatura.

Three labelled sets are understood (each folder's layout is recognised; a parent folder holding several
of them is scored set by set):

* `scrapinghub-aeb`: `html/<id>.html.gz` + `ground-truth.json` (`articleBody`, `url`); body only.
* `chinese-wce`: `original/<uuid>.html` (GBK or UTF-8 bytes, some without a charset) + `cleaned/<uuid>.txt`
  + `date/<uuid>.txt` + `author/<uuid>.txt`.
* `daniel-zh`: `html/<id>.html.gz` + `reference/<id>` (one `<p>…</p>` per paragraph; headline first).

Body metrics (per page TP/FP/FN over multisets, normalised; precision is the mean over pages with a
prediction, recall the mean over all pages, F1 from those two means; accuracy is the share of pages whose
token sequence equals the truth):

* `shingle`: the Scrapinghub article-extraction-benchmark metric, `\\w+` tokens, 4-gram shingles;
* `shingle_cjk`: the same with every CJK character (Han, kana, bopomofo) its own token;
* `token`: bag of tokens (1-grams) with the `shingle_cjk` tokeniser.

The main metric is `shingle` for the English set and `shingle_cjk` for the Chinese sets. Pages are given to
our extractor as bytes (it decodes them) and to the baseline, `trafilatura.extract(bytes, url=...,
include_comments=False)`, the same way; both are timed in the same run.

`--via-crawl` scores what a user's crawl stores instead of calling the extractor: every page is served from
127.0.0.1 as `text/html` with no charset (what the pages' own servers often send, and how issue 4's held-out
check serves them), fetched with `newsdedupe crawl --urls` (the same spider, middlewares, extraction workers and
store, without politeness delays), and the stored records are scored; the table then shows `ours` (direct) and
`crawl` side by side and the pages where the two records differ.
"""
from __future__ import annotations

import gzip
import json
import logging
import multiprocessing
import re
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

# --- metrics ---------------------------------------------------------------------------------------------

TpFpFn = tuple[float, float, float]

_WORD_RE = re.compile(r"\w+", re.UNICODE | re.MULTILINE | re.IGNORECASE | re.DOTALL)
# CJK characters that are written without spaces: CJK symbols/kana/bopomofo block range, Han (BMP,
# compatibility, extensions B+). Hangul is written with spaces between words, so it stays in \w runs.
_CJK_CLASS = (
    "\u3005\u3007\u3021-\u3029\u3038-\u303b\u3040-\u30ff\u3100-\u312f\u31a0-\u31bf\u31f0-\u31ff"
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
)
_CJK_TOKEN_RE = re.compile(rf"[{_CJK_CLASS}]|[^\W{_CJK_CLASS}]+", re.UNICODE)


def tokenize(text: str | None) -> list[str]:
    """The benchmark's tokeniser: runs of `\\w` (a run of Chinese characters is one token)."""
    return _WORD_RE.findall(text or "")


def tokenize_cjk(text: str | None) -> list[str]:
    """`\\w+` runs, except that every CJK character is a token of its own."""
    return _CJK_TOKEN_RE.findall(text or "")


def _ngrams(tokens: list[str], n: int) -> list[tuple[str, ...]]:
    # As in the benchmark's evaluate.py: a text shorter than n tokens gives one shorter shingle.
    out = []
    for i in range(0, max(1, len(tokens) - n + 1)):
        shingle = tuple(tokens[i: i + n])
        if shingle:
            out.append(shingle)
    return out


def shingle_match(true: str | None, pred: str | None, n: int = 4,
                  tokenizer: Callable[[str | None], list[str]] = tokenize) -> TpFpFn:
    """TP, FP, FN between the n-gram shingle multisets of two texts, normalised to sum to 1.

    (0, 0, 0) when both texts are empty.
    """
    t = Counter(_ngrams(tokenizer(true), n))
    p = Counter(_ngrams(tokenizer(pred), n))
    tp = float(sum((t & p).values()))
    fp = float(sum((p - t).values()))
    fn = float(sum((t - p).values()))
    s = tp + fp + fn
    return (tp / s, fp / s, fn / s) if s > 0 else (0.0, 0.0, 0.0)


def precision_score(tp: float, fp: float, fn: float) -> float:
    if fp == fn == 0:
        return 1.0
    if tp == fp == 0:
        return 0.0
    return tp / (tp + fp)


def recall_score(tp: float, fp: float, fn: float) -> float:
    if fp == fn == 0:
        return 1.0
    if tp == fn == 0:
        return 0.0
    return tp / (tp + fn)


def aggregate(triples: list[TpFpFn]) -> dict[str, float]:
    """Mean per-page precision (pages with a prediction), mean per-page recall, F1 of the two means."""
    precisions = [precision_score(*x) for x in triples if x[0] + x[1] > 0]
    recalls = [recall_score(*x) for x in triples if x[0] + x[2] > 0]
    p = statistics.mean(precisions) if precisions else 0.0
    r = statistics.mean(recalls) if recalls else 0.0
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0}


# name -> (shingle size, tokeniser)
METRICS: dict[str, tuple[int, Callable[[str | None], list[str]]]] = {
    "shingle": (4, tokenize),
    "shingle_cjk": (4, tokenize_cjk),
    "token": (1, tokenize_cjk),
}


def page_scores(true: str | None, pred: str | None) -> dict[str, dict[str, Any]]:
    """Per-page TP/FP/FN, P, R, F1 and exact match for every metric."""
    out: dict[str, dict[str, Any]] = {}
    for name, (n, tok) in METRICS.items():
        tp, fp, fn = shingle_match(true, pred, n, tok)
        p, r = precision_score(tp, fp, fn), recall_score(tp, fp, fn)
        out[name] = {"tpfpfn": (tp, fp, fn), "precision": p, "recall": r,
                     "f1": 2 * p * r / (p + r) if p + r else 0.0, "exact": tok(true) == tok(pred)}
    return out


def score_texts(pairs: list[tuple[str | None, str | None]], metric: str = "shingle") -> dict[str, float]:
    """P/R/F1 and accuracy of (truth, prediction) pairs under one metric."""
    n, tok = METRICS[metric]
    scores = aggregate([shingle_match(t, p, n, tok) for t, p in pairs])
    scores["accuracy"] = sum(tok(t) == tok(p) for t, p in pairs) / len(pairs) if pairs else 0.0
    return scores


# --- dates and authors -----------------------------------------------------------------------------------

_TRUTH_DAY = re.compile(r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})(?=$|[\sT])")
_ISO_DAY = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")


def parse_day(value: str | None, iso: bool = False) -> date | None:
    """The day of a date string with a full year-month-day (`2005-5-7 21:23:57`); None otherwise."""
    if not value:
        return None
    m = (_ISO_DAY.match(value.strip()) if iso else _TRUTH_DAY.match(value))
    if not m:
        return None
    try:
        return date(*(int(x) for x in m.groups()))
    except ValueError:
        return None


def truth_author_names(value: str | None) -> list[str]:
    """Names in an `author/<uuid>.txt` file (space or 、 separated); [] for UNKNOWN or empty."""
    if not value or value.strip().upper() in ("UNKNOWN", "UNKNWON"):
        return []
    names = [n.strip("()（）[]【】<>《》,，;；:：") for n in re.split(r"[\s、,，;；]+", value)]
    return [n for n in names if n]


def author_found(truth: list[str], ours: tuple[str, ...] | list[str]) -> bool:
    """A known author counts as found when one of its names occurs in our author string."""
    joined = " ".join(ours).lower()
    return any(n.lower() in joined for n in truth)


# --- data sets -------------------------------------------------------------------------------------------

@dataclass
class Page:
    id: str
    path: Path
    url: str
    truth: str
    truth_date: str | None = None
    truth_authors: str | None = None

    def read(self) -> bytes:
        data = self.path.read_bytes()
        return gzip.decompress(data) if self.path.suffix == ".gz" else data


def detect_kind(folder: Path) -> str | None:
    if (folder / "ground-truth.json").is_file() and (folder / "html").is_dir():
        return "scrapinghub-aeb"
    if (folder / "original").is_dir() and (folder / "cleaned").is_dir():
        return "chinese-wce"
    if (folder / "reference").is_dir() and (folder / "html").is_dir():
        return "daniel-zh"
    return None


MAIN_METRIC = {"scrapinghub-aeb": "shingle", "chinese-wce": "shingle_cjk", "daniel-zh": "shingle_cjk"}
CHINESE_SETS = ("chinese-wce", "daniel-zh")


def _read_text(path: Path) -> str | None:
    return path.read_text(encoding="utf-8-sig", errors="replace") if path.is_file() else None


def load_pages(folder: Path, kind: str) -> list[Page]:
    """The labelled pages of one set, sorted by id."""
    pages: list[Page] = []
    if kind == "scrapinghub-aeb":
        truth = json.loads((folder / "ground-truth.json").read_text(encoding="utf-8"))
        for pid, entry in sorted(truth.items()):
            path = folder / "html" / f"{pid}.html.gz"
            if path.is_file():
                url = entry.get("url") or path.resolve().as_uri()
                pages.append(Page(pid, path, url, entry.get("articleBody") or ""))
    elif kind == "chinese-wce":
        for path in sorted((folder / "original").glob("*.html")):
            cleaned = _read_text(folder / "cleaned" / f"{path.stem}.txt")
            if cleaned is None:
                continue
            pages.append(Page(path.stem, path, path.resolve().as_uri(), cleaned,
                              _read_text(folder / "date" / f"{path.stem}.txt"),
                              _read_text(folder / "author" / f"{path.stem}.txt")))
    elif kind == "daniel-zh":
        for ref in sorted((folder / "reference").iterdir()):
            path = folder / "html" / f"{ref.name}.html.gz"
            if not path.is_file():
                continue
            raw = ref.read_text(encoding="utf-8-sig", errors="replace")
            paras = [re.sub(r"<[^>]+>", "", p).strip() for p in re.split(r"</p>|<p[^>]*>", raw)]
            pages.append(Page(ref.name, path, path.resolve().as_uri(), "\n".join(p for p in paras if p)))
    else:
        raise ValueError(f"unknown data set kind {kind!r}")
    return pages


def find_sets(path: str | Path) -> list[tuple[str, Path]]:
    """(kind, folder) for DIR itself or, for a parent folder, for each recognised sub-folder."""
    folder = Path(path)
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a folder")
    kind = detect_kind(folder)
    if kind:
        return [(kind, folder)]
    found = [(k, sub) for sub in sorted(folder.iterdir()) if sub.is_dir() and (k := detect_kind(sub))]
    if not found:
        raise ValueError(f"{folder}: no labelled extraction set found (scrapinghub-aeb, chinese-wce or "
                         "daniel-zh layout, or a folder of them)")
    return found


# --- running ---------------------------------------------------------------------------------------------

@dataclass
class Run:
    """What one extractor produced for one page."""

    text: str
    seconds: float
    published: str | None = None
    authors: tuple[str, ...] = ()
    language: str | None = None
    status: str | None = None
    title: str | None = None
    scores: dict[str, dict[str, Any]] = field(default_factory=dict)
    declared: str | None = None  # the page's declared language


def run_ours(body: bytes, url: str) -> Run:
    from crawler.extraction import extract_article

    t0 = time.perf_counter()
    rec = extract_article(body, url)
    dt = time.perf_counter() - t0
    return Run(rec.text or "", dt, rec.published, tuple(rec.authors), rec.language, rec.status, rec.title,
               declared=rec.meta.get("declared_language"))


@contextmanager
def _quiet(*names: str) -> Iterator[None]:
    """Silence loggers for a moment (the baseline logs an ERROR for every page it cannot decode)."""
    loggers = [logging.getLogger(n) for n in names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def run_trafilatura(body: bytes, url: str, metadata: bool = True) -> Run:
    import trafilatura

    with _quiet("trafilatura"):
        t0 = time.perf_counter()
        text = trafilatura.extract(body, url=url, include_comments=False)
        dt = time.perf_counter() - t0
    run = Run(text or "", dt)
    if metadata:  # not timed: the baseline's date and author, for the metadata columns only
        with _quiet("trafilatura"):
            tree = trafilatura.load_html(body)
            try:
                meta = trafilatura.extract_metadata(tree, default_url=url) if tree is not None else None
            except Exception:  # noqa: BLE001 - a metadata failure only means "no date"
                meta = None
        if meta is not None:
            run.published = meta.date
            run.authors = tuple(a.strip() for a in re.split(r";|,", meta.author or "") if a.strip())
    return run


EXTRACTORS: dict[str, Callable[..., Run]] = {"ours": run_ours, "trafilatura": run_trafilatura}
CRAWL = "crawl"  # not a per-page extractor: every page of a set goes through one crawl (`crawl_runs`)


def _crawl_child(urls: str, db: str) -> None:
    """Run in a spawned process: Twisted's reactor runs once per process."""
    from crawler.runner import CrawlOptions, run_crawl

    run_crawl(CrawlOptions(outlets_file=None, db=db, urls=urls, allow_private=True, polite=False))


def crawl_runs(kind: str, pages: list[Page]) -> list[Run]:
    """Each page's record as `newsdedupe crawl --urls` stores it, the pages served from 127.0.0.1 as
    `text/html` with no charset. A page the crawl did not store gives an empty run (status `not stored`)."""
    from crawler.sitesrv import FixtureSite
    from crawler.storage import open_store

    with tempfile.TemporaryDirectory(prefix="newsdedupe-eval-") as tmp:
        site = Path(tmp) / "site"
        (site / kind).mkdir(parents=True)
        names = [f"{i:05d}.html" for i in range(len(pages))]  # page ids may hold characters a URL would escape
        for name, page in zip(names, pages):
            (site / kind / name).write_bytes(page.read())
        db = str(Path(tmp) / "store.sqlite3")
        with FixtureSite(site, validators=False) as server:
            urls = [f"{server.base_url}/{kind}/{name}" for name in names]
            url_file = Path(tmp) / "urls.txt"
            url_file.write_text("\n".join(urls) + "\n", encoding="utf-8")
            t0 = time.perf_counter()
            child = multiprocessing.get_context("spawn").Process(target=_crawl_child, args=(str(url_file), db))
            child.start()
            child.join()
            seconds = (time.perf_counter() - t0) / max(1, len(pages))
        if child.exitcode != 0:
            raise RuntimeError(f"the crawl of {kind}'s pages exited with {child.exitcode}")
        with open_store(db) as store:
            stored = [store.article_for_url(url) for url in urls]
    return [Run("", seconds, status="not stored") if a is None else
            Run(a.text or "", seconds, a.published, tuple(a.authors), a.language, a.extraction_status, a.title,
                declared=a.meta.get("declared_language"))
            for a in stored]


def select(pages: list[Page], limit: int | None = None, every: int = 1) -> list[Page]:
    """A deterministic subset: every `every`-th page (sorted by id), then the first `limit` of those."""
    chosen = pages[:: max(1, every)]
    return chosen[:limit] if limit else chosen


def evaluate_set(kind: str, folder: Path, extractors: tuple[str, ...] = ("ours", "trafilatura"),
                 limit: int | None = None, every: int = 1,
                 progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Score the extractors on one labelled set; returns summary figures and per-page results."""
    pages = select(load_pages(folder, kind), limit, every)
    per_page: list[dict[str, Any]] = []
    direct = [name for name in extractors if name != CRAWL]
    crawled: list[Run] = []
    if CRAWL in extractors and pages:
        if progress:
            progress(f"{kind}: crawling {len(pages)} pages served from 127.0.0.1")
        crawled = crawl_runs(kind, pages)
    if pages:  # warm-up (imports, models, caches) outside the timings
        body = pages[0].read()
        for name in direct:
            EXTRACTORS[name](body, pages[0].url)
    for i, page in enumerate(pages, 1):
        if progress and (i == 1 or i % 25 == 0):
            progress(f"{kind}: page {i}/{len(pages)}")
        body = page.read()
        row: dict[str, Any] = {"id": page.id, "page": page, "runs": {}}
        for name in extractors:  # same page, one after the other: both see the same warm caches
            run = crawled[i - 1] if name == CRAWL else EXTRACTORS[name](body, page.url)
            run.scores = page_scores(page.truth, run.text)
            row["runs"][name] = run
        per_page.append(row)
    summary = {name: summarise(kind, [r["page"] for r in per_page], [r["runs"][name] for r in per_page])
               for name in extractors}
    return {"kind": kind, "folder": str(folder), "pages": len(pages), "main_metric": MAIN_METRIC[kind],
            "summary": summary, "per_page": per_page}


def summarise(kind: str, pages: list[Page], runs: list[Run]) -> dict[str, Any]:
    out: dict[str, Any] = {"pages": len(runs), "no_text": sum(1 for r in runs if not r.text.strip())}
    for metric in METRICS:
        out[metric] = aggregate([r.scores[metric]["tpfpfn"] for r in runs])
        out[metric]["accuracy"] = sum(r.scores[metric]["exact"] for r in runs) / len(runs) if runs else 0.0
    out["ms_per_page"] = 1000 * statistics.mean(r.seconds for r in runs) if runs else 0.0
    out["ms_median"] = 1000 * statistics.median(r.seconds for r in runs) if runs else 0.0
    if kind == "chinese-wce":
        dated = [(parse_day(p.truth_date), parse_day(r.published, iso=True)) for p, r in zip(pages, runs)
                 if parse_day(p.truth_date)]
        out["dates"] = {"pages": len(dated), "correct": sum(t == g for t, g in dated),
                        "wrong": sum(g is not None and g != t for t, g in dated),
                        "missing": sum(g is None for _, g in dated)}
        out["dates"]["accuracy"] = out["dates"]["correct"] / len(dated) if dated else 0.0
        known = [(truth_author_names(p.truth_authors), r.authors) for p, r in zip(pages, runs)
                 if truth_author_names(p.truth_authors)]
        out["authors"] = {"pages": len(known), "found": sum(author_found(t, a) for t, a in known),
                          "none_given": sum(1 for _, a in known if not a)}
        out["authors"]["accuracy"] = out["authors"]["found"] / len(known) if known else 0.0
    # Developer/test halves: pages at even positions (sorted by id) are the ones extraction was tuned on, the
    # odd ones were only measured.
    metric = MAIN_METRIC[kind]
    out["halves"] = {half: aggregate([r.scores[metric]["tpfpfn"] for r in runs[start::2]])["f1"]
                     for half, start in (("even", 0), ("odd", 1))}
    if any(r.language for r in runs):
        out["headlines"] = headline_languages(kind, pages, runs)
    if any(r.status for r in runs):
        out["status"] = dict(Counter(r.status or "none" for r in runs).most_common())
    if any(r.language for r in runs):
        langs = Counter(r.language or "none" for r in runs)
        out["languages"] = dict(langs.most_common())
        out["zh_share"] = sum(v for k, v in langs.items() if k.startswith("zh")) / len(runs)
        if kind == "daniel-zh":
            from dedupe.chinese import chinese_script

            ref = Counter((chinese_script(p.truth) or "undecided", r.language or "none")
                          for p, r in zip(pages, runs))
            out["script_vs_reference"] = {f"{a} -> {b}": v for (a, b), v in sorted(ref.items())}
            agree = sum(v for (a, b), v in ref.items() if a == b)
            decided = sum(v for (a, _), v in ref.items() if a != "undecided")
            out["script_agreement"] = agree / decided if decided else 0.0
    return out


def headline_languages(kind: str, pages: list[Page], runs: list[Run]) -> dict[str, int]:
    """Language of the headline alone against the reference text's: daniel-zh's reference headline (its first
    paragraph), else our extracted title; decided with the page's declared language and without it."""
    from dedupe.chinese import chinese_script
    from dedupe.language import detect_language

    counts = {"pages": 0, "with_declared": 0, "alone": 0}
    for page, run in zip(pages, runs):
        headline = page.truth.split("\n", 1)[0] if kind == "daniel-zh" else run.title
        reference = chinese_script(page.truth) if kind in CHINESE_SETS else detect_language(page.truth).language
        if not headline or not reference:
            continue
        counts["pages"] += 1
        counts["with_declared"] += detect_language("", headline, run.declared).language == reference
        counts["alone"] += detect_language("", headline).language == reference
    return counts


def evaluate_extraction(path: str | Path, extractors: tuple[str, ...] = ("ours", "trafilatura"),
                        limit: int | None = None, every: int = 1,
                        progress: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
    """Score every labelled set found at `path` (one set or a folder of sets)."""
    return [evaluate_set(kind, folder, extractors, limit, every, progress)
            for kind, folder in find_sets(path)]


def worst_pages(result: dict[str, Any], extractor: str = "ours", n: int = 5) -> list[dict[str, Any]]:
    """The n pages with the lowest main-metric F1 (with what went wrong in numbers)."""
    metric = result["main_metric"]
    rows = []
    for row in result["per_page"]:
        run: Run = row["runs"][extractor]
        s = run.scores[metric]
        truth_len = len(tokenize_cjk(row["page"].truth))
        pred_len = len(tokenize_cjk(run.text))
        rows.append({"id": row["id"], "f1": s["f1"], "precision": s["precision"], "recall": s["recall"],
                     "truth_tokens": truth_len, "pred_tokens": pred_len, "status": run.status})
    rows.sort(key=lambda r: (r["f1"], r["id"]))
    return rows[:n]


# --- output ----------------------------------------------------------------------------------------------

def _f(x: float) -> str:
    return f"{x:.3f}"


def body_rows(results: list[dict[str, Any]]) -> tuple[list[str], list[list[Any]]]:
    header = ["set", "extractor", "pages", "metric", "P", "R", "F1", "exact", "F1 shingle", "F1 shingle_cjk",
              "F1 token", "no text", "date acc", "author", "ms/page"]
    rows = []
    for res in results:
        for name, s in res["summary"].items():
            m = s[res["main_metric"]]
            date_cell = (f"{_f(s['dates']['accuracy'])} ({s['dates']['correct']}/{s['dates']['pages']})"
                         if "dates" in s else "")
            auth_cell = (f"{_f(s['authors']['accuracy'])} ({s['authors']['found']}/{s['authors']['pages']})"
                         if "authors" in s else "")
            rows.append([res["kind"], name, s["pages"], res["main_metric"], _f(m["precision"]),
                         _f(m["recall"]), _f(m["f1"]), _f(m["accuracy"]), _f(s["shingle"]["f1"]),
                         _f(s["shingle_cjk"]["f1"]), _f(s["token"]["f1"]), s["no_text"],
                         date_cell, auth_cell, f"{s['ms_per_page']:.0f}"])
    return header, rows


def _text_table(header: list[str], rows: list[list[Any]]) -> str:
    cells = [header] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _md_table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def _extra_lines(results: list[dict[str, Any]]) -> list[str]:
    lines = []
    for res in results:
        ours = res["summary"].get("ours")
        base = res["summary"].get("trafilatura")
        if ours is None:
            continue
        if "dates" in ours:
            d = ours["dates"]
            line = (f"{res['kind']}: dates (ours) {d['correct']} right, {d['wrong']} wrong, "
                    f"{d['missing']} missing of {d['pages']}")
            if base and "dates" in base:
                b = base["dates"]
                line += f"; trafilatura {b['correct']} right, {b['wrong']} wrong, {b['missing']} missing"
            lines.append(line)
        if "authors" in ours:
            a = ours["authors"]
            line = (f"{res['kind']}: authors (ours) {a['found']}/{a['pages']} known authors found, "
                    f"{a['none_given']} of them with no author given")
            if base and "authors" in base:
                line += f"; trafilatura {base['authors']['found']}/{base['authors']['pages']}"
            lines.append(line)
        if "languages" in ours:
            langs = ", ".join(f"{k} {v}" for k, v in ours["languages"].items())
            line = f"{res['kind']}: languages (ours) {langs}"
            if res["kind"] in CHINESE_SETS:
                line += f"; tagged zh-*: {ours['zh_share']:.1%}"
            lines.append(line)
        if "script_vs_reference" in ours:
            pairs = ", ".join(f"{k}: {v}" for k, v in ours["script_vs_reference"].items())
            lines.append(f"{res['kind']}: script of the reference text -> our tag: {pairs} "
                         f"(agreement {ours['script_agreement']:.1%} where the reference is decided)")
        if "halves" in ours:
            lines.append(f"{res['kind']}: {res['main_metric']} F1 (ours) on the pages at even positions (tuned on) "
                         f"{_f(ours['halves']['even'])}, at odd positions (held out from tuning) "
                         f"{_f(ours['halves']['odd'])}")
        if ours.get("headlines", {}).get("pages"):
            h = ours["headlines"]
            lines.append(f"{res['kind']}: headline language (ours, headline alone vs the reference text's language) "
                         f"{h['with_declared']}/{h['pages']} with the page's declared language, "
                         f"{h['alone']}/{h['pages']} without it")
        if "status" in ours:
            lines.append(f"{res['kind']}: extraction status (ours) "
                         + ", ".join(f"{k} {v}" for k, v in ours["status"].items()))
    return lines


def format_text(results: list[dict[str, Any]]) -> str:
    header, rows = body_rows(results)
    out = [_text_table(header, rows), ""] + _extra_lines(results)
    for res in results:
        if "ours" in res["summary"]:
            out.append(f"{res['kind']}: worst pages (ours, {res['main_metric']} F1): " + "; ".join(
                f"{w['id'][:40]} F1 {w['f1']:.2f} P {w['precision']:.2f} R {w['recall']:.2f} "
                f"({w['pred_tokens']}/{w['truth_tokens']} tokens, {w['status']})" for w in worst_pages(res)))
    return "\n".join(out)


def format_markdown(results: list[dict[str, Any]], command: str | None = None) -> str:
    header, rows = body_rows(results)
    out = ["# Extraction evaluation", ""]
    if command:
        out += [f"Command: `{command}`", ""]
    out += ["Main metric: `shingle` (Scrapinghub benchmark, `\\w+` 4-gram shingles) for English, "
            "`shingle_cjk` (one token per CJK character) for the Chinese sets. P = mean per-page precision "
            "over pages with text, R = mean per-page recall, F1 from the two means; exact = share of pages "
            "whose token sequence equals the truth. ms/page: mean wall time of the extraction call alone, "
            "measured in the same run.",
            "", _md_table(header, rows), ""]
    out += [f"* {line}" for line in _extra_lines(results)]
    for res in results:
        if "ours" not in res["summary"]:
            continue
        out += ["", f"## {res['kind']}: worst pages (ours)", ""]
        out.append(_md_table(["id", "F1", "P", "R", "tokens ours/truth", "status"], [
            [w["id"], f"{w['f1']:.2f}", f"{w['precision']:.2f}", f"{w['recall']:.2f}",
             f"{w['pred_tokens']}/{w['truth_tokens']}", w["status"]] for w in worst_pages(res)]))
    return "\n".join(out) + "\n"


def crawl_differences(result: dict[str, Any]) -> list[str]:
    """Ids of the pages whose crawled record differs from the direct extraction's (text, date, authors,
    language, status or title)."""
    def key(run: Run) -> tuple[Any, ...]:
        return (run.text, run.published, run.authors, run.language, run.status, run.title)

    return [row["id"] for row in result["per_page"]
            if "ours" in row["runs"] and CRAWL in row["runs"] and key(row["runs"]["ours"]) != key(row["runs"][CRAWL])]


def run_extraction_eval(path: str, report: str | None = None, limit: int | None = None,
                        progress: Callable[[str], None] | None = None, via_crawl: bool = False) -> int:
    """The `eval extraction` command: print the table; write a Markdown report with `--report FILE`;
    `via_crawl`: score what `newsdedupe crawl --urls` stores next to the direct extraction."""
    extractors = ("ours", CRAWL) if via_crawl else ("ours", "trafilatura")
    results = evaluate_extraction(path, extractors=extractors, limit=limit, progress=progress)
    print(format_text(results), flush=True)
    for res in results if via_crawl else []:
        differ = crawl_differences(res)
        print(f"{res['kind']}: crawled records that differ from the direct extraction: {len(differ)} of "
              f"{res['pages']}" + (f" ({', '.join(d[:12] for d in differ[:10])}"
                                   f"{', ...' if len(differ) > 10 else ''})" if differ else ""), flush=True)
    if report:
        command = (f"newsdedupe eval extraction {path}" + (f" --limit {limit}" if limit else "")
                   + (" --via-crawl" if via_crawl else ""))
        Path(report).parent.mkdir(parents=True, exist_ok=True)
        Path(report).write_text(format_markdown(results, command), encoding="utf-8")
        print(f"report written to {report}", flush=True)
    return 0

