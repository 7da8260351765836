"""Events: stories that report the same happening, in one language or across languages and scripts.

Each story gets a term vector (TF-IDF over words, or over character bigrams for Chinese after folding to
Simplified), its numeric anchors and its date. Candidate story pairs come from an inverted index over terms
and anchors (never all pairs); a pair is scored by
- same language family: term cosine, lowered when the two carry conflicting figures;
- Chinese-English: a CC-CEDICT dictionary bridge (plus Latin-script words both sides share);
- other language pairs: name words (accents removed) and numbers normalised across scripts;
- optionally (`encoder="e5"`), a multilingual sentence encoder's cosine mixed into a pair's score;
and in all cases the dates must be within `event_window_days`; across languages the numbers veto a pair when
they conflict (none shared, and both lead with figures the other never mentions). Stories then join by
average-link clustering, so one strong pair cannot chain two happenings together.
"""
from __future__ import annotations

import heapq
import math
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import lru_cache
from dataclasses import dataclass, field
from datetime import date

import numpy as np
from scipy.sparse import csr_matrix

from dedupe.anchors import is_year, numbers
from dedupe.config import GroupingConfig
from dedupe.normalize import normalise_for_matching
from dedupe.pairs import following_pairs, unique_codes

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


# Capitalised word sequences: names of people, places and organisations, which tell two look-alike
# happenings apart (two earthquakes, two arrests) better than any common word.
_NAME = re.compile(r"\b(?:[A-Z][a-z]+|[A-Z]{2,})(?:[ -](?:[A-Z][a-z]+|[A-Z]{2,}))*")
_NOT_NAMES = frozenset(
    """The A An In On At He She It They We I But And This That These Those After Before When While If As
    Mr Mrs Ms Dr His Her Their Its Our There Here What Who Why How For From With By To Of Or Not No
    Yes So Then Also Today Yesterday Monday Tuesday Wednesday Thursday Friday Saturday Sunday""".split()
)
NAME_WEIGHT = 2


def names(text: str) -> Counter[str]:
    """Capitalised name-like sequences in a text, lower-cased (`ne:lindsay lohan`)."""
    out: Counter[str] = Counter()
    for m in _NAME.finditer(text):
        words = [w for w in re.split(r"[ -]", m.group(0)) if w not in _NOT_NAMES]
        if words:
            out["ne:" + " ".join(words).lower()] += 1
    return out


def stem(word: str) -> str:
    """A light English plural stem (cameras -> camera); enough for matching, never wrong in a harmful way."""
    if len(word) > 4 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


_SNOWBALL = {"ar": "arabic", "ca": "catalan", "cs": "czech", "da": "danish", "de": "german", "el": "greek",
             "es": "spanish", "fi": "finnish", "fr": "french", "hu": "hungarian", "id": "indonesian",
             "it": "italian", "nl": "dutch", "no": "norwegian", "pl": "polish", "pt": "portuguese",
             "ro": "romanian", "ru": "russian", "sv": "swedish", "tr": "turkish", "fa": "persian", "hi": "hindi"}


@lru_cache(maxsize=None)
def _stemmer(language: str | None) -> Callable[[str], str]:
    """The word stemmer for a language: Snowball where it has one; English keeps the light plural stem."""
    algorithm = _SNOWBALL.get(language_family(language))
    if algorithm is None:
        return stem
    import snowballstemmer

    return snowballstemmer.stemmer(algorithm).stemWord


_HAN_RANGES = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# A run of Han tokens: Han characters with nothing but non-word characters (spaces, punctuation) between them,
# i.e. no other token; and the other tokens (runs of letters and digits), as `normalize.tokens` splits them.
_HAN_RUN = re.compile(rf"[{_HAN_RANGES}](?:[\W_]*[{_HAN_RANGES}])*")
_NOT_HAN = re.compile(rf"[^{_HAN_RANGES}]+")
_WORD = re.compile(rf"[^\W_{_HAN_RANGES}]+")


