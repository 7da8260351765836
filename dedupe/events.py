"""Events: stories that report the same happening, in one language or across languages and scripts.

Each story gets a term vector (TF-IDF over words, or over character bigrams for Chinese after folding to
Simplified), its numeric anchors and its date. Candidate story pairs come from an inverted index over terms
and anchors (never all pairs); a pair is scored by
- same language family: term cosine, lowered when the two carry conflicting figures;
- Chinese-English: a CC-CEDICT dictionary bridge (plus Latin-script words both sides share);
- other language pairs: name words (accents removed) and numbers normalised across scripts;
- optionally (`encoder="use"` or `"e5"`), a multilingual sentence encoder's cosine mixed into a pair's score;
and in all cases the dates must be within `event_window_days`; across languages the numbers veto a pair when
they conflict (none shared, and both lead with figures the other never mentions). Stories then join by
average-link clustering, so one strong pair cannot chain two happenings together.
"""
from __future__ import annotations

import heapq
import os
import re
import unicodedata
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache

import numpy as np

from dedupe.anchors import is_year, numbers
from dedupe.config import GroupingConfig
from dedupe.normalize import normalise_for_matching
from dedupe.pairs import following_pairs, unique_codes
from dedupe.profiles import ProfileTable, Vectors, compact, forget_run, row_dots, tfidf
from scipy.sparse import csr_matrix

