"""The topics file (TOML) and the topic matcher.

A topic is groups of terms that must all match (each group an OR of terms in any language), exclusions and
per-language search queries. Matching ignores case, width (NFKC) and Traditional/Simplified differences
(both sides folded to Simplified with OpenCC). A term written in a space-separated script matches whole words
only ("CCTV" is not found inside "Procctvia"); a term ending in `*` matches any word that starts with it
("camera*": camera, cameras). A Chinese or Japanese term matches anywhere (those scripts have no spaces).
Loading mirrors the outlets file: every problem names file, topic and field, and valid topics are kept.
"""
from __future__ import annotations

import re
import sys
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from dedupe.chinese import to_simplified, to_traditional

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DEFAULT_SEARCH_PAGES = 5
MAX_SEARCH_PAGES = 50

_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_LANG_RE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
# Scripts written without spaces between words: a term in them matches as a substring.
_UNSPACED = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u31f0-\u31ff"
_UNSPACED_RE = re.compile(f"[{_UNSPACED}]")
# A word character of a space-separated script: what may not touch a whole-word term on either side.
_WORD_CHAR = f"[^\\W{_UNSPACED}]"


def normalize(text: str) -> str:
    """The form both terms and texts are compared in: NFKC, case-folded, Traditional folded to Simplified."""
    return to_simplified(unicodedata.normalize("NFKC", text)).casefold()


@lru_cache(maxsize=4096)
def _term_pattern(term: str) -> re.Pattern[str]:
    """The regular expression for one (already normalized) term."""
    prefix = term.endswith("*")
    body = term.rstrip("*").strip()
    # Inner spaces match any run of spaces or hyphens ("surveillance camera" = "surveillance-camera").
    core = r"[\s\-\u2010\u2011]+".join(re.escape(w) for w in body.split())
    if _UNSPACED_RE.search(body[:1]) is None:
        core = f"(?<!{_WORD_CHAR})" + core
    if prefix:
        core += f"{_WORD_CHAR}*"
    elif _UNSPACED_RE.search(body[-1:]) is None:
        core += f"(?!{_WORD_CHAR})"
    return re.compile(core)


def term_in(term: str, normalized_text: str) -> bool:
    """Does a term occur in a text already passed through `normalize`?"""
    return _term_pattern(normalize(term)).search(normalized_text) is not None


@dataclass(frozen=True)
class TopicMatch:
    """What the matcher found: per field (`title`, `text`, ...), the terms that occurred there."""

    topic: str
    matched: bool
    found: dict[str, tuple[str, ...]]  # field -> terms found in it (required and excluded ones alike)
    excluded_by: tuple[str, ...] = ()  # exclusion terms found
    missing_groups: tuple[int, ...] = ()  # indexes of the `all` groups no term of which was found

    def to_dict(self) -> dict[str, Any]:
        """The record stored with an article (`meta.topic_matches[<topic>]`)."""
        return {"terms": {k: list(v) for k, v in self.found.items() if v}, "excluded_by": list(self.excluded_by)}


@dataclass(frozen=True)
class Topic:
    id: str
    name: str
    all: tuple[tuple[str, ...], ...]
    none: tuple[str, ...] = ()
    queries: dict[str, tuple[str, ...]] = field(default_factory=dict, compare=False)
    search_pages: int = DEFAULT_SEARCH_PAGES

    def match(self, fields: Mapping[str, str | None]) -> TopicMatch:
        """Match texts by field name (e.g. {"title": ..., "text": ...}): every group must have a term in
        one of the fields, and no exclusion term may occur in any."""
        normalized = {k: normalize(v) for k, v in fields.items() if v}
        found: dict[str, list[str]] = {k: [] for k in normalized}
        missing: list[int] = []
        for i, group in enumerate(self.all):
            hit = False
            for term in group:
                for key, text in normalized.items():
                    if term_in(term, text):
                        found[key].append(term)
                        hit = True
            if not hit:
                missing.append(i)
        excluded: list[str] = []
        for term in self.none:
            for key, text in normalized.items():
                if term_in(term, text):
                    found[key].append(term)
                    if term not in excluded:
                        excluded.append(term)
        return TopicMatch(
            topic=self.id, matched=not missing and not excluded,
            found={k: tuple(dict.fromkeys(v)) for k, v in found.items()},
            excluded_by=tuple(excluded), missing_groups=tuple(missing),
        )

    def match_article(self, title: str | None, text: str | None) -> TopicMatch:
        return self.match({"title": title, "text": text})

    def prefetch_score(self, title: str | None, keywords: Iterable[str], url: str) -> int | None:
        """Rank a candidate on what is known before fetching it (title, keywords, URL slug).

        Returns None when the evidence contradicts the topic (an exclusion term is there), otherwise the
        number of `all` groups the evidence already satisfies (0 .. len(all)). A 0 is no reason to skip:
        feed titles are short and often name neither place nor technology.
        """
        m = self.match({"title": title, "keywords": " ; ".join(keywords), "url": url_words(url)})
        if m.excluded_by:
            return None
        return len(self.all) - len(m.missing_groups)

    def queries_for(self, languages: Iterable[str]) -> list[tuple[str, str]]:
        """(language, query) pairs for an outlet's languages; a Chinese outlet without a query in its own
        script gets the other script's query converted. Without languages, every query."""
        langs = list(languages) or list(self.queries)
        out: list[tuple[str, str]] = []
        for lang in langs:
            queries = self.queries.get(lang)
            if not queries and lang == "zh-Hant" and self.queries.get("zh-Hans"):
                queries = tuple(to_traditional(q) for q in self.queries["zh-Hans"])
            elif not queries and lang == "zh-Hans" and self.queries.get("zh-Hant"):
                queries = tuple(to_simplified(q) for q in self.queries["zh-Hant"])
            for q in queries or ():
                if all(q != seen for _, seen in out):
                    out.append((lang, q))
        return out


