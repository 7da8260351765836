"""Language identification: BCP-47 tags (`en`, `zh-Hans`, `zh-Hant`, ...) with how each was decided.

langdetect alone calls many short Chinese headlines Korean and never names the Chinese script, so the script
of the text decides first (Han characters, told apart with OpenCC), then langdetect (seeded, so repeatable),
then the page's declared language as a fallback.
"""
from __future__ import annotations

import re

import logging
import threading
from dataclasses import dataclass

from dedupe.chinese import HAN_RE, HANGUL_RE, KANA_RE, chinese_script

log = logging.getLogger(__name__)

_lock = threading.Lock()
_ready = False


@dataclass(frozen=True)
class LanguageDecision:
    language: str | None
    source: str  # "script", "langdetect", "declared", "words" (function words of a short text), "none"


def normalise_tag(tag: str | None) -> str | None:
    """Map a declared language tag (`zh-TW`, `zh_CN`, `EN-us`, `zh-hant-hk`) to our BCP-47 form."""
    if not tag:
        return None
    t = tag.strip().replace("_", "-").lower()
    if not t:
        return None
    parts = t.split("-")
    primary = parts[0]
    if primary in ("zh", "cmn", "yue"):
        rest = set(parts[1:])
        # An explicit script subtag wins over the region (zh-Hans-HK is Simplified).
        if "hant" in rest:
            return "zh-Hant"
        if "hans" in rest:
            return "zh-Hans"
        if rest & {"tw", "hk", "mo"}:
            return "zh-Hant"
        if rest & {"cn", "sg", "my"}:
            return "zh-Hans"
        return "zh"
    if not primary.isalpha() or not 2 <= len(primary) <= 3:
        return None
    return primary


def _langdetect(text: str) -> str | None:
    global _ready
    from langdetect import DetectorFactory, detect_langs
    from langdetect.lang_detect_exception import LangDetectException

    with _lock:
        if not _ready:
            DetectorFactory.seed = 0
            _ready = True
        try:
            # detect_langs builds a fresh detector seeded from DetectorFactory.seed: repeatable.
            best = detect_langs(text[:600])  # its cost grows with the length; 600 characters decide
        except LangDetectException:
            return None
    if not best:
        return None
    code = best[0].lang
    if code.startswith("zh"):
        return "zh-Hant" if code == "zh-tw" else "zh-Hans"
    return code


_NOT_WORDS = re.compile(r"[A-Za-z0-9+/=_-]{41,}")
SHORT_TEXT = 200  # characters: below this, langdetect is unreliable (headlines, captions)
_LATIN = ["en", "fr", "de", "es", "pt", "it", "nl", "sv", "da", "no", "nb", "nn", "fi", "pl", "cs", "sk", "sl", "hr", "ro", "hu", "tr", "id", "ms", "vi", "tl", "ca", "et", "lv", "lt", "sq", "sw", "af", "so", "cy", "eu", "gl", "is", "ga", "mt"]
_CYRILLIC = ["ru", "uk", "bg", "sr", "mk", "be", "kk"]
_DECLARED_SCRIPT = {**dict.fromkeys(_LATIN, "latin"), **dict.fromkeys(_CYRILLIC, "cyrillic")}


