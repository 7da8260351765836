"""Events: stories that report the same happening, in one language or across languages and scripts.

Each story gets a term vector (TF-IDF over words, or over character bigrams for Chinese after folding to
Simplified), its numeric anchors and its date. Candidate story pairs come from an inverted index over terms
and anchors (never all pairs); a pair is linked when
- same language family: term cosine >= `event_cosine`;
- different languages: enough shared anchors (numbers normalised across scripts), at least one not a year;
and in both cases the dates are within `event_window_days` and the anchor veto does not fire (both sides carry
numbers and share none).
"""
from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from dedupe.anchors import anchor_set, is_year
from dedupe.config import GroupingConfig
from dedupe.normalize import normalise_for_matching, tokens
from dedupe.unionfind import UnionFind

_EN_STOP = frozenset(
    """a about above after again against all also am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have having he
    her here hers herself him himself his how i if in into is it its itself just me more most my myself no nor not
    now of off on once only or other our ours ourselves out over own said same says she should so some such than
    that the their theirs them themselves then there these they this those through to too under until up very was
    we were what when where which while who whom why will with would you your yours yourself yourselves new one
    two three year years told say according including people time first last week monday tuesday wednesday
    thursday friday saturday sunday mr mrs ms""".split()
)
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def language_family(language: str | None) -> str:
    """`zh-Hans` and `zh-Hant` compare as one family once folded; others by primary subtag."""
    if not language:
        return "und"
    return language.split("-")[0].lower()


def terms(text: str) -> Counter[str]:
    """Content terms: stemmed words (stopwords and numbers out) and Han character bigrams."""
    toks = tokens(normalise_for_matching(text))
    out: Counter[str] = Counter()
    run: list[str] = []
    for t in toks:
        if _HAN.fullmatch(t):
            run.append(t)
            continue
        if len(run) > 1:
            out.update(run[i] + run[i + 1] for i in range(len(run) - 1))
        run = []
        if t.isdigit() or len(t) < 3 or t in _EN_STOP:
            continue
        if len(t) > 4 and t.endswith("s") and not t.endswith("ss"):
            t = t[:-1]
        out[t] += 1
    if len(run) > 1:
        out.update(run[i] + run[i + 1] for i in range(len(run) - 1))
    return out


@dataclass(frozen=True)
class StoryProfile:
    """What event linking knows about one story."""

    index: int
    family: str
    date: date | None
    terms: Counter[str]
    anchors: frozenset[str]


@dataclass(frozen=True)
class EventLink:
    """A link between two stories of one event, with its evidence."""

    a: int
    b: int
    method: str  # "same-language" | "cross-lingual"
    score: float
    evidence: tuple[str, ...] = field(default=())


def _tfidf(profiles: Sequence[StoryProfile], max_terms: int) -> list[dict[str, float]]:
    df: Counter[str] = Counter()
    for p in profiles:
        df.update(p.terms.keys())
    n = len(profiles)
    vectors: list[dict[str, float]] = []
    for p in profiles:
        weights = {t: (1.0 + math.log(c)) * (math.log((n + 1) / (df[t] + 1)) + 1.0) for t, c in p.terms.items()}
        top = sorted(weights.items(), key=lambda kv: (-kv[1], kv[0]))[:max_terms]
        norm = math.sqrt(sum(w * w for _, w in top)) or 1.0
        vectors.append({t: w / norm for t, w in top})
    return vectors


def _dates_compatible(a: date | None, b: date | None, window: int) -> bool:
    return a is None or b is None or abs((a - b).days) <= window


def _vetoed(a: frozenset[str], b: frozenset[str]) -> bool:
    """Both reports carry non-year numbers and share no number at all: different happenings."""
    return bool(
        any(not is_year(x) for x in a) and any(not is_year(x) for x in b) and not (a & b)
    )


def link_stories(profiles: Sequence[StoryProfile], config: GroupingConfig) -> list[EventLink]:
    """Scored links between stories that report the same happening."""
    vectors = _tfidf(profiles, config.max_terms)
    postings: dict[str, list[int]] = defaultdict(list)
    for i, vec in enumerate(vectors):
        for t in vec:
            postings["t:" + t].append(i)
        for a in profiles[i].anchors:
            postings["n:" + a].append(i)
    # Very common keys carry no evidence and make candidate generation quadratic.
    cap = max(50, int(0.05 * len(profiles)))
    candidates: set[tuple[int, int]] = set()
    for ids in postings.values():
        if 1 < len(ids) <= cap:
            for x in range(len(ids)):
                for y in range(x + 1, len(ids)):
                    candidates.add((ids[x], ids[y]))

    links: list[EventLink] = []
    for i, j in sorted(candidates):
        p, q = profiles[i], profiles[j]
        if not _dates_compatible(p.date, q.date, config.event_window_days):
            continue
        if _vetoed(p.anchors, q.anchors):
            continue
        shared_anchors = sorted(p.anchors & q.anchors, key=lambda x: (is_year(x), x))
        if p.family == q.family and p.family != "und":
            vi, vj = vectors[i], vectors[j]
            if len(vi) > len(vj):
                vi, vj = vj, vi
            cos = sum(w * vj.get(t, 0.0) for t, w in vi.items())
            if cos >= config.event_cosine:
                shared_terms = sorted(set(vi) & set(vj), key=lambda t: -(vi[t] * vj[t]))[:5]
                links.append(EventLink(i, j, "same-language", round(cos, 4), tuple(shared_anchors + shared_terms)))
        else:
            non_year = [a for a in shared_anchors if not is_year(a)]
            if len(shared_anchors) >= config.crosslingual_min_anchors and non_year:
                denom = max(1, min(len(p.anchors), len(q.anchors)))
                score = len(shared_anchors) / denom
                if score >= config.crosslingual_score:
                    links.append(EventLink(i, j, "cross-lingual", round(score, 4), tuple(shared_anchors)))
    return links


def event_clusters(n: int, links: Sequence[EventLink]) -> tuple[list[list[int]], list[EventLink]]:
    """Join stories along links, strongest first; return the events and the links that joined them."""
    uf = UnionFind(n)
    used: list[EventLink] = []
    for link in sorted(links, key=lambda lk: (-lk.score, lk.a, lk.b)):
        if uf.union(link.a, link.b):
            used.append(link)
    return uf.groups(), used


def story_profile(index: int, texts: Sequence[str], language: str | None, published: date | None) -> StoryProfile:
    """Profile of a story from its representative text(s)."""
    joined = "\n".join(texts)
    return StoryProfile(index, language_family(language), published, terms(joined), anchor_set(joined))
