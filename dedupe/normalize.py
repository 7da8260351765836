"""Text normalisation before shingling: boilerplate lines out, case and width folded, Chinese to Simplified."""
from __future__ import annotations

import re
import unicodedata

from dedupe.chinese import HAN_RE, to_simplified

# Lines that syndication adds or changes and that say nothing about the story.
_BOILERPLATE_LINE = re.compile(
    r"""^\s*(?:
        (?:read|see)\s+(?:more|also)\b.{0,200}
      | related(?:\s+(?:stories|articles|news))?\s*:.{0,200}
      | (?:copyright\s*(?:©|\(c\)|\d{4})|\(c\)\s*\d{4}|©).{0,200}
      | all\s+rights\s+reserved.{0,100}
      | (?:this|the)\s+(?:story|article|report)\s+(?:was|is|has\s+been)\s+(?:provided|distributed|supplied|
            published|syndicated|republished|written)\b.{0,200}
      | (?:follow|like)\s+us\s+on\b.{0,200}
      | share\s+(?:this|on)\b.{0,100}
      | (?:reporting|writing|editing|additional\s+reporting)\s+by\b.{0,200}
      | by\s+[A-Z][\w.'-]+(?:\s+[A-Z][\w.'-]+){0,3}(?:\s*(?:,|and)\s*[A-Z][\w.'-]+(?:\s+[A-Z][\w.'-]+){0,3})*\s*$
      | (?:延伸阅读|延伸閱讀|相关新闻|相關新聞|责任编辑|責任編輯|编辑|編輯|来源|來源|版权所有|版權所有)\s*[:：].{0,200}
      | (?:记者|記者)\s*\S{1,12}\s*(?:报道|報道|报导|報導)\s*$
    )\s*$""",
    re.IGNORECASE | re.VERBOSE,
)
# A wire dateline opening the first line: "HONG KONG (Pacific Wire) — ", "LONDON, Oct 3 (Reuters) - ".
_DATELINE = re.compile(
    r"^\s*[A-Z][A-Z .,'’-]{1,40}(?:,\s*[A-Z][a-z]{2,8}\.?\s+\d{1,2})?\s*(?:\([^)]{1,40}\))?\s*[—–-]{1,2}\s+"
)
# Chinese datelines: 【新报讯】, （中央社記者王明香港3日電）, 本报讯
_ZH_DATELINE = re.compile(r"^\s*(?:【[^】]{1,30}】|[（(][^）)]{1,40}[电電][）)]|本[报報]讯|本[报報]訊)\s*")

_WS = re.compile(r"\s+")


def strip_boilerplate(text: str) -> str:
    """Drop syndication boilerplate lines and a leading wire dateline."""
    lines = [ln for ln in text.splitlines() if ln.strip() and not _BOILERPLATE_LINE.match(ln)]
    if lines:
        first = _DATELINE.sub("", lines[0], count=1)
        first = _ZH_DATELINE.sub("", first, count=1)
        lines[0] = first
    return "\n".join(lines)


_PUNCT_FOLD = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "–": "-", "—": "-", "―": "-", "‒": "-",
                             "−": "-"})


def fold(text: str) -> str:
    """NFKC (full-width to ASCII), lower case, Traditional to Simplified, curly quotes and dashes unified."""
    t = unicodedata.normalize("NFKC", text).lower()
    t = t.translate(_PUNCT_FOLD)
    if HAN_RE.search(t):
        t = to_simplified(t)
    return t


def normalise_for_matching(text: str) -> str:
    """The text that shingles and term vectors are built from."""
    return _WS.sub(" ", fold(strip_boilerplate(text))).strip()


_HAN_CLASS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# One token per Han character; runs of other letters/digits stay whole.
_TOKEN = re.compile(rf"[{_HAN_CLASS}]|[^\W_{_HAN_CLASS}]+", re.UNICODE)


def tokens(text: str) -> list[str]:
    """Word tokens for space-separated scripts; one token per Han character."""
    return _TOKEN.findall(text)


def is_cjk_text(text: str) -> bool:
    """True when Han characters make up a large share of the letters (Chinese shingling applies)."""
    sample = text[:3000]
    n_han = len(HAN_RE.findall(sample))
    n_alpha = sum(1 for c in sample if c.isalpha())
    return n_han > 0 and n_han >= 0.3 * n_alpha