def _script(text: str) -> str | None:
    """`latin` or `cyrillic` when at least 90% of the letters are of that script, else None."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return None
    latin = sum(1 for c in letters if c < "\u0250")
    cyrillic = sum(1 for c in letters if "\u0400" <= c <= "\u04ff")
    if latin >= 0.9 * len(letters):
        return "latin"
    if cyrillic >= 0.9 * len(letters):
        return "cyrillic"
    return None


# The commonest function words of the Latin-script languages most often confused on short texts. A headline
# too short for langdetect still carries two or three of them ("Seeking a bigger role for a big rocket", "Die
# elektronische Patientenakte - der lange Marsch ins Digitale").
_FUNCTION_WORDS = {
    "en": "the of and to a in is for on with at by from as its are was be this that after over into how why what "
          "will has have not or an",
    "de": "der die das und ist im den dem des ein eine einen mit für auf nicht von zu ins vom zum zur wie bei aus "
          "nach sich auch",
    "fr": "le la les des du et est une un dans pour sur au aux avec par pas qui que ce cette sont",
    "es": "el los las del y es una un en por para con que se al más como su sus",
    "pt": "o os as do da dos das e é um uma em no na para com por que não ao à se",
    "it": "il lo gli della del e è di un una per con che non nel alla dei sono si le",
    "nl": "de het een en van is in op met voor niet dat te zijn bij naar om ook",
}
_WORD_LANGS: dict[str, list[str]] = {}
for _lang, _words in _FUNCTION_WORDS.items():
    for _w in _words.split():
        _WORD_LANGS.setdefault(_w, []).append(_lang)
_STRIP = ".,;:!?\"'()[]{}«»“”‘’„–—…"


def _function_word_votes(text: str) -> dict[str, int]:
    """How many function words of each language a text holds (a word several languages share counts for
    each). Words are what whitespace separates: the `e` of "e-tron" is not the Portuguese `e`."""
    votes: dict[str, int] = {}
    for token in text.lower().split():
        for lang in _WORD_LANGS.get(token.strip(_STRIP), ()):
            votes[lang] = votes.get(lang, 0) + 1
    return votes


def _function_word_language(text: str, declared: str | None = None) -> str | None:
    """The language whose function words a short Latin text holds: at least two, more than any other
    language's, and, against a declared language, none of the declared language's."""
    votes = _function_word_votes(text)
    if not votes:
        return None
    ranked = sorted(votes.items(), key=lambda kv: -kv[1])
    best, n = ranked[0]
    if n < 2 or (len(ranked) > 1 and ranked[1][1] >= n):
        return None
    if declared and best != declared and votes.get(declared, 0) > 0:
        return None
    return best


def detect_language(text: str, title: str | None = None, declared: str | None = None) -> LanguageDecision:
    """Decide the language of an article (or a headline) from its text, title and declared tag.

    Args:
        text: body text (may be empty).
        title: headline, used with the text.
        declared: the page's or feed's declared language (`<html lang>`, `news:language`, outlet), if any.
    Returns:
        The language tag and how it was decided.
    """
    # ASCII runs longer than any word (base64 blobs, hashes, "xxxx…" filler) are not language: langdetect
    # reads a page made mostly of one as Somali.
    sample = _NOT_WORDS.sub(" ", f"{title or ''}\n{text or ''}").strip()
    declared_tag = normalise_tag(declared)
    if not sample:
        if declared_tag:
            return LanguageDecision(declared_tag, "declared")
        return LanguageDecision(None, "none")

    head = sample[:4000]
    n_han = len(HAN_RE.findall(head))
    n_kana = len(KANA_RE.findall(head))
    n_hangul = len(HANGUL_RE.findall(head))
    n_letters = sum(1 for c in head if c.isalpha())
    if n_han and n_han >= 0.3 * max(n_letters, 1) and n_kana < 0.05 * n_han and n_hangul < 0.05 * n_han:
        script = chinese_script(head)  # 4,000 characters decide; OpenCC over a whole long page costs
        if script:
            return LanguageDecision(script, "script")
        if declared_tag in ("zh-Hans", "zh-Hant"):
            return LanguageDecision(declared_tag, "declared")
        # No distinctive characters either way: most such short texts are read identically in both scripts.
        return LanguageDecision("zh-Hans", "script")

    # Kana only occur in Japanese, Hangul only in Korean: the script decides before langdetect (which calls
    # many short Japanese headlines Korean).
    if n_kana and n_kana + n_han >= 0.5 * max(n_letters, 1) and n_hangul == 0:
        return LanguageDecision("ja", "script")
    if n_hangul and n_hangul >= 0.5 * max(n_letters, 1):
        return LanguageDecision("ko", "script")
    # A headline is too short for langdetect ("NASA adds five companies to commercial lunar lander program"
    # comes out Italian): when the page, feed or outlet declares a language written in the text's script,
    # that declaration decides a short text.
    # Its function words decide first: a page may declare English around a German headline.
    if len(sample) < SHORT_TEXT and _script(head) == "latin" and (voted := _function_word_language(sample, declared_tag)):
        return LanguageDecision(voted, "declared" if voted == declared_tag else "words")
    if declared_tag and len(sample) < SHORT_TEXT and _script(head) == _DECLARED_SCRIPT.get(declared_tag):
        return LanguageDecision(declared_tag, "declared")
    detected = _langdetect(sample)
    if detected:
        return LanguageDecision(detected, "langdetect")
    if declared_tag:
        return LanguageDecision(declared_tag, "declared")
    return LanguageDecision(None, "none")