_EN_STOP = frozenset(
    ["a", "about", "above", "after", "again", "against", "all", "also", "am", "an", "and", "any", "are", "as", "at", "be", "because", "been", "before", "being", "below", "between", "both", "but", "by", "can", "could", "did", "do", "does", "doing", "down", "during", "each", "few", "for", "from", "further", "had", "has", "have", "having", "he", "her", "here", "hers", "herself", "him", "himself", "his", "how", "i", "if", "in", "into", "is", "it", "its", "itself", "just", "me", "more", "most", "my", "myself", "no", "nor", "not", "now", "of", "off", "on", "once", "only", "or", "other", "our", "ours", "ourselves", "out", "over", "own", "said", "same", "says", "she", "should", "so", "some", "such", "than", "that", "the", "their", "theirs", "them", "themselves", "then", "there", "these", "they", "this", "those", "through", "to", "too", "under", "until", "up", "very", "was", "we", "were", "what", "when", "where", "which", "while", "who", "whom", "why", "will", "with", "would", "you", "your", "yours", "yourself", "yourselves", "new", "one", "two", "three", "year", "years", "told", "say", "according", "including", "people", "time", "first", "last", "week", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "mr", "mrs", "ms"]
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
    ["The", "A", "An", "In", "On", "At", "He", "She", "It", "They", "We", "I", "But", "And", "This", "That", "These", "Those", "After", "Before", "When", "While", "If", "As", "Mr", "Mrs", "Ms", "Dr", "His", "Her", "Their", "Its", "Our", "There", "Here", "What", "Who", "Why", "How", "For", "From", "With", "By", "To", "Of", "Or", "Not", "No", "Yes", "So", "Then", "Also", "Today", "Yesterday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
)
NAME_WEIGHT = 2


def names(text: str) -> Counter[str]:
    """Capitalised name-like sequences in a text, lower-cased (`ne:lindsay lohan`)."""
    out: Counter[str] = Counter()
    # Each distinct match once (a text repeats its names), counted as often as it occurs: the same counts and
    # the same order of first appearance as match by match.
    for match, count in Counter(_NAME.findall(text)).items():
        words = [w for w in match.replace("-", " ").split(" ") if w not in _NOT_NAMES]
        if words:
            out["ne:" + " ".join(words).lower()] += count
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


@cache
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


_UNSEEN = object()
# What a word contributes to `terms` (its stem, or None for a stopword, a number or a word of under 3 letters), per
# stemmer: a pure function of the word, remembered for the words met (news reuses its vocabulary from story to
# story). Cleared when it holds this many words, so a stream of odd tokens cannot grow it without bound.
_WORD_TERMS_MAX = 500_000


@cache
def _word_terms(stem_word: Callable[[str], str]) -> dict[str, str | None]:
    return {}


def _word_term(term_of: dict[str, str | None], stem_word: Callable[[str], str], word: str) -> str | None:
    if len(term_of) >= _WORD_TERMS_MAX:
        term_of.clear()
    term = None if len(word) < 3 or word.isdigit() or word in _EN_STOP else stem_word(word)
    term_of[word] = term
    return term


def terms(text: str, language: str | None = None) -> Counter[str]:
    """Content terms: stemmed words (stopwords and numbers out), Han character bigrams, and names (counted
    `NAME_WEIGHT` times). Words are stemmed for `language` (Snowball) when it is not English."""
    stem_word = _stemmer(language)
    term_of = _word_terms(stem_word)
    norm = normalise_for_matching(text)
    out: Counter[str] = Counter()
    for run in _HAN_RUN.findall(norm):
        chars = _NOT_HAN.sub("", run)
        if len(chars) > 1:
            out.update(map(str.__add__, chars[:-1], chars[1:]))
    # Count the words first, then look each distinct word up once (a text repeats its words).
    get, known = term_of.get, out.get  # (`known` rather than `out[term] += count`: no __missing__ call per term)
    for word, count in Counter(_WORD.findall(norm)).items():
        term = get(word, _UNSEEN)
        if term is _UNSEEN:
            term = _word_term(term_of, stem_word, word)
        if isinstance(term, str):  # (None: not a term)
            out[term] = known(term, 0) + count
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


BRIDGED = frozenset({"zh", "en"})


def needs_bridge(families: Iterable[str]) -> bool:
    """Chinese-English pairs cross the dictionary bridge: needed when both families are present."""
    return BRIDGED <= set(families)


def needs_neutral(families: Iterable[str]) -> bool:
    """Names-and-numbers vectors are needed for pairs in different languages without a dictionary bridge: more
    than one family that is not just Chinese and English, or a story of undetermined language."""
    fams = set(families)
    return "und" in fams or (len(fams) >= 2 and not fams <= BRIDGED)


def _plain(word: str) -> str:
    """A word without its accents (`München` -> `munchen`, `Łódź` -> `lodz`), lower-cased."""
    folded = unicodedata.normalize("NFKD", word.replace("ł", "l").replace("Ł", "L"))
    return "".join(c for c in folded if not unicodedata.combining(c)).lower()


def neutral_counts(p: StoryProfile) -> Counter[str]:
    """A story's language-neutral terms, for pairs in different languages without a dictionary bridge: the
    words of names (accents removed: names are mostly written alike in languages of one script) and the numbers
    normalised across scripts (`n:60000`)."""
    c: Counter[str] = Counter()
    for name, count in names(p.text).items():
        for w in _plain(name.removeprefix("ne:")).split():
            if len(w) >= 3:
                c[w] += count
    for a in sorted(p.anchors):  # a frozenset: its order varies with the process's string hashing
        c["n:" + a] += 1
    return c


def bridge_counts(p: StoryProfile) -> Counter[str]:
    """What the dictionary bridge compares: plain words in Latin script (English words; in a Chinese text the
    names, brands and acronyms written in Latin letters, `Apple`, `WHO`, `iPhone`, the same in both languages),
    and for a Chinese story its dictionary English words."""
    terms = p.terms
    latin = Counter({t: terms[t] for t in filter(str.isascii, terms) if t.isalpha()})
    if p.family == "zh":
        from dedupe.bridge import english_terms

        latin.update(p.english if p.english is not None else english_terms(p.text))
    return latin


def profile_table(profiles: Sequence[StoryProfile], keep_text: bool = False) -> ProfileTable:
    """The compact table of a list of profiles (`dedupe.profiles`)."""
    families = {p.family for p in profiles}
    bridge = needs_bridge(families)
    run = uuid.uuid4().hex
    block = compact(profiles, bridge, needs_neutral(families), keep_text, run)
    forget_run(run)
    return ProfileTable.build([block], BRIDGED if bridge else frozenset())


# --- the scoring rules, each over many pairs (left[k], right[k]) at once ---------------------------------------
@dataclass
class _Anchors:
    """What the rules ask about the numbers of the pairs (left[k], right[k]), counted once."""

    shared: np.ndarray  # numbers both carry
    shared_quantities: np.ndarray  # of those, the ones that do not read as years
    left_size: np.ndarray
    right_size: np.ndarray
    left_lead_in_right: np.ndarray  # left's leading figures found anywhere in right
    right_lead_in_left: np.ndarray
    left_leads: np.ndarray  # bool: left leads with figures
    right_leads: np.ndarray
    quantities: np.ndarray  # bool: both carry numbers written as quantities

    @staticmethod
    def of(t: ProfileTable, left: np.ndarray, right: np.ndarray) -> _Anchors:
        sizes = np.diff(t.anchors.indptr)
        leads = np.diff(t.lead.indptr) > 0
        return _Anchors(
            row_dots(t.anchors, t.anchors, left, right), row_dots(t.quantity_anchors, t.anchors, left, right),
            sizes[left], sizes[right], row_dots(t.lead, t.anchors, left, right),
            row_dots(t.lead, t.anchors, right, left), leads[left], leads[right],
            t.quantities[left] & t.quantities[right],
        )


def _numbers_disjoint(a: _Anchors) -> np.ndarray:
    """Both reports carry numbers that are not years (as written: `2,000` is a quantity, `2000年` a year) and
    share no number at all."""
    return a.quantities & (a.shared == 0)


def _lead_conflict(a: _Anchors) -> np.ndarray:
    """Both reports lead (headline, first sentence) with specific figures and neither's figures appear
    anywhere in the other."""
    return a.left_leads & a.right_leads & (a.left_lead_in_right == 0) & (a.right_lead_in_left == 0)


def _vetoed(a: _Anchors) -> np.ndarray:
    """The cross-language veto: the two reports share no number at all, and both lead (headline, first
    sentence) with figures the other never mentions: different happenings of one kind.

    Leading figures are what a report is about; numbers further down are often incidental (a phone number,
    an earlier toll), and vetoing on them alone cost SemEval-2022 dev zh-en Pearson 0.81 -> 0.76."""
    return _numbers_disjoint(a) & _lead_conflict(a)


def _number_conflict_factor(a: _Anchors, config: GroupingConfig) -> np.ndarray:
    """How much conflicting figures lower a same-language cosine (1.0: no conflict).

    Within a language the text is the main evidence and reports of one happening do carry different figures
    (a toll that rises, a total and a breakdown), so conflicting numbers only lower the score rather than veto
    the pair: `number_conflict_factor` when both carry non-year numbers and share no number at all, times
    `lead_conflict_factor` when, in addition or alone, both lead (headline, first sentence) with figures the
    other never mentions. A strong textual match (a rewrite) still links; a look-alike report of the same
    kind of happening with other figures ("2,000 cameras this year" vs "60,000 by 2028") does not.
    """
    factor = np.ones(len(a.shared))
    factor[_numbers_disjoint(a)] *= config.number_conflict_factor
    factor[_lead_conflict(a)] *= config.lead_conflict_factor
    return factor


def _strong_anchors(a: _Anchors) -> np.ndarray:
    """Several specific numbers in common (two or more that are not years, half of the smaller set)."""
    smaller = np.maximum(1, np.minimum(a.left_size, a.right_size))
    return (a.shared_quantities >= 2) & (a.shared >= 0.5 * smaller)


def _bridged_score(dot: np.ndarray, strong: np.ndarray, config: GroupingConfig) -> np.ndarray:
    """Bridge cosine, raised to `strong_anchor_score` when the two texts share several specific numbers.

    Measured on SemEval-2022 zh-en dev: the bridge alone gives Pearson 0.81 (0.76 with the veto); adding
    numbers as a bonus lowers it (shared incidental numbers are noise), but the 6 of 93 pairs with strong
    numeric agreement are all same- or similar-story pairs, and short reports need that evidence.
    """
    return np.where(strong, np.maximum(dot, config.strong_anchor_score), dot)


@dataclass
class Links:
    """Scored links between stories as arrays (a few bytes a link, where an `EventLink` takes over a hundred):
    stories a[k] < b[k], cross-lingual or not, score rounded to 4 places. Iterating gives `EventLink`s."""

    a: np.ndarray  # int32
    b: np.ndarray  # int32
    cross: np.ndarray  # bool: "cross-lingual", else "same-language"
    score: np.ndarray  # float64

    def __len__(self) -> int:
        return len(self.a)

    def __iter__(self) -> Iterator[EventLink]:
        return iter(self.events(np.arange(len(self.a))))

    def events(self, idx: np.ndarray) -> list[EventLink]:
        """The links idx as `EventLink`s."""
        methods = ("same-language", "cross-lingual")
        return [EventLink(i, j, methods[c], s) for i, j, c, s in
                zip(self.a[idx].tolist(), self.b[idx].tolist(), self.cross[idx].tolist(), self.score[idx].tolist())]


@dataclass
class PairScores:
    """Scored candidate story pairs (any score >= `MIN_LINK`), the pairs that must not share an event, and what
    `link_evidence` needs to explain a link."""

    links: Links | list[EventLink]
    cannot: set[tuple[int, int]]
    table: ProfileTable | None = None
    vectors: Vectors | None = None
    bridge: Vectors | None = None
    neutral: Vectors | None = None
    encoded: np.ndarray | None = None  # encoder mode: one unit vector per story


def _round4(x: np.ndarray) -> np.ndarray:
    """`round(v, 4)` of every value, as Python rounds (the decimal value), with numpy: numpy rounds x * 1e4 in
    binary, which differs from Python only within rounding error of a half; those few go through Python."""
    scaled = x * 1e4
    out = np.round(scaled) / 1e4
    near = np.abs(scaled - np.floor(scaled) - 0.5) < 1e-6
    if near.any():
        out[near] = [round(v, 4) for v in x[near].tolist()]
    return out


# Links scoring below this are not kept: they barely move an average-link mean (the event threshold is 0.2),
# and at archive scale they are most of the candidate pairs. ECB+ dev: the same clusters with 0, 0.02 and 0.05.
MIN_LINK = 0.05
_PAIR_CHUNK = 2_000_000  # candidate pairs whose cosines are computed at a time


def _vectors(t: ProfileTable, config: GroupingConfig) -> tuple[Vectors, Vectors | None, Vectors | None]:
    """TF-IDF vectors of the terms, of the dictionary bridge (Chinese and English stories) and of names and
    numbers (when some pair needs them); each drops its counts once done."""
    vectors = tfidf(t.terms, t.n, t.vocab_hashes, config.max_terms, config.candidate_terms, free=True)
    bridge = (tfidf(t.bridge, t.n, t.vocab_hashes, config.max_terms, config.candidate_terms, members=t.bridged,
                    free=True) if t.bridge is not None else None)
    neutral = (tfidf(t.neutral, t.n, t.vocab_hashes, config.max_terms, config.candidate_terms, free=True)
               if t.neutral is not None else None)
    return vectors, bridge, neutral


def _cross_dots(bridge: csr_matrix | None, neutral: csr_matrix | None, story_bridged: np.ndarray,
                left: np.ndarray, right: np.ndarray, across: np.ndarray) -> np.ndarray:
    cross = np.zeros(len(left))
    bridged = across & story_bridged[left] & story_bridged[right] if bridge is not None else np.zeros(len(left), bool)
    named = across & ~bridged
    if bridge is not None and bridged.any():
        cross[bridged] = row_dots(bridge, bridge, left[bridged], right[bridged])
    if neutral is not None and named.any():
        cross[named] = row_dots(neutral, neutral, left[named], right[named])
    return cross


def _pair_dots(matrices: Sequence[csr_matrix | None], family: np.ndarray, bridged: np.ndarray, left: np.ndarray,
               right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(term cosines, cross cosines) of the pairs (left[k], right[k]): across languages the score starts from a
    bridge cosine (Chinese-English) or a names-and-numbers cosine (other pairs); 0 for same-language pairs."""
    vectors, bridge, neutral = matrices
    assert vectors is not None
    across = (family[left] != family[right]) | (family[left] < 0)
    return row_dots(vectors, vectors, left, right), _cross_dots(bridge, neutral, bridged, left, right, across)


class _Cosines:
    """The cosines of candidate pairs (`_pair_dots`), `_PAIR_CHUNK` at a time: in this process, or with
    `workers` > 1 in worker processes that read the vectors from shared memory (one copy, whatever the number
    of workers) while this process applies the rules to the pairs done."""

    def __init__(self, t: ProfileTable, vectors: Sequence[Vectors | None], workers: int) -> None:
        self.vectors = vectors
        self.family, self.bridged = t.family, t.bridged
        self.workers = workers if workers > 1 and t.n and _shared_memory_room(vectors) else 0
        self.shared: list[object] = []
        self.pool: object | None = None

    def _share(self, a: np.ndarray) -> tuple[np.ndarray, tuple[str, str, tuple[int, ...]]]:
        """A copy of `a` in shared memory for the workers, and this process's view of it. The view reads the
        block through a mapping of its own (`_mapped`), so the vectors can keep reading it after the block is
        unlinked, without a private copy; the memory is freed with the last view."""
        from multiprocessing.shared_memory import SharedMemory

        shm = SharedMemory(create=True, size=max(1, a.nbytes))
        self.shared.append(shm)
        view = _mapped(shm.name, a)
        shm.close()  # this process reads it through `view` from now on; the block is unlinked in __exit__
        view[:] = a
        return view, (shm.name, a.dtype.str, a.shape)

    def __enter__(self) -> _Cosines:
        if self.workers:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            specs: list[object] = []
            for v in self.vectors:
                if v is None:
                    specs.append(None)
                    continue
                m = v.matrix
                shared = []
                for name in ("data", "indices", "indptr"):
                    # The matrix reads the shared copy from now on and keeps it; each private array is freed as
                    # soon as it is copied (a million stories' term weights are about 0.7 GB an array).
                    view, spec = self._share(getattr(m, name))
                    setattr(m, name, view)
                    shared.append(spec)
                v.matrix = _csr([m.data, m.indices, m.indptr], m.shape)
                specs.append((tuple(shared), m.shape))
                del m
            self.spec = (tuple(specs), self._share(self.family)[1], self._share(self.bridged)[1])
            # Spawned: the caller may have threads (a fork would copy their locks).
            self.pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"))
        return self

    def of(self, chunks: Iterable[tuple[np.ndarray, np.ndarray]]
           ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
        """(left, right, term cosines, cross cosines) for the pairs of every chunk, in order."""
        parts = ((left[s:s + _PAIR_CHUNK], right[s:s + _PAIR_CHUNK])
                 for left, right in chunks for s in range(0, len(left), _PAIR_CHUNK))
        if not self.pool:
            matrices = [None if v is None else v.matrix for v in self.vectors]
            for li, ri in parts:
                yield li, ri, *_pair_dots(matrices, self.family, self.bridged, li, ri)
            return
        from collections import deque

        pending: deque[tuple[np.ndarray, np.ndarray, object]] = deque()
        step = _PAIR_CHUNK // 4  # several tasks per worker, so that no worker waits
        for li, ri in parts:
            for s in range(0, len(li), step):
                pending.append((li[s:s + step], ri[s:s + step],
                                self.pool.submit(_shared_pair_dots, self.spec, li[s:s + step], ri[s:s + step])))  # type: ignore[attr-defined]
            while len(pending) > 2 * self.workers:
                a, b, f = pending.popleft()
                yield a, b, *f.result()  # type: ignore[attr-defined]
        while pending:
            a, b, f = pending.popleft()
            yield a, b, *f.result()  # type: ignore[attr-defined]

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)  # type: ignore[attr-defined]
        # The names go (the workers are done); the vectors keep reading the shared copy through their own
        # mappings (copying it back took another gigabyte at a million stories, at the pair stage's peak).
        for shm in self.shared:
            shm.unlink()  # type: ignore[attr-defined]
        self.shared = []


def _mapped(name: str, a: np.ndarray) -> np.ndarray:
    """An array shaped as `a` over the shared-memory block `name` (Linux: /dev/shm/<name>), through a mapping
    owned by the array: it stays readable after the block is closed and unlinked, until the array is freed."""
    import mmap

    with open(f"/dev/shm/{name}", "r+b") as fh:
        mm = mmap.mmap(fh.fileno(), max(1, a.nbytes))
    return np.frombuffer(mm, dtype=a.dtype, count=a.size).reshape(a.shape)


def _shared_memory_room(vectors: Sequence[Vectors | None]) -> bool:
    """Whether /dev/shm has room for the vectors (with a margin): writing past a full tmpfs kills a process
    with SIGBUS, so without room the cosines are computed in this process."""
    need = sum(v.matrix.data.nbytes + v.matrix.indices.nbytes + v.matrix.indptr.nbytes for v in vectors if v)
    try:
        st = os.statvfs("/dev/shm")
    except OSError:
        return False
    return st.f_bavail * st.f_frsize > 1.25 * need + (64 << 20)


def _csr(arrays: Sequence[np.ndarray], shape: tuple[int, int]) -> csr_matrix:
    m = csr_matrix((arrays[0], arrays[1], arrays[2]), shape=shape, copy=False)
    m.has_sorted_indices = True
    return m


_ATTACHED: dict[object, tuple[object, list[object]]] = {}


def _shared_pair_dots(spec: tuple[object, ...], left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`_pair_dots` over the arrays in shared memory `spec` (in a worker process; attached once)."""
    if spec not in _ATTACHED:
        from multiprocessing.shared_memory import SharedMemory

        _ATTACHED.clear()
        blocks: list[object] = []

        def attach(s: tuple[str, str, tuple[int, ...]]) -> np.ndarray:
            # (A spawned worker shares its parent's resource tracker, which the parent's unlink tells.)
            b = SharedMemory(name=s[0])
            blocks.append(b)
            return np.ndarray(s[2], dtype=np.dtype(s[1]), buffer=b.buf)

        matrix_specs, family, bridged = spec
        matrices = [None if m is None else _csr([attach(s) for s in m[0]], m[1]) for m in matrix_specs]  # type: ignore[attr-defined]
        _ATTACHED[spec] = ((matrices, attach(family), attach(bridged)), blocks)  # type: ignore[arg-type]
    matrices, family, bridged = _ATTACHED[spec][0]  # type: ignore[misc]
    return _pair_dots(matrices, family, bridged, left, right)


def score_story_pairs(t: ProfileTable, config: GroupingConfig, workers: int = 0) -> PairScores:
    """Similarity of candidate story pairs (sharing a rare term or number), and cannot-links.

    Scores as `_score_pair` says (term cosine within a language, the dictionary bridge for Chinese-English,
    names and numbers for other language pairs). Pairs dated further apart than the window are never
    candidates (`event_clusters` keeps every event within the window); a pair whose numbers veto it becomes a
    cannot-link instead. `workers` > 1: the term cosines (most of the work) are computed in that many worker
    processes, which read the vectors from shared memory; the same figures as in one process.
    """
    vectors, bridge, neutral = _vectors(t, config)
    n, width = t.n, len(t.vocab_hashes)
    # Candidates come from each story's heaviest terms only (two reports of one happening share some of those)
    # and from its numbers; the cosine of a candidate pair then uses every kept term. Keys of the four kinds
    # are numbered apart: terms, numbers, bridge terms, name words.
    a_rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(t.anchors.indptr))
    key_parts = [(vectors.key_cols, vectors.key_rows), (t.anchors.indices.astype(np.int64) + width, a_rows)]
    base = width + t.anchors.shape[1]
    if bridge is not None:
        key_parts.append((bridge.key_cols + base, bridge.key_rows))
    if neutral is not None:
        assert t.neutral_numbers is not None
        words = ~t.neutral_numbers[neutral.key_cols]  # numbers are keys already
        key_parts.append((neutral.key_cols[words] + base + width, neutral.key_rows[words]))
    # Very common keys carry little evidence and make candidate generation quadratic; reports of one
    # happening share rarer terms (names, places, numbers) too, and the pair's cosine still uses every term.
    # "Common" is counted among the stories a story could be linked with: those within the date window.
    encoded = _encode(t, config)
    fam = t.family
    found: list[list[np.ndarray | None]] = []
    cannot: set[tuple[int, int]] = set()
    # A chunk of stories' candidate pairs at a time, scored and dropped: only the kept links stay.
    chunks = _candidate_chunks(key_parts, n, t.days, config.event_window_days, candidate_cap(n))
    del key_parts, a_rows
    for v in (vectors, bridge, neutral):  # the candidate keys are in `chunks` now; the vectors keep the weights
        if v is not None:
            v.key_rows = v.key_cols = np.zeros(0, dtype=np.int64)
    with _Cosines(t, (vectors, bridge, neutral), workers) as cosines:
        for li, ri, cos, cross in cosines.of(chunks):
            across = (fam[li] != fam[ri]) | (fam[li] < 0)
            if encoded is None:
                # A same-language pair scores its cosine or less (conflicting figures only lower it): below
                # MIN_LINK it would be dropped anyway, so the rules are not applied to it (most candidate pairs).
                strong = across | (cos >= MIN_LINK)
                li, ri, cos, cross = li[strong], ri[strong], cos[strong], cross[strong]
            sims = None if encoded is None else np.einsum("ij,ij->i", encoded[li], encoded[ri])
            method_cross, score, vetoed = _score_pair(t, li, ri, cos, cross, config, sims)
            cannot.update(zip(li[vetoed].tolist(), ri[vetoed].tolist()))
            ok = ~vetoed & (score >= MIN_LINK)
            found.append([li[ok].astype(np.int32), ri[ok].astype(np.int32), method_cross[ok], _round4(score[ok])])
    # Sorted by story pair, one array at a time (at a million stories the links take about 0.3 GB; all of them
    # copied at once was the top of the stage's memory).
    columns = [_joined(found, k, dtype) for k, dtype in enumerate((np.int32, np.int32, bool, np.float64))]
    order = np.argsort((columns[0].astype(np.int64) << 32) | columns[1], kind="stable")
    for k in range(len(columns)):
        columns[k] = columns[k][order]
    del order
    links = Links(*columns)
    return PairScores(links, cannot, t, vectors, bridge, neutral, encoded)


def _joined(parts: list[list[np.ndarray | None]], k: int, dtype: type) -> np.ndarray:
    """The k-th arrays of `parts` end to end, each dropped from `parts` as it is read."""
    out = np.concatenate([p[k] for p in parts]) if parts else np.zeros(0, dtype=dtype)  # type: ignore[misc]
    for p in parts:
        p[k] = None
    return out


def _score_pair(
    t: ProfileTable, left: np.ndarray, right: np.ndarray, cos: np.ndarray, cross: np.ndarray,
    config: GroupingConfig, encoder_sim: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(cross-lingual?, score on the clustering's scale, vetoed?) for candidate pairs (left[k], right[k]) with
    their term cosines `cos` and their bridge or names-and-numbers cosines `cross`.

    Same language: term cosine. Chinese-English: the dictionary bridge; other language pairs: names and
    numbers; both rescaled so that their own thresholds meet `event_cosine`. Across languages numbers are
    the evidence, so conflicting leading figures forbid the link; within a language, reports of one
    happening often carry different figures (tolls, updates), so a conflict only lowers the score. With an
    encoder, its similarity is mixed in, but only where the lexical stage found something.
    """
    a = _Anchors.of(t, left, right)
    fam = t.family
    same = (fam[left] == fam[right]) & (fam[left] >= 0)
    factor = np.where(same, _number_conflict_factor(a, config), 1.0)
    vetoed = ~same & _vetoed(a)
    bridged = ~same & ~vetoed & t.bridged[left] & t.bridged[right] if t.bridge is not None else np.zeros_like(same)
    named = ~same & ~vetoed & ~bridged
    lexical = np.where(same, cos, 0.0)
    lexical[bridged] = (_bridged_score(cross[bridged], _strong_anchors(a)[bridged], config)
                        * config.event_cosine / config.bridge_threshold)
    lexical[named] = cross[named] * config.event_cosine / config.neutral_threshold
    lexical = np.minimum(1.0, lexical)
    if encoder_sim is not None:
        # The encoder mix (dedupe/config.py ENCODER_MIX, ENCODER_CROSS_MIX): one (weight, floor) for pairs in
        # one language, where look-alike events must stay apart and the term cosine is the better judge, and
        # one for pairs across languages, where the lexical evidence is thin.
        (weight, floor), (cross_weight, cross_floor) = config.encoder_mix(), config.encoder_cross_mix()
        weight_of = np.where(same, weight, cross_weight)
        floor_of = np.where(same, floor, cross_floor)
        scaled = np.clip((encoder_sim - floor_of) / (1.0 - floor_of), 0.0, 1.0)
        mixed = (1.0 - weight_of) * lexical + weight_of * scaled
        lexical = np.where(lexical > 0, mixed, lexical)
    score = np.where(vetoed, 0.0, lexical * factor * _date_factor(t.days[left], t.days[right], config))
    return ~same, score, vetoed


def _encode(t: ProfileTable, config: GroupingConfig) -> np.ndarray | None:
    if not config.encoder:
        return None
    from dedupe.encoder import embed

    assert t.texts is not None, "encoder mode needs the profiles' texts (keep_text)"
    return embed(t.texts, config.encoder)


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



# Stories whose candidate pairs are made and scored at a time (pairs counted by their earlier-dated story): a
# million stories' candidate pairs do not fit in memory at once (about a thousand per story in a crowded
# window); a chunk's do, and only the links above `MIN_LINK` are kept.
STORY_CHUNK = 25_000
_LIST_SLICE = 200_000  # key entries (whole posting lists) paired at a time


def _candidate_pairs(
    key_parts: Sequence[tuple[np.ndarray, np.ndarray]], n: int, days: np.ndarray | None = None,
    window: int = 10**9, cap: int | None = None, window_cap: int = WINDOW_CAP, chunk: int = STORY_CHUNK,
) -> tuple[np.ndarray, np.ndarray]:
    """Every pair (i < j) of stories sharing a key and able to share an event through it (`_windowed_pairs`
    says which), each pair once, sorted: (all i, all j). The parts of `_candidate_chunks` put together."""
    parts = [i * n + j for i, j in _candidate_chunks(key_parts, n, days, window, cap, window_cap, chunk)]
    codes = np.sort(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.int64)
    return codes // n, codes % n


def _candidate_chunks(
    key_parts: Sequence[tuple[np.ndarray, np.ndarray]], n: int, days: np.ndarray | None = None,
    window: int = 10**9, cap: int | None = None, window_cap: int = WINDOW_CAP, chunk: int = STORY_CHUNK,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The candidate pairs (i < j; `_windowed_pairs` says which) a part at a time, every pair in exactly one
    part, each part's pairs distinct and sorted: first the pairs with an undated story, then the dated pairs by
    the day of their earlier-dated story, a range of days holding about `chunk` stories at a time.

    `key_parts`: (key ids, story ids) arrays, a story at most once per key. All posting lists are handled at
    once with numpy, a slice of lists at a time; a pair is encoded as i * n + j in one int64 (`dedupe.pairs`).
    Whether a dated pair is proposed depends only on the list's stories within `window` days of either story,
    so the pairs whose earlier story is dated in [d0, d1) need the key entries of the stories dated from
    d0 - window to d1 + 2 window only.
    """
    if days is None:
        days = np.full(n, -1, dtype=np.int64)
    cap = cap if cap is not None else candidate_cap(n)
    if not key_parts:
        return
    # A million stories have some fifty million key entries: they are held as int32 (stories, days and key ids
    # all fit) and sorted by day once, one array at a time (int64 copies of them all at once were the top of
    # the pair stage's memory).
    wide = max((int(k.max()) for k, _ in key_parts if len(k)), default=0) >= 2**31
    keys = np.concatenate([k for k, _ in key_parts]).astype(np.int64 if wide else np.int32)
    stories = np.concatenate([s for _, s in key_parts]).astype(np.int32)
    del key_parts  # the caller's arrays can go now
    d = days.astype(np.int32)[stories]
    undated = d < 0
    n_undated = int(undated.sum())
    if n_undated:
        # An undated story pairs with every story of its lists of at most `cap` stories (whatever their dates).
        member = np.isin(keys, np.unique(keys[undated]))
        codes = unique_codes(i * n + j for i, j in _sliced(_undated_pairs, keys[member].astype(np.int64),
                                                           stories[member].astype(np.int64), n, days, cap))
        if len(codes):
            yield codes // n, codes % n
        del member, codes
    del undated
    # The dated entries by day (undated ones, day -1, sort first; a stable sort keeps each day's entries in
    # their order).
    order = np.argsort(d, kind="stable")[n_undated:]
    d = d[order]
    stories = stories[order]
    keys = keys[order]
    del order
    story_days = np.sort(days[days >= 0])
    pos = 0
    while pos < len(story_days):
        d0 = int(story_days[pos])
        d1 = int(story_days[min(len(story_days), pos + chunk) - 1]) + 1  # whole days: [d0, d1)
        pos = int(np.searchsorted(story_days, d1, side="left"))
        a = int(np.searchsorted(d, d0 - window, side="left"))
        b = int(np.searchsorted(d, d1 + 2 * window, side="left"))
        codes = unique_codes(i * n + j for i, j in _sliced(_dated_pairs, keys[a:b].astype(np.int64),
                                                           stories[a:b].astype(np.int64), n, days, window,
                                                           window_cap, d0, d1))
        if len(codes):
            yield codes // n, codes % n


def _sliced(fn: Callable[..., tuple[np.ndarray, np.ndarray]], keys: np.ndarray, stories: np.ndarray, n: int,
            *args: object) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """fn(keys, stories, *args) over slices of the entries sorted by (key, story), a slice ending at a key's
    end (a posting list is never split)."""
    codes = np.sort(keys * n + stories)
    keys, stories = codes // n, codes % n
    del codes
    start = 0
    while start < len(keys):
        end = min(len(keys), start + _LIST_SLICE)
        if end < len(keys):
            end = int(np.searchsorted(keys, keys[end - 1], side="right"))
        yield fn(keys[start:end], stories[start:end], *args)
        start = end


def _list_groups(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(list number of each entry, first entry of each list, size of each list) of sorted `keys`."""
    new = np.r_[True, keys[1:] != keys[:-1]]
    group = np.cumsum(new) - 1
    starts = np.flatnonzero(new)
    return group, starts, np.diff(np.r_[starts, len(keys)])


_NO_PAIRS = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))


def _undated_pairs(keys: np.ndarray, stories: np.ndarray, days: np.ndarray, cap: int
                   ) -> tuple[np.ndarray, np.ndarray]:
    """The pairs of `_windowed_pairs` with an undated story, of every posting list at once: `keys` sorted,
    `stories` ascending within a key. Returns (i, j) with i < j, possibly repeated."""
    if len(keys) < 2:
        return _NO_PAIRS
    group, starts, sizes = _list_groups(keys)
    dated = days[stories] >= 0
    # An undated story pairs with every other story of its list, if the list holds at most `cap` stories.
    undated_in = np.bincount(group, weights=(~dated).astype(np.float64), minlength=len(starts)) > 0
    eligible = (sizes <= cap) & (sizes > 1) & undated_in
    pos = np.flatnonzero(eligible[group])
    if not len(pos):
        return _NO_PAIRS
    first, second = following_pairs(starts[group[pos]] + sizes[group[pos]] - pos - 1)
    a = pos[first]
    b = a + (second - first)
    keep = ~dated[a] | ~dated[b]
    a, b = stories[a[keep]], stories[b[keep]]
    return np.minimum(a, b), np.maximum(a, b)


def _dated_pairs(keys: np.ndarray, stories: np.ndarray, days: np.ndarray, window: int, window_cap: int,
                 d0: int = -(10**9), d1: int = 10**9) -> tuple[np.ndarray, np.ndarray]:
    """The pairs of `_windowed_pairs` of two dated stories, of every posting list at once (`keys` sorted,
    `stories` ascending within a key), those whose earlier-dated story is dated in [d0, d1) only. The
    entries must hold every story of a list dated from d0 - window to d1 + 2 window that the list holds.
    Returns (i, j) with i < j, possibly repeated."""
    d = days[stories]
    idx = np.flatnonzero(d >= 0)
    if len(idx) < 2:
        return _NO_PAIRS
    group = _list_groups(keys)[0]
    # Dated stories pair with the dated stories of their window, unless more than `window_cap` of the list fall
    # within it (on either side of the pair).
    g, s, dd = group[idx], stories[idx], d[idx]
    order = np.lexsort((s, dd, g))
    g, s, dd = g[order], s[order], dd[order]
    g_lo = np.searchsorted(g, g, side="left")
    g_hi = np.searchsorted(g, g, side="right")
    span = int(dd.max()) + window + 1
    combined = g * span + dd
    lo = np.maximum(np.searchsorted(combined, combined - window, side="left"), g_lo)
    hi = np.minimum(np.searchsorted(combined, combined + window, side="right"), g_hi)
    ok = (hi - lo) <= window_cap
    # A pair's first position is its earlier-dated story (sorted by day within a list).
    first, second = following_pairs(np.where(ok & (dd >= d0) & (dd < d1), hi - np.arange(len(g)) - 1, 0))
    keep = ok[second]
    a, b = s[first[keep]], s[second[keep]]
    return np.minimum(a, b), np.maximum(a, b)


def _shared_terms(v: Vectors, t: ProfileTable, i: int, j: int) -> list[tuple[str, float]]:
    """The terms stories i and j share in `v`, as strings, each with the product of its two weights (the
    weights as Python floats, as a story's {term: weight} would give them)."""
    m = v.matrix
    li, hi = m.indptr[i], m.indptr[i + 1]
    lj, hj = m.indptr[j], m.indptr[j + 1]
    common, pi, pj = np.intersect1d(m.indices[li:hi], m.indices[lj:hj], assume_unique=True, return_indices=True)
    return [(x, wi * wj) for x, wi, wj in
            zip(t.strings.many(t.vocab_hashes[common]), m.data[li:hi][pi].tolist(), m.data[lj:hj][pj].tolist())]


def _heaviest(shared: Iterable[tuple[str, float]], k: int = 5) -> list[str]:
    """The k terms of the largest weight products (ties: by the term)."""
    return [x for x, _w in sorted(shared, key=lambda xw: (-xw[1], xw[0]))[:k]]


def _numbers_of(t: ProfileTable, i: int) -> set[str]:
    cols = t.anchors.indices[t.anchors.indptr[i]:t.anchors.indptr[i + 1]]
    return set(t.strings.many(t.anchor_hashes[cols]))


def link_evidence(link: EventLink, scores: PairScores) -> tuple[str, ...]:
    """What a labeller is shown for a link: the shared numbers, then the heaviest shared terms (for a
    Chinese-English link, the English words both sides share through the dictionary; for other language
    pairs, the name words), and in encoder mode the encoder's cosine (`encoder 0.91`)."""
    t = scores.table
    assert t is not None and scores.vectors is not None
    shared = sorted(_numbers_of(t, link.a) & _numbers_of(t, link.b), key=lambda x: (is_year(x), x))
    if link.method == "labelled":
        return ("confirmed by a labeller", *shared)
    encoded = scores.encoded
    encoder = () if encoded is None else (f"encoder {float(encoded[link.a] @ encoded[link.b]):.2f}",)
    if link.method != "same-language":
        if scores.bridge is not None and t.bridged[link.a] and t.bridged[link.b]:
            return (*shared, *_heaviest(_shared_terms(scores.bridge, t, link.a, link.b)), *encoder)
        nv = scores.neutral
        if nv is not None and nv.present[link.a] and nv.present[link.b]:
            words = [(x, w) for x, w in _shared_terms(nv, t, link.a, link.b) if not x.startswith("n:")]
            return (*shared, *_heaviest(words), *encoder)
        return (*shared, *encoder)
    terms_shared = _heaviest(_shared_terms(scores.vectors, t, link.a, link.b))
    return (*shared, *dict.fromkeys(x.removeprefix("ne:") for x in terms_shared), *encoder)  # a name and its word once


def event_clusters(
    n: int, links: Links | Sequence[EventLink], threshold: float, cannot: set[tuple[int, int]] | None = None,
    must: set[tuple[int, int]] | None = None, dates: Sequence[date | None] | np.ndarray | None = None,
    window_days: int | None = None,
) -> tuple[list[list[int]], list[EventLink]]:
    """Average-link agglomerative clustering of stories over sparse pair scores.

    Two clusters merge while the mean score over all their story pairs (pairs without a link count 0) is at
    least `threshold`, no pair between them is a cannot-link and, with `dates` (dates, or day ordinals with
    0 or less for undated) and `window_days`, their dated stories together span at most `window_days`
    (reports of one happening cluster in time; the same kind of happening months apart is another event).
    Unlike single-link, one strong pair cannot chain two different happenings together. `must` pairs
    (labellers' decisions) are merged first, whatever their dates, unless a cannot-link stands between them.
    Returns the events (each sorted, by their first story) and, per merge, the strongest link that joined them
    (the evidence shown to a labeller; a `labelled` link of score 0 when a must-link joined stories that
    share no scored link).

    Clusters whose mean reaches `threshold` hold at least one link of `threshold` or more between them, so no
    merge ever crosses the connected parts of the graph of those links (and the must-links): each part is
    clustered on its own, with its own links only (the same merges, in the same order, as all at once), and
    the structures of one part at a time are held (a million stories' links in Python dicts take gigabytes).
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    arr = links if isinstance(links, Links) else None
    objs = None if arr is not None else list(links)
    if arr is not None:
        la, lb, score = arr.a, arr.b, arr.score  # (int32: no copies of 18 M links at a million stories)
    else:
        assert objs is not None
        la = np.array([lk.a for lk in objs], dtype=np.int64)
        lb = np.array([lk.b for lk in objs], dtype=np.int64)
        score = np.array([lk.score for lk in objs], dtype=np.float64)
    days: np.ndarray | None = None
    if dates is not None and window_days is not None:
        days = (dates.astype(np.int64) if isinstance(dates, np.ndarray) else
                np.array([d.toordinal() if d else 0 for d in dates], dtype=np.int64))
    cannot = cannot or set()
    must = must or set()
    # Parts: the graph of links that can start a merge (a margin below `threshold` for float sums) and must-links.
    strong = score >= threshold - 1e-9
    must_a = np.array([a for a, _ in must], dtype=np.int64)
    must_b = np.array([b for _, b in must], dtype=np.int64)
    ea, eb = np.concatenate([la[strong], must_a]), np.concatenate([lb[strong], must_b])
    graph = coo_matrix((np.ones(len(ea), dtype=np.int8), (ea, eb)), shape=(n, n)).tocsr()
    _count, part = connected_components(graph, directed=False)
    del graph, ea, eb, strong
    sizes = np.bincount(part, minlength=_count)
    clusters: list[list[int]] = [[int(i)] for i in np.flatnonzero(sizes[part] == 1)]
    used: list[EventLink] = []
    if (sizes > 1).any():
        nodes_by_part = np.argsort(part, kind="stable")
        node_bounds = np.concatenate(([0], np.cumsum(sizes)))
        inside = np.flatnonzero(part[la] == part[lb])
        inside = inside[np.argsort(part[la[inside]], kind="stable")]
        link_parts = part[la[inside]]
        link_bounds = np.searchsorted(link_parts, np.arange(_count + 1), side="left")
        del link_parts
        cannot_of: dict[int, set[tuple[int, int]]] = defaultdict(set)
        for a, b in cannot:
            if part[a] == part[b]:
                cannot_of[int(part[a])].add((a, b))
        must_of: dict[int, set[tuple[int, int]]] = defaultdict(set)
        for a, b in must:
            must_of[int(part[a])].add((a, b))
        for p in np.flatnonzero(sizes > 1).tolist():
            idx = inside[link_bounds[p]:link_bounds[p + 1]]
            part_links = arr.events(idx) if arr is not None else [objs[k] for k in idx.tolist()]  # type: ignore[index]
            nodes = nodes_by_part[node_bounds[p]:node_bounds[p + 1]].tolist()
            got, joined = _average_link(nodes, part_links, threshold, cannot_of.pop(p, set()), must_of.pop(p, set()),
                                        days, window_days)
            clusters.extend(got)
            used.extend(joined)
    clusters = [sorted(c) for c in clusters]
    clusters.sort(key=lambda c: c[0])
    return clusters, used


def _average_link(
    nodes: list[int], links: Sequence[EventLink], threshold: float, cannot: set[tuple[int, int]],
    must: set[tuple[int, int]], days: np.ndarray | None, window_days: int | None,
) -> tuple[list[list[int]], list[EventLink]]:
    """`event_clusters` of the stories `nodes` (ascending) over the links among them."""
    members: dict[int, list[int]] = {i: [i] for i in nodes}
    # Each cluster's first and last day (ordinals), or None while it holds no dated story.
    span: dict[int, tuple[int, int] | None] = {}
    if days is not None and window_days is not None:
        for i, d in zip(nodes, days[nodes].tolist()):
            span[i] = (d, d) if d > 0 else None

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

    owner = {i: i for i in nodes}  # story -> the cluster holding it, for the must-link merges
    for a, b in sorted(must):
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
    return list(members.values()), used


def _root(owner: dict[int, int], i: int) -> int:
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


def _date_factor(left_days: np.ndarray, right_days: np.ndarray, config: GroupingConfig) -> np.ndarray:
    """How much the days between two stories lower their score, for arrays of pairs (day ordinals, -1 undated):
    1.0 within `date_decay_start_days` (or when either is undated), then linearly down to `date_decay_factor` at
    `event_window_days` apart."""
    start, end = config.date_decay_start_days, config.event_window_days
    if end <= start:
        return np.ones(len(left_days))
    days = np.abs(left_days - right_days).astype(np.float64)
    decay = 1.0 - (1.0 - config.date_decay_factor) * np.clip((days - start) / (end - start), 0.0, 1.0)
    return np.where((left_days < 0) | (right_days < 0), 1.0, decay)


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
    t = profile_table(profiles, keep_text=bool(config.encoder))
    vectors, bridge, neutral = _vectors(t, config)
    left = np.arange(0, 2 * len(items), 2, dtype=np.int64)
    right = left + 1
    cos, cross = _pair_dots([None if v is None else v.matrix for v in (vectors, bridge, neutral)], t.family,
                            t.bridged, left, right)
    encoded = _encode(t, config)
    sims = None if encoded is None else np.einsum("ij,ij->i", encoded[left], encoded[right])
    method_cross, score, _vetoed_pairs = _score_pair(t, left, right, cos, cross, config, sims)
    methods = ("same-language", "cross-lingual")
    return [(float(s), methods[c]) for s, c in zip(score.tolist(), method_cross.tolist())]