def terms(text: str, language: str | None = None) -> Counter[str]:
    """Content terms: stemmed words (stopwords and numbers out), Han character bigrams, and names (counted
    `NAME_WEIGHT` times). Words are stemmed for `language` (Snowball) when it is not English."""
    stem_word = _stemmer(language)
    norm = normalise_for_matching(text)
    out: Counter[str] = Counter()
    for run in _HAN_RUN.findall(norm):
        chars = _NOT_HAN.sub("", run)
        if len(chars) > 1:
            out.update(map(str.__add__, chars[:-1], chars[1:]))
    # Count the words first, then stem each distinct word once (a text repeats its words).
    for word, count in Counter(_WORD.findall(norm)).items():
        if len(word) < 3 or word.isdigit() or word in _EN_STOP:
            continue
        out[stem_word(word)] += count
    for name, count in names(text).items():
        out[name] += NAME_WEIGHT * count
    return out


@dataclass(frozen=True)
class StoryProfile:
    """What event linking knows about one story."""

    index: int
    family: str
    date: date | None
    terms: Counter[str]
    anchors: frozenset[str]
    text: str = ""  # the representative text, for the Chinese-English bridge
    lead_anchors: frozenset[str] = frozenset()  # non-year numbers of the headline and opening sentence
    quantities: frozenset[str] = frozenset()  # the anchors written as quantities, not as years
    english: Counter[str] | None = None  # a Chinese story's dictionary English words, when computed up front


@dataclass(frozen=True)
class EventLink:
    """A scored link between two stories (its evidence is computed by `link_evidence` when it is used)."""

    a: int
    b: int
    method: str  # "same-language" | "cross-lingual"
    score: float


def _tfidf(profiles: Sequence[StoryProfile], max_terms: int) -> list[dict[str, float]]:
    """Unit-length TF-IDF vectors keeping each story's `max_terms` heaviest terms."""
    return _tfidf_counts([p.terms for p in profiles], max_terms)


_TF = [0.0] + [1.0 + math.log(c) for c in range(1, 1024)]  # the term-frequency weight of small counts


def _tfidf_counts(counts: Sequence[Counter[str]], max_terms: int) -> list[dict[str, float]]:
    df: Counter[str] = Counter()
    for c in counts:
        df.update(c.keys())
    n = len(counts)
    idf = {t: math.log((n + 1) / (c + 1)) + 1.0 for t, c in df.items()}
    vectors: list[dict[str, float]] = []
    for cnt in counts:
        weights = [((_TF[c] if c < len(_TF) else 1.0 + math.log(c)) * idf[t], t) for t, c in cnt.items()]
        top = heapq.nlargest(max_terms, weights)
        norm = math.sqrt(sum(w * w for w, _ in top)) or 1.0
        vectors.append({t: w / norm for w, t in top})
    return vectors


def _numbers_disjoint(p: StoryProfile, q: StoryProfile) -> bool:
    """Both reports carry numbers that are not years (as written: `2,000` is a quantity, `2000年` a year) and
    share no number at all."""
    return bool(p.quantities and q.quantities and not (p.anchors & q.anchors))


def _vetoed(p: StoryProfile, q: StoryProfile) -> bool:
    """The cross-language veto: the two reports share no number at all, and both lead (headline, first
    sentence) with figures the other never mentions: different happenings of one kind.

    Leading figures are what a report is about; numbers further down are often incidental (a phone number,
    an earlier toll), and vetoing on them alone cost SemEval-2022 dev zh-en Pearson 0.81 -> 0.76."""
    return _numbers_disjoint(p, q) and _lead_conflict(p, q)


@dataclass(frozen=True)
class PairScores:
    """Scored candidate story pairs (any score > 0) and the pairs that must not share an event."""

    links: list[EventLink]
    cannot: set[tuple[int, int]]
    vectors: list[dict[str, float]] = field(default_factory=list)
    bridge: dict[int, dict[str, float]] = field(default_factory=dict)
    neutral: dict[int, dict[str, float]] = field(default_factory=dict)
    encoded: np.ndarray | None = None  # encoder mode: one unit vector per story


BRIDGED = frozenset({"zh", "en"})


def _bridge_vectors(profiles: Sequence[StoryProfile], max_terms: int) -> dict[int, dict[str, float]]:
    """English-term vectors for Chinese and English stories, when both are present (else nothing to bridge)."""
    families = {p.family for p in profiles}
    if not BRIDGED <= families:
        return {}
    from dedupe.bridge import english_terms

    idx = [i for i, p in enumerate(profiles) if p.family in BRIDGED]
    counts: list[Counter[str]] = []
    for i in idx:
        p = profiles[i]
        # Plain words in Latin script: English words (names split back into words; Chinese names translate word
        # by word), and in a Chinese text the names, brands and acronyms written in Latin letters (`Apple`,
        # `WHO`, `iPhone`), which are the same words in both languages.
        latin = Counter({t: c for t, c in p.terms.items() if t.isascii() and t.isalpha()})
        if p.family == "zh":
            latin.update(p.english if p.english is not None else english_terms(p.text))
        counts.append(latin)
    return dict(zip(idx, _tfidf_counts(counts, max_terms)))


