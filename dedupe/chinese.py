"""Chinese script handling: Traditional/Simplified folding and script identification (OpenCC)."""
from __future__ import annotations

import re
from functools import lru_cache

import opencc

# CJK Unified Ideographs + Extension A + compatibility ideographs.
HAN_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
KANA_RE = re.compile(r"[\u3040-\u30ff]")
HANGUL_RE = re.compile(r"[\uac00-\ud7af\u1100-\u11ff]")


@lru_cache(maxsize=None)
def _converter(config: str) -> opencc.OpenCC:
    return opencc.OpenCC(config)


def to_simplified(text: str) -> str:
    """Fold Traditional characters (and HK/TW variants) to Simplified."""
    return _converter("t2s").convert(text) if HAN_RE.search(text) else text


def to_traditional(text: str) -> str:
    """Convert Simplified characters to Traditional."""
    return _converter("s2t").convert(text) if HAN_RE.search(text) else text


def script_counts(text: str) -> tuple[int, int]:
    """Count Han characters that only exist in Traditional and only in Simplified form.

    A character that OpenCC's t2s changes is Traditional-only; one that s2t changes is Simplified-only.
    Characters common to both scripts (most of them) count for neither.
    """
    han = "".join(HAN_RE.findall(text))
    if not han:
        return 0, 0
    simp = to_simplified(han)
    trad = to_traditional(han)
    # OpenCC maps one character to one character for these configs, so positions line up.
    if len(simp) != len(han) or len(trad) != len(han):
        n_trad = sum(1 for c in han if to_simplified(c) != c)
        n_simp = sum(1 for c in han if to_traditional(c) != c)
        return n_trad, n_simp
    n_trad = sum(1 for a, b in zip(han, simp) if a != b)
    n_simp = sum(1 for a, b in zip(han, trad) if a != b)
    return n_trad, n_simp


def chinese_script(text: str) -> str | None:
    """Return 'zh-Hant' or 'zh-Hans' by which script's distinctive characters dominate; None if undecided."""
    n_trad, n_simp = script_counts(text)
    if n_trad == n_simp:
        return None
    return "zh-Hant" if n_trad > n_simp else "zh-Hans"
