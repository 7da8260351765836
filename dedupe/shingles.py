"""Language-aware shingles hashed to 32-bit integers with a fast, process-independent hash (xxhash)."""
from __future__ import annotations

import numpy as np
import xxhash

from dedupe.config import GroupingConfig
from dedupe.normalize import is_cjk_text, normalise_for_matching, tokens


def uses_char_shingles(language: str | None, text: str) -> bool:
    """Chinese (and Japanese) text has no spaces: shingle characters, not words."""
    if language:
        return language.split("-")[0] in ("zh", "ja")
    return is_cjk_text(text)


def shingle_sequence(text: str, language: str | None, config: GroupingConfig) -> np.ndarray:
    """32-bit hashes of a text's n-gram shingles in reading order (repeats kept).

    Word n-grams for space-separated languages, character n-grams (after folding Traditional to
    Simplified) for Chinese. A text shorter than n tokens yields one shingle of all its tokens.
    """
    norm = normalise_for_matching(text)
    toks = tokens(norm)
    if not toks:
        return np.empty(0, dtype=np.uint32)
    char = uses_char_shingles(language, norm)
    n = config.char_ngram if char else config.word_ngram
    sep = "" if char else " "
    if len(toks) <= n:
        grams = [sep.join(toks)]
    else:
        grams = [sep.join(toks[i : i + n]) for i in range(len(toks) - n + 1)]
    h = xxhash.xxh32_intdigest
    return np.fromiter((h(g.encode("utf-8")) for g in grams), dtype=np.uint32, count=len(grams))


def shingle_hashes(text: str, language: str | None, config: GroupingConfig) -> np.ndarray:
    """Distinct shingle hashes of a text, sorted (the set MinHash signs)."""
    return np.unique(shingle_sequence(text, language, config))