def _plain(word: str) -> str:
    """A word without its accents (`München` -> `munchen`, `Łódź` -> `lodz`), lower-cased."""
    folded = unicodedata.normalize("NFKD", word.replace("ł", "l").replace("Ł", "L"))
    return "".join(c for c in folded if not unicodedata.combining(c)).lower()


def _neutral_vectors(profiles: Sequence[StoryProfile], max_terms: int) -> dict[int, dict[str, float]]:
    """Language-neutral vectors for pairs in different languages without a dictionary bridge: the words of
    names (accents removed: names are mostly written alike in languages of one script) and the numbers
    normalised across scripts. Empty when no pair needs them: one language family, or only Chinese and
    English (those pairs cross the dictionary bridge), and no story of undetermined language."""
    families = {p.family for p in profiles}
    if "und" not in families and (len(families) < 2 or families <= BRIDGED):
        return {}
    counts: list[Counter[str]] = []
    for p in profiles:
        c: Counter[str] = Counter()
        for name, count in names(p.text).items():
            for w in _plain(name.removeprefix("ne:")).split():
                if len(w) >= 3:
                    c[w] += count
        for a in p.anchors:
            c["n:" + a] += 1
        counts.append(c)
    return {i: v for i, v in enumerate(_tfidf_counts(counts, max_terms)) if v}


def _strong_anchors(a: frozenset[str], b: frozenset[str]) -> bool:
    """Several specific numbers in common (two or more that are not years, half of the smaller set)."""
    shared = a & b
    return sum(1 for x in shared if not is_year(x)) >= 2 and len(shared) >= 0.5 * max(1, min(len(a), len(b)))


def _bridged_score(
    bi: dict[str, float], bj: dict[str, float], ai: frozenset[str], aj: frozenset[str], config: GroupingConfig,
    dot: float | None = None,
) -> float:
    """Bridge cosine, raised to `strong_anchor_score` when the two texts share several specific numbers.

    Measured on SemEval-2022 zh-en dev: the bridge alone gives Pearson 0.81 (0.76 with the veto); adding
    numbers as a bonus lowers it (shared incidental numbers are noise), but the 6 of 93 pairs with strong
    numeric agreement are all same- or similar-story pairs, and short reports need that evidence.
    """
    score = _dot(bi, bj) if dot is None else dot
    if _strong_anchors(ai, aj):
        score = max(score, config.strong_anchor_score)
    return score


def _dot(a: dict[str, float], b: dict[str, float]) -> float:
    if len(a) > len(b):
        a, b = b, a
    return sum(w * b.get(t, 0.0) for t, w in a.items())


# Links scoring below this are not kept: they barely move an average-link mean (the event threshold is 0.2),
# and at archive scale they are most of the candidate pairs. ECB+ dev: the same clusters with 0, 0.02 and 0.05.
MIN_LINK = 0.05


