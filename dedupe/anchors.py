"""Language-neutral anchors: numbers normalised across scripts and notations.

`60,000`, `60 000`, `60k`, `6万`, `六萬` all become `60000`; `HK$1.2 billion`, `12億` and `十二亿` become
`1200000000`. Shared anchors are evidence that two reports in different languages describe one happening;
reports that both carry numbers and share none are probably different happenings.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation

_ZH_DIGITS = {"零": 0, "〇": 0, "○": 0, "一": 1, "二": 2, "两": 2, "兩": 2, "三": 3, "四": 4, "五": 5,
              "六": 6, "七": 7, "八": 8, "九": 9}
_ZH_SMALL_UNITS = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000}
_ZH_BIG_UNITS = {"万": 10_000, "萬": 10_000, "亿": 100_000_000, "億": 100_000_000}
_EN_SCALES = {"thousand": 1_000, "k": 1_000, "million": 1_000_000, "mn": 1_000_000, "m": 1_000_000,
              "billion": 1_000_000_000, "bn": 1_000_000_000, "b": 1_000_000_000, "trillion": 10**12}

_ZH_NUM_CHARS = "".join(_ZH_DIGITS) + "".join(_ZH_SMALL_UNITS) + "".join(_ZH_BIG_UNITS)
# Thousands separated by commas, or by (no-break, thin) spaces as in `60 000`; a 4-digit first group is a
# year or a plain number, never the start of a grouped one.
_ARABIC = r"(?<!\d)\d{1,3}(?:[,，]\d{3})+(?:\.\d+)?|(?<!\d)\d{1,3}(?:[ \u00a0\u202f]\d{3})+(?!\d)|\d+(?:\.\d+)?"
_NUMBER_RE = re.compile(
    rf"(?P<arabic>{_ARABIC})\s*(?P<zhunit>[万萬亿億千])?"
    rf"(?:\s*(?P<enscale>thousand|million|billion|trillion|bn|mn)\b|(?P<short>[kmb])\b)?"
    rf"|(?P<zh>[{_ZH_NUM_CHARS}]{{2,}}|[一二两兩三四五六七八九十][万萬亿億千百])",
    re.IGNORECASE,
)


def parse_chinese_numeral(s: str) -> int | None:
    """Parse 六萬, 二千, 十二億, 三百五十, 二〇二八 (digit by digit); None if it is not a number."""
    if not s:
        return None
    if all(c in _ZH_DIGITS for c in s):
        if len(s) < 2:
            return _ZH_DIGITS[s]
        return int("".join(str(_ZH_DIGITS[c]) for c in s))  # 二〇二八 -> 2028
    total = 0  # everything above the current 万 group
    section = 0  # the current group below 万
    digit: int | None = None
    for c in s:
        if c in _ZH_DIGITS:
            digit = _ZH_DIGITS[c]
        elif c in _ZH_SMALL_UNITS:
            section += (digit if digit is not None else 1) * _ZH_SMALL_UNITS[c]
            digit = None
        elif c in _ZH_BIG_UNITS:
            unit = _ZH_BIG_UNITS[c]
            group = section + (digit or 0)
            if unit == 100_000_000:
                # 亿 scales everything before it: 一万亿 = 10^12, 三亿 = 3*10^8.
                total = (total + group) * unit
                if total == 0:
                    return None
            else:
                if group == 0:
                    return None
                total += group * unit
            section = 0
            digit = None
        else:
            return None
    return total + section + (digit or 0)


def _canonical(value: Decimal) -> str:
    if value == value.to_integral_value():
        return str(int(value))
    return format(value.normalize(), "f")


_SEPARATORS = re.compile(r"[,，\s\u00a0\u202f]")
_FOUR_DIGITS = re.compile(r"\d{4}")


# Every number starts with a digit or a Chinese numeral: scanning for those first (a one-class pattern, which the
# regex engine searches fast) and trying the full pattern only there is 5-8x faster than `finditer` alone,
# which tries every alternative at every position of the text.
_NUMBER_START = re.compile(rf"[\d{_ZH_NUM_CHARS}]")


def _number_matches(t: str) -> Iterator[re.Match[str]]:
    """What `_NUMBER_RE.finditer(t)` gives, found faster."""
    search, match = _NUMBER_START.search, _NUMBER_RE.match
    pos = 0
    while (start := search(t, pos)) is not None:
        m = match(t, start.start())
        if m is None:
            pos = start.start() + 1
        else:
            yield m
            pos = m.end() if m.end() > m.start() else m.end() + 1


# Chinese writes quantities without separators: `2000部` (2,000 cameras) is a quantity, `2000年` a year.
_MEASURE = frozenset("部个個名宗人件台輛辆架支座间間家项項条條次元张張份位所")


def numbers(text: str) -> list[tuple[str, bool]]:
    """All numbers in `text` as (canonical value, is_year) in order of appearance; numbers below 10 skipped."""
    t = unicodedata.normalize("NFKC", text)
    out: list[tuple[str, bool]] = []
    for m in _number_matches(t):
        if m.group("zh"):
            value = parse_chinese_numeral(m.group("zh"))
            if value is None:
                continue
            dec = Decimal(value)
            raw_is_digits = all(c in _ZH_DIGITS for c in m.group("zh"))
        elif (arabic := m.group("arabic")).isdigit() and not (m.group("zhunit") or m.group("enscale") or m.group("short")):
            # The common case, a plain integer: no Decimal needed.
            value = int(arabic)
            if value >= 10:
                end = m.end("arabic")
                out.append((str(value), len(arabic) == 4 and 1900 <= value <= 2100 and t[end:end + 1] not in _MEASURE))
            continue
        else:
            raw = _SEPARATORS.sub("", arabic) if not arabic.isdigit() else arabic
            try:
                dec = Decimal(raw)
            except InvalidOperation:
                continue
            raw_is_digits = (
                _FOUR_DIGITS.fullmatch(arabic) is not None
                and m.group("zhunit") is None
                and not (m.group("enscale") or m.group("short"))
            )
            if m.group("zhunit"):
                dec *= {"万": 10_000, "萬": 10_000, "亿": 100_000_000, "億": 100_000_000, "千": 1000}[m.group("zhunit")]
            scale = (m.group("enscale") or m.group("short") or "").lower()
            if scale:
                dec *= _EN_SCALES[scale]
        if dec < 10:
            continue
        is_year = raw_is_digits and dec == dec.to_integral_value() and 1900 <= dec <= 2100
        out.append((_canonical(dec), bool(is_year)))
    return out


def anchor_set(text: str) -> frozenset[str]:
    """The distinct canonical numbers of a text (years included)."""
    return frozenset(v for v, _ in numbers(text))


def is_year(anchor: str) -> bool:
    return anchor.isdigit() and len(anchor) == 4 and 1900 <= int(anchor) <= 2100