def url_words(url: str) -> str:
    """The words of a URL's path (slug separators become spaces; percent-encoding decoded)."""
    path = unquote(urlsplit(url).path)
    return re.sub(r"[-_/.+]+", " ", path).strip()


# --- the topics file --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TopicProblem:
    source: str
    topic: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.source}: topic {self.topic}: {self.field}: {self.message}"


class TopicsFileError(Exception):
    def __init__(self, problems: list[TopicProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


_KNOWN = {"id", "name", "all", "none", "queries", "search_pages", "description"}


def _check_term(term: object, where: tuple[str, str, str], problems: list[TopicProblem]) -> str | None:
    source, label, key = where
    if not isinstance(term, str):
        problems.append(TopicProblem(source, label, key, f"{term!r} must be a string"))
        return None
    t = " ".join(term.split())
    if not t.rstrip("*").strip():
        problems.append(TopicProblem(source, label, key, f"{term!r}: empty term"))
        return None
    if "*" in t.rstrip("*"):
        problems.append(TopicProblem(source, label, key, f"{term!r}: '*' is only allowed at the end of a term"))
        return None
    return t


def _parse_groups(raw: object, where: tuple[str, str], problems: list[TopicProblem]) -> tuple[tuple[str, ...], ...]:
    source, label = where
    if raw is None:
        problems.append(TopicProblem(source, label, "all", "missing: a list of term groups, e.g. "
                                     "[[\"Hong Kong\", \"香港\"], [\"CCTV\", \"閉路電視\"]]"))
        return ()
    if not isinstance(raw, list) or not raw:
        problems.append(TopicProblem(source, label, "all", f"must be a non-empty list of term groups, got {raw!r}"))
        return ()
    groups: list[tuple[str, ...]] = []
    for n, group in enumerate(raw, start=1):
        key = f"all[{n}]"
        items = [group] if isinstance(group, str) else group  # a lone string is a group of one term
        if not isinstance(items, list) or not items:
            problems.append(TopicProblem(source, label, key, f"must be a non-empty list of terms, got {group!r}"))
            continue
        terms = [_check_term(t, (source, label, key), problems) for t in items]
        groups.append(tuple(t for t in terms if t))
    return tuple(groups)


def _parse_queries(raw: object, where: tuple[str, str], problems: list[TopicProblem]) -> dict[str, tuple[str, ...]]:
    source, label = where
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        problems.append(TopicProblem(source, label, "queries",
                                     f"must be a table of language = query, e.g. {{en = \"Hong Kong CCTV\"}}, got {raw!r}"))
        return {}
    out: dict[str, tuple[str, ...]] = {}
    for lang, value in raw.items():
        key = f"queries.{lang}"
        if not _LANG_RE.match(lang):
            problems.append(TopicProblem(source, label, key, f"{lang!r} is not a BCP-47 tag like 'en'"))
            continue
        if lang.lower() in ("zh", "zh-cn", "zh-tw", "zh-hk"):
            problems.append(TopicProblem(source, label, key, f"{lang!r}: use 'zh-Hans' or 'zh-Hant' for Chinese"))
            continue
        values = [value] if isinstance(value, str) else value
        if not isinstance(values, list) or not values or not all(isinstance(v, str) and v.strip() for v in values):
            problems.append(TopicProblem(source, label, key, f"must be a non-empty string or list of strings, got {value!r}"))
            continue
        out[lang] = tuple(" ".join(v.split()) for v in values)
    return out


def parse_topics(data: dict[str, Any], source: str) -> tuple[list[Topic], list[TopicProblem]]:
    """Turn parsed TOML into topics; invalid entries are reported and left out, valid ones kept."""
    problems: list[TopicProblem] = []
    topics: list[Topic] = []
    entries = data.get("topic")
    if entries is None:
        return [], [TopicProblem(source, "-", "topic", "no [[topic]] entries found")]
    if not isinstance(entries, list):
        return [], [TopicProblem(source, "-", "topic", "must be an array of tables ([[topic]])")]
    seen: set[str] = set()
    for n, raw in enumerate(entries, start=1):
        label = f"#{n}"
        if not isinstance(raw, dict):
            problems.append(TopicProblem(source, label, "-", "must be a table"))
            continue
        before = len(problems)
        tid = raw.get("id")
        if not isinstance(tid, str) or not _ID_RE.match(tid):
            problems.append(TopicProblem(source, label, "id", f"{tid!r} must be a lowercase slug like 'hk-surveillance'"))
        elif tid in seen:
            problems.append(TopicProblem(source, tid, "id", "duplicate id; ids must be unique"))
        else:
            label = tid
        seen.add(label)
        where = (source, label)
        for key in raw:
            if key not in _KNOWN:
                problems.append(TopicProblem(source, label, key, f"unknown field (known: {', '.join(sorted(_KNOWN))})"))
        name = raw.get("name", label)
        if not isinstance(name, str) or not name.strip():
            problems.append(TopicProblem(source, label, "name", "must be a non-empty string"))
            name = label
        groups = _parse_groups(raw.get("all"), where, problems)
        none_raw = raw.get("none", [])
        if isinstance(none_raw, str):
            none_raw = [none_raw]
        none: tuple[str, ...] = ()
        if not isinstance(none_raw, list):
            problems.append(TopicProblem(source, label, "none", f"must be a list of terms, got {none_raw!r}"))
        else:
            checked = [_check_term(t, (source, label, "none"), problems) for t in none_raw]
            none = tuple(t for t in checked if t)
        required = {normalize(t) for g in groups for t in g}
        for term in none:
            if normalize(term) in required:
                problems.append(TopicProblem(source, label, "none",
                                             f"{term!r} is also a required term: no article could match"))
        queries = _parse_queries(raw.get("queries"), where, problems)
        pages = raw.get("search_pages", DEFAULT_SEARCH_PAGES)
        if not isinstance(pages, int) or isinstance(pages, bool) or not 1 <= pages <= MAX_SEARCH_PAGES:
            problems.append(TopicProblem(source, label, "search_pages",
                                         f"{pages!r} must be an integer from 1 to {MAX_SEARCH_PAGES}"))
        if len(problems) > before:
            continue
        topics.append(Topic(id=label, name=name.strip(), all=groups, none=none, queries=queries, search_pages=pages))
    return topics, problems


def load_topics(path: str | Path) -> tuple[list[Topic], list[TopicProblem]]:
    """Read and validate a topics file. Returns the valid topics and the problems found.

    Raises TopicsFileError only when the file cannot be read or is not TOML at all.
    """
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TopicsFileError([TopicProblem(source, "-", "-", f"cannot read file: {exc}")]) from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TopicsFileError([TopicProblem(source, "-", "-", f"not valid TOML: {exc}")]) from exc
    return parse_topics(data, source)


class UnknownTopic(ValueError):
    """--topic names a topic the topics file does not define (validly)."""


def find_topic(path: str | Path, topic_id: str) -> tuple[Topic, list[TopicProblem]]:
    """The topic `topic_id` of a topics file and the file's problems; UnknownTopic names the known ids."""
    try:
        topics, problems = load_topics(path)
    except TopicsFileError as exc:
        raise UnknownTopic(f"--topic {topic_id}: {exc}") from exc
    for t in topics:
        if t.id == topic_id:
            return t, problems
    known = ", ".join(t.id for t in topics) or "none"
    invalid = [p for p in problems if p.topic == topic_id]
    why = f" (it has errors: {'; '.join(p.field + ': ' + p.message for p in invalid)})" if invalid else ""
    raise UnknownTopic(f"--topic {topic_id}: no such valid topic in {path}{why}; known topics: {known}")