def score_story_pairs(profiles: Sequence[StoryProfile], config: GroupingConfig) -> PairScores:
    """Similarity of candidate story pairs (sharing a rare term or number), and cannot-links.

    Scores as `_score_pair` says (term cosine within a language, the dictionary bridge for Chinese-English,
    names and numbers for other language pairs). Pairs dated further apart than the window are never
    candidates (`event_clusters` keeps every event within the window); a pair whose numbers veto it becomes a
    cannot-link instead.
    """
    vectors = _tfidf(profiles, config.max_terms)
    bridge = _bridge_vectors(profiles, config.max_terms)
    neutral = _neutral_vectors(profiles, config.max_terms)
    postings: dict[str, list[int]] = defaultdict(list)
    for i, vec in enumerate(vectors):
        # Candidates come from each story's heaviest terms only (two reports of one happening share some of
        # those); the cosine of a candidate pair then uses every kept term.
        for t in heapq.nlargest(config.candidate_terms, vec, key=vec.__getitem__):
            postings["t:" + t].append(i)
        for a in profiles[i].anchors:
            postings["n:" + a].append(i)
    for i, vec in bridge.items():
        for t in heapq.nlargest(config.candidate_terms, vec, key=vec.__getitem__):
            postings["b:" + t].append(i)
    for i, vec in neutral.items():
        for t in heapq.nlargest(config.candidate_terms, vec, key=vec.__getitem__):
            if not t.startswith("n:"):  # numbers are keys already
                postings["a:" + t].append(i)
    # Very common keys carry little evidence and make candidate generation quadratic; reports of one
    # happening share rarer terms (names, places, numbers) too, and the pair's cosine still uses every term.
    # "Common" is counted among the stories a story could be linked with: those within the date window.
    cap = candidate_cap(len(profiles))
    days = np.array([p.date.toordinal() if p.date else -1 for p in profiles], dtype=np.int64)
    left, right = _candidate_pairs(
        (ids for ids in postings.values() if len(ids) > 1), len(profiles), days, config.event_window_days, cap
    )
    del postings
    cosines = _pair_cosines(vectors, left, right)
    # Across languages the score starts from a bridge or names-and-numbers cosine: computed for every pair at
    # once like the term cosines (a pair's own `_score_pair` decides which one it uses).
    n = len(profiles)
    family_ids: dict[str, int] = {"und": -1}
    fam = np.array([family_ids.setdefault(p.family, len(family_ids)) for p in profiles], dtype=np.int64)
    across = (fam[left] != fam[right]) | (fam[left] < 0)
    bridged = across & _in(bridge, n)[left] & _in(bridge, n)[right]
    named = across & ~bridged
    cross = np.zeros(len(left))
    cross[bridged] = _pair_cosines(_rows(bridge, n), left[bridged], right[bridged])
    cross[named] = _pair_cosines(_rows(neutral, n), left[named], right[named])
    encoded = _encode(profiles, config)
    if encoded is None:
        # A same-language pair scores its cosine or less (conflicting figures only lower it): below MIN_LINK it
        # would be dropped anyway, so it is not scored one by one (most candidate pairs at archive scale).
        strong = across | (cosines >= MIN_LINK)
        left, right, cosines, cross = left[strong], right[strong], cosines[strong], cross[strong]
    links: list[EventLink] = []
    cannot: set[tuple[int, int]] = set()
    for (i, j, cos), dot in zip(_pair_rows(left, right, cosines), _chunked_list(cross)):
        p, q = profiles[i], profiles[j]
        scored = _score_pair(p, q, float(cos), bridge, neutral, config, _encoder_sim(encoded, i, j), dot)
        if scored is None:
            cannot.add((i, j))
        elif scored[1] >= MIN_LINK:
            links.append(EventLink(i, j, scored[0], round(scored[1], 4)))
    return PairScores(links, cannot, vectors, bridge, neutral, encoded)


def _score_pair(
    p: StoryProfile, q: StoryProfile, cos: float, bridge: dict[int, dict[str, float]],
    neutral: dict[int, dict[str, float]], config: GroupingConfig, encoder_sim: float | None = None,
    cross: float | None = None,
) -> tuple[str, float] | None:
    """(method, score on the clustering's scale) for a candidate pair, or None when the numbers veto it.

    Same language: term cosine. Chinese-English: the dictionary bridge; other language pairs: names and
    numbers; both rescaled so that their own thresholds meet `event_cosine`. Across languages numbers are
    the evidence, so conflicting leading figures forbid the link; within a language, reports of one
    happening often carry different figures (tolls, updates), so a conflict only lowers the score. With an
    encoder, its similarity is mixed in, but only where the lexical stage found something.
    """
    i, j = p.index, q.index
    factor = 1.0
    if p.family == q.family and p.family != "und":
        method, lexical = "same-language", cos
        factor = _number_conflict_factor(p, q, config)
    elif _vetoed(p, q):
        return None
    elif i in bridge and j in bridge:
        method = "cross-lingual"
        lexical = _bridged_score(bridge[i], bridge[j], p.anchors, q.anchors, config, cross)
        lexical *= config.event_cosine / config.bridge_threshold
    else:
        method = "cross-lingual"
        dot = _neutral_score(neutral, i, j) if cross is None else cross
        lexical = dot * config.event_cosine / config.neutral_threshold
    lexical = min(1.0, lexical)
    if encoder_sim is not None and lexical > 0:
        scaled = min(1.0, max(0.0, (encoder_sim - config.encoder_floor) / (1.0 - config.encoder_floor)))
        lexical = (1.0 - config.encoder_weight) * lexical + config.encoder_weight * scaled
    return method, lexical * factor * _date_factor(p, q, config)


def _encode(profiles: Sequence[StoryProfile], config: GroupingConfig) -> np.ndarray | None:
    if not config.encoder:
        return None
    from dedupe.encoder import embed

    return embed([p.text for p in profiles], config.encoder)


def _encoder_sim(encoded: np.ndarray | None, i: int, j: int) -> float | None:
    return None if encoded is None else float(encoded[i] @ encoded[j])


def _neutral_score(neutral: dict[int, dict[str, float]], i: int, j: int) -> float:
    return _dot(neutral[i], neutral[j]) if i in neutral and j in neutral else 0.0


def candidate_cap(n: int) -> int:
    """How many stories (within one date window) may share a key before it is too common to propose pairs:
    1% of the stories, at least 50 and at most 250 (a fixed ceiling keeps candidate pairs linear in the
    number of stories at archive scale)."""
    return max(50, min(250, n // 100))


# A key shared by more stories than this within one story's date window is common at that time: weak evidence
# for that story, and pairs that grow with the square of the archive's density.
WINDOW_CAP = 50


def _windowed_pairs(arr: np.ndarray, days: np.ndarray, window: int, cap: int,
                    window_cap: int = WINDOW_CAP) -> np.ndarray:
    """Pairs (2 x k: i, j with i < j) of one posting list `arr` (ascending story indices) that could share an
    event through this key.

    Dated stories pair with the dated stories of their date window (at most `window` days apart), but not
    where more than `window_cap` stories of the list fall within that window: the key is common at that time
    (a busy news day shares many words), weak evidence, and the pairs would grow with the square of the
    archive's density. An undated story pairs with every other story of the list, if the list holds at most
    `cap` stories.
    """
    d = days[arr]
    dated = d >= 0
    parts: list[np.ndarray] = []
    if len(arr) <= cap and not dated.all():
        x, y = np.triu_indices(len(arr), k=1)
        keep = ~dated[x] | ~dated[y]
        parts.append(np.stack([arr[x[keep]], arr[y[keep]]]))
    arr, d = arr[dated], d[dated]
    if len(arr) > 1:
        order = np.argsort(d, kind="stable")
        arr, d = arr[order], d[order]
        lo = np.searchsorted(d, d - window, side="left")
        hi = np.searchsorted(d, d + window, side="right")
        ok = (hi - lo) <= window_cap
        first, second = following_pairs(np.where(ok, hi - np.arange(len(arr)) - 1, 0))
        keep = ok[second]  # the partner's window must not be crowded either
        a, b = arr[first[keep]], arr[second[keep]]
        parts.append(np.stack([np.minimum(a, b), np.maximum(a, b)]))
    if not parts:
        return np.zeros((2, 0), dtype=np.int64)
    return np.concatenate(parts, axis=1) if len(parts) > 1 else parts[0]


def _candidate_pairs(
    posting_lists: Iterable[list[int]], n: int, days: np.ndarray | None = None, window: int = 10**9,
    cap: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Every pair (i < j) of stories sharing a posting list and able to share an event (`_windowed_pairs`),
    each pair once, sorted: (all i, all j).

    A pair is encoded as i * n + j in one int64 (`dedupe.pairs`).
    """
    if days is None:
        days = np.full(n, -1, dtype=np.int64)
    cap = cap if cap is not None else candidate_cap(n)
    pairs = (_windowed_pairs(np.asarray(ids, dtype=np.int64), days, window, cap) for ids in posting_lists)
    codes = unique_codes(pair[0] * n + pair[1] for pair in pairs)
    return codes // n, codes % n


def _in(vectors: dict[int, dict[str, float]], n: int) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    mask[list(vectors)] = True
    return mask


def _rows(vectors: dict[int, dict[str, float]], n: int) -> list[dict[str, float]]:
    empty: dict[str, float] = {}
    return [vectors.get(i, empty) for i in range(n)] if vectors else []


def _chunked_list(values: np.ndarray) -> Iterator[float]:
    step = 1_000_000
    for start in range(0, len(values), step):
        yield from values[start:start + step].tolist()


def _pair_rows(left: np.ndarray, right: np.ndarray, cosines: np.ndarray) -> Iterator[tuple[int, int, float]]:
    """(i, j, cosine) as Python numbers, a million at a time (never every pair as Python objects at once)."""
    step = 1_000_000
    for start in range(0, len(left), step):
        sl = slice(start, start + step)
        yield from zip(left[sl].tolist(), right[sl].tolist(), cosines[sl].tolist())


def _pair_cosines(vectors: Sequence[dict[str, float]], left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Dot products of unit vectors for many pairs (left[k], right[k]) at once (sparse rows, in chunks)."""
    if not len(left) or not vectors:
        return np.zeros(len(left))
    vocab: dict[str, int] = {}
    indptr, indices, data = [0], [], []
    used = np.zeros(len(vectors), dtype=bool)
    used[left] = True
    used[right] = True
    for vec, needed in zip(vectors, used.tolist()):
        if needed:  # rows of stories in no pair stay empty
            for t, w in vec.items():
                indices.append(vocab.setdefault(t, len(vocab)))
                data.append(w)
        indptr.append(len(indices))
    matrix = csr_matrix((np.asarray(data), np.asarray(indices), np.asarray(indptr)), shape=(len(vectors), len(vocab)))
    out = np.empty(len(left))
    step = 20_000
    for start in range(0, len(left), step):
        sl = slice(start, start + step)
        out[sl] = np.asarray(matrix[left[sl]].multiply(matrix[right[sl]]).sum(axis=1)).ravel()
    return out


def link_evidence(
    link: EventLink, profiles: Sequence[StoryProfile], vectors: Sequence[dict[str, float]],
    bridge: dict[int, dict[str, float]] | None = None, neutral: dict[int, dict[str, float]] | None = None,
    encoded: np.ndarray | None = None,
) -> tuple[str, ...]:
    """What a labeller is shown for a link: the shared numbers, then the heaviest shared terms (for a
    Chinese-English link, the English words both sides share through the dictionary; for other language
    pairs, the name words), and in encoder mode the encoder's cosine (`encoder 0.91`)."""
    p, q = profiles[link.a], profiles[link.b]
    shared = sorted(p.anchors & q.anchors, key=lambda x: (is_year(x), x))
    if link.method == "labelled":
        return ("confirmed by a labeller", *shared)
    encoder = () if encoded is None else (f"encoder {float(encoded[link.a] @ encoded[link.b]):.2f}",)
    if link.method != "same-language":
        if bridge and link.a in bridge and link.b in bridge:
            bi, bj = bridge[link.a], bridge[link.b]
            common = sorted(set(bi) & set(bj), key=lambda t: (-(bi[t] * bj[t]), t))[:5]
            return (*shared, *common, *encoder)
        if neutral and link.a in neutral and link.b in neutral:
            ni, nj = neutral[link.a], neutral[link.b]
            words = [t for t in set(ni) & set(nj) if not t.startswith("n:")]
            return (*shared, *sorted(words, key=lambda t: (-(ni[t] * nj[t]), t))[:5], *encoder)
        return (*shared, *encoder)
    vi, vj = vectors[link.a], vectors[link.b]
    terms_shared = sorted(set(vi) & set(vj), key=lambda t: (-(vi[t] * vj[t]), t))[:5]
    return (*shared, *dict.fromkeys(t.removeprefix("ne:") for t in terms_shared), *encoder)  # a name and its word once


def event_clusters(
    n: int, links: Sequence[EventLink], threshold: float, cannot: set[tuple[int, int]] | None = None,
    must: set[tuple[int, int]] | None = None, dates: Sequence[date | None] | None = None,
    window_days: int | None = None,
) -> tuple[list[list[int]], list[EventLink]]:
    """Average-link agglomerative clustering of stories over sparse pair scores.

    Two clusters merge while the mean score over all their story pairs (pairs without a link count 0) is at
    least `threshold`, no pair between them is a cannot-link and, with `dates` and `window_days`, their dated
    stories together span at most `window_days` (reports of one happening cluster in time; the same kind of
    happening months apart is another event). Unlike single-link, one strong pair cannot chain two different
    happenings together. `must` pairs (labellers' decisions) are merged first, whatever their dates, unless a
    cannot-link stands between them. Returns the events and, per merge, the strongest link that joined them
    (the evidence shown to a labeller; a `labelled` link of score 0 when a must-link joined stories that
    share no scored link).
    """
    cannot = cannot or set()
    members: dict[int, list[int]] = {i: [i] for i in range(n)}
    # Each cluster's first and last day (ordinals), or None while it holds no dated story.
    span: dict[int, tuple[int, int] | None] = {}
    if dates is not None and window_days is not None:
        for i, d in enumerate(dates):
            span[i] = (d.toordinal(), d.toordinal()) if d else None

    def joined_span(a: int, b: int) -> tuple[int, int] | None:
        sa, sb = span.get(a), span.get(b)
        if sa is None or sb is None:
            return sa or sb
        return min(sa[0], sb[0]), max(sa[1], sb[1])

    def allowed(a: int, b: int) -> bool:
        if b in blocked[a]:
            return False
        if not span:
            return True
        s = joined_span(a, b)
        return s is None or s[1] - s[0] <= window_days  # type: ignore[operator]

    sums: dict[int, dict[int, float]] = defaultdict(dict)
    best: dict[tuple[int, int], EventLink] = {}
    for lk in links:
        a, b = (lk.a, lk.b) if lk.a < lk.b else (lk.b, lk.a)
        sums[a][b] = sums[a].get(b, 0.0) + lk.score
        sums[b][a] = sums[b].get(a, 0.0) + lk.score
        if (a, b) not in best or lk.score > best[(a, b)].score:
            best[(a, b)] = lk
    blocked: dict[int, set[int]] = defaultdict(set)
    for a, b in cannot:
        blocked[a].add(b)
        blocked[b].add(a)
    used: list[EventLink] = []
    heap: list[tuple[float, int, int]] = []

    def merge(a: int, b: int, fallback: EventLink | None = None) -> int:
        # Evidence: the strongest single link between the two clusters.
        link = max(
            (best[(min(x, y), max(x, y))] for x in members[a] for y in members[b] if (min(x, y), max(x, y)) in best),
            key=lambda lk: (lk.score, -lk.a, -lk.b),
            default=fallback,
        )
        assert link is not None
        used.append(link)
        keep, gone = (a, b) if a < b else (b, a)
        if span:
            span[keep] = joined_span(keep, gone)
            span.pop(gone, None)
        members[keep].extend(members.pop(gone))
        for other, total in sums.pop(gone, {}).items():
            if other == keep:
                continue
            sums[other].pop(gone, None)
            sums[keep][other] = sums[keep].get(other, 0.0) + total
            sums[other][keep] = sums[keep][other]
        sums[keep].pop(gone, None)
        for other in blocked.pop(gone, set()):
            blocked[other].discard(gone)
            if other != keep:
                blocked[other].add(keep)
                blocked[keep].add(other)
        return keep

    owner = list(range(n))  # story -> the cluster holding it, for the must-link merges
    for a, b in sorted(must or ()):
        ca, cb = _root(owner, a), _root(owner, b)
        if ca == cb or cb in blocked[ca]:
            continue
        keep = merge(ca, cb, EventLink(min(a, b), max(a, b), "labelled", 0.0))
        owner[ca] = owner[cb] = keep

    for a, nbrs in sums.items():
        for b, total in nbrs.items():
            if a < b and allowed(a, b) and total / (len(members[a]) * len(members[b])) >= threshold:
                heapq.heappush(heap, (-total / (len(members[a]) * len(members[b])), a, b))
    while heap:
        neg, a, b = heapq.heappop(heap)
        if a not in members or b not in members:
            continue
        current = sums[a].get(b, 0.0) / (len(members[a]) * len(members[b]))
        if abs(current + neg) > 1e-12:  # stale entry: re-queue with the current mean
            if current >= threshold and allowed(a, b):
                heapq.heappush(heap, (-current, a, b))
            continue
        if not allowed(a, b):
            continue
        keep = merge(a, b)
        size = len(members[keep])
        for other, total in sums[keep].items():
            mean = total / (size * len(members[other]))
            if mean >= threshold and allowed(keep, other):
                heapq.heappush(heap, (-mean, min(keep, other), max(keep, other)))
    return [sorted(m) for m in members.values()], used


def _root(owner: list[int], i: int) -> int:
    while owner[i] != i:
        owner[i] = owner[owner[i]]
        i = owner[i]
    return i


def story_profile(index: int, texts: Sequence[str], language: str | None, published: date | None,
                  bridge: bool = False) -> StoryProfile:
    """Profile of a story from its representative text(s): with several, the first is the headline.
    `bridge`: a Chinese story gets its dictionary English words now (in a worker process, where the
    segmentation costs no time of the main one) rather than when pairs are scored."""
    joined = "\n".join(texts)
    found = numbers(joined)
    family = language_family(language)
    english = None
    if bridge and family == "zh":
        from dedupe.bridge import english_terms

        english = english_terms(joined)
    return StoryProfile(index, family, published, terms(joined, language),
                        frozenset(v for v, _ in found), joined, lead_anchors(texts),
                        frozenset(v for v, year in found if not year), english)


_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s+|(?<=[。！？])|\n")
LEAD_CHARS = 240


def lead_anchors(texts: Sequence[str]) -> frozenset[str]:
    """The non-year numbers a report leads with: its headline (the first of several texts) and the first
    sentence of its body (at most `LEAD_CHARS` characters). These are the figures the report is about."""
    parts = [t for t in texts if t and t.strip()]
    if not parts:
        return frozenset()
    headline = parts[0] if len(texts) > 1 and texts[0] and texts[0].strip() else ""
    body = parts[-1] if not headline or len(parts) > 1 else ""
    first = _SENTENCE_END.split(body.strip(), maxsplit=1)[0][:LEAD_CHARS] if body else ""
    return frozenset(v for v, year in numbers(headline + "\n" + first) if not year)


def _lead_conflict(p: StoryProfile, q: StoryProfile) -> bool:
    """Both reports lead with specific figures and neither's figures appear anywhere in the other."""
    return bool(p.lead_anchors and q.lead_anchors and not (p.lead_anchors & q.anchors)
                and not (q.lead_anchors & p.anchors))


def _date_factor(p: StoryProfile, q: StoryProfile, config: GroupingConfig) -> float:
    """How much the days between two stories lower their score: 1.0 within `date_decay_start_days` (or when
    either is undated), then linearly down to `date_decay_factor` at `event_window_days` apart."""
    if p.date is None or q.date is None:
        return 1.0
    days = abs((p.date - q.date).days)
    start, end = config.date_decay_start_days, config.event_window_days
    if days <= start or end <= start:
        return 1.0
    return 1.0 - (1.0 - config.date_decay_factor) * min(1.0, (days - start) / (end - start))


def _number_conflict_factor(p: StoryProfile, q: StoryProfile, config: GroupingConfig) -> float:
    """How much conflicting figures lower a same-language cosine (1.0: no conflict).

    Within a language the text is the main evidence and reports of one happening do carry different figures
    (a toll that rises, a total and a breakdown), so conflicting numbers only lower the score rather than veto
    the pair: `number_conflict_factor` when both carry non-year numbers and share no number at all, times
    `lead_conflict_factor` when, in addition or alone, both lead (headline, first sentence) with figures the
    other never mentions. A strong textual match (a rewrite) still links; a look-alike report of the same
    kind of happening with other figures ("2,000 cameras this year" vs "60,000 by 2028") does not.
    """
    factor = 1.0
    if _numbers_disjoint(p, q):
        factor *= config.number_conflict_factor
    if _lead_conflict(p, q):
        factor *= config.lead_conflict_factor
    return factor


def pair_similarities(
    items: Sequence[tuple[str, str | None, str, str | None]], config: GroupingConfig
) -> list[tuple[float, str]]:
    """Same-event similarity of text pairs, as the event linker scores them (for evaluation).

    Each item is (text1, language1, text2, language2). Term weights (IDF) come from all the texts given.
    Returns (score in [0, 1], method) per pair, the score on the clustering's scale as `_score_pair` gives it
    (0 when the numbers veto the pair).
    """
    profiles: list[StoryProfile] = []
    for n, (t1, l1, t2, l2) in enumerate(items):
        profiles.append(story_profile(2 * n, [t1], l1, None))
        profiles.append(story_profile(2 * n + 1, [t2], l2, None))
    vectors = _tfidf(profiles, config.max_terms)
    bridge = _bridge_vectors(profiles, config.max_terms)
    neutral = _neutral_vectors(profiles, config.max_terms)
    encoded = _encode(profiles, config)
    out: list[tuple[float, str]] = []
    for n in range(len(items)):
        p, q = profiles[2 * n], profiles[2 * n + 1]
        cos = _dot(vectors[2 * n], vectors[2 * n + 1])
        scored = _score_pair(p, q, cos, bridge, neutral, config, _encoder_sim(encoded, 2 * n, 2 * n + 1))
        if scored is None:
            same = p.family == q.family and p.family != "und"
            out.append((0.0, "same-language" if same else "cross-lingual"))
        else:
            out.append((scored[1], scored[0]))
    return out
