"""Decode page bytes: HTTP header charset, then BOM, then `<meta charset>`, then UTF-8, then detection.

Chinese pages often declare nothing; a wrong single-byte fallback (Scrapy's cp1252) turns GBK or Big5 into
mojibake, so the last resort is charset-normalizer, with GB18030 preferred over GB2312/GBK (its superset).
"""
from __future__ import annotations

import codecs
import re

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9_.:-]+)", re.IGNORECASE)

# Labels that pages use for an encoding whose superset decodes the same text and more.
_SUPERSET = {"gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "gb_2312-80": "gb18030",
             "big5": "big5hkscs", "x-big5": "big5hkscs", "iso-8859-1": "cp1252", "latin-1": "cp1252",
             "us-ascii": "cp1252", "ascii": "cp1252"}


def _lookup(label: str | None) -> str | None:
    if not label:
        return None
    name = label.strip().lower()
    name = _SUPERSET.get(name, name)
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def header_charset(content_type: str | None) -> str | None:
    if not content_type:
        return None
    m = _HEADER_CHARSET.search(content_type)
    return m.group(1) if m else None


_MULTIBYTE = {"gb18030", "big5hkscs", "big5", "euc_jp", "shift_jis", "euc_kr"}
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def _nearly_clean_chinese(body: bytes) -> tuple[str, str] | None:
    """(text, encoding) when GB18030 or Big5-HKSCS decodes `body` with at most 1 bad character in 1000 and
    at least 3 in 4 of its non-ASCII characters are Han; the one with fewer bad characters wins."""
    found = []
    for enc in ("gb18030", "big5hkscs"):
        text = body.decode(enc, errors="replace")
        bad = text.count("\ufffd")
        non_ascii = len(_NON_ASCII.findall(text)) - bad
        if non_ascii >= 20 and bad <= max(3, len(text) // 1000) and len(_HAN.findall(text)) >= 0.75 * non_ascii:
            found.append((bad, enc, text))
    if not found:
        return None
    bad, enc, text = min(found)
    return text, enc


# Characters that GBK bytes become when read as Latin-1 or Windows-1252: U+0080-U+00FF and the 27 characters
# cp1252 puts at 0x80-0x9F.
_LATIN_RUN = re.compile(
    "[\u0080-\u00ff\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc\u2013\u2014\u2018-\u201a"
    "\u201c-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122]{2,}"
)


def _latin_run_bytes(run: str, codec: str) -> bytes:
    if codec == "cp1252":  # with the five bytes cp1252 leaves undefined read as U+0081, U+008D, ...
        return b"".join(bytes([ord(c)]) if ord(c) < 256 else c.encode("cp1252") for c in run)
    return run.encode(codec)


def _unmangle(text: str, codec: str, inner_codec: str) -> tuple[str, int, int]:
    """`text` with each run of Latin letters turned back into the bytes `codec` made of them, read as GB18030
    (where the run was mangled twice, undone with `inner_codec` first); with the number of bytes the runs stand
    for (one a letter, where a run is left as it was) and of Han characters that came back."""
    latin = han = 0

    def fix(m: re.Match[str]) -> str:
        nonlocal latin, han
        run = m.group()
        try:
            raw = _latin_run_bytes(run, codec)
            try:  # read as Latin and saved as UTF-8 twice: the outer round undone, the inner one is left
                inner = raw.decode("utf-8")
                if _LATIN_RUN.fullmatch(inner) is not None:
                    raw = _latin_run_bytes(inner, inner_codec)
            except UnicodeDecodeError:
                pass
            fixed = raw.decode("gb18030")
        except (UnicodeDecodeError, UnicodeEncodeError):
            latin += len(run)
            return run
        latin += len(raw)
        han += len(_HAN.findall(fixed))
        return fixed

    return _LATIN_RUN.sub(fix, text), latin, han


def repair_gbk_mojibake(body: bytes) -> str | None:
    """The text of a GBK page that was once read as Latin-1, Latin-9 or Windows-1252 and saved as UTF-8 (once
    or twice), else None.

    Such a page is valid UTF-8 full of accented Latin letters (`±±Ÿ©Î÷Ö±ÃÅ`) that are, byte for byte, the
    GBK text (`北京西直门`); whatever it declares (often its original gb2312) is wrong for every byte. It is
    repaired when at least 100 Han characters come back and they account for at least 80 % of those letters
    (two bytes a character): French or German accents, single letters between ASCII ones, never do.
    """
    if body.count(b"\xc2") + body.count(b"\xc3") < 200:  # cheap: most pages stop here
        return None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    codecs_ = ("iso8859_15", "cp1252")
    best = max((_unmangle(text, a, b) for a in codecs_ for b in codecs_), key=lambda r: r[2])
    repaired, latin, han = best
    return repaired if han >= 100 and han >= 0.8 * latin / 2 else None


def decode_html(body: bytes, content_type: str | None = None) -> tuple[str, str, str]:
    """Return (text, encoding, how it was decided: header|bom|meta|utf-8|repaired|detected|fallback)."""
    for bom, enc in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if body.startswith(bom):
            return body.decode(enc, errors="replace").lstrip("\ufeff"), enc, "bom"
    repaired = repair_gbk_mojibake(body)
    if repaired is not None:
        return repaired, "gb18030", "repaired"
    declared: list[tuple[str, str]] = []
    enc = _lookup(header_charset(content_type))
    if enc:
        declared.append((enc, "header"))
    m = _META_CHARSET.search(body[:4096])
    enc = _lookup(m.group(1).decode("ascii", "ignore")) if m else None
    if enc:
        declared.append((enc, "meta"))
    for enc, how in declared:
        try:
            return body.decode(enc), enc, how
        except UnicodeDecodeError:
            pass  # a wrong header is common: try what the page itself says
    # A declared charset that fails on a handful of bytes (a truncated character, a few bad bytes in a GB2312
    # page) is still right: replacing those few bytes beats a guess that garbles the whole page. A page in
    # another encoding than declared fails on most of its non-ASCII characters, far above this bound.
    for enc, how in declared:
        text = body.decode(enc, errors="replace")
        if text.count("\ufffd") <= max(8, len(text) // 200):
            return text, enc, how
    try:
        return body.decode("utf-8"), "utf-8", "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(body, cp_isolation=["gb18030", "big5hkscs", "big5", "euc_jp", "shift_jis", "euc_kr",
                                          "cp1252", "cp1251", "iso8859_2", "koi8_r"]).best()
    if best is not None and (_lookup(best.encoding) or best.encoding) in _MULTIBYTE:
        enc = _lookup(best.encoding) or best.encoding
        return body.decode(enc, errors="replace"), enc, "detected"
    # charset-normalizer wants a clean decode: one broken character in a long GBK page (a cut or corrupted
    # byte) makes it pick a single-byte code page and garble every line. A Chinese page that decodes with a
    # handful of bad bytes into mostly Han characters is that page.
    chinese = _nearly_clean_chinese(body)
    if chinese is not None:
        return chinese[0], chinese[1], "detected"
    if best is not None:
        enc = _lookup(best.encoding) or best.encoding
        return body.decode(enc, errors="replace"), enc, "detected"
    return body.decode("utf-8", errors="replace"), "utf-8", "fallback"


# Magic numbers of formats that servers mislabel as text/html (a PDF or an image behind an article URL).
_MAGIC = (
    (b"%PDF-", "a PDF document"), (b"PK\x03\x04", "a ZIP archive (or office document)"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"), (b"GIF87a", "a GIF image"), (b"GIF89a", "a GIF image"),
    (b"\xff\xd8\xff", "a JPEG image"), (b"RIFF", "a RIFF (WebP, WAV, AVI) file"), (b"\x1f\x8b", "gzip data"),
    (b"ID3", "an MP3 file"), (b"OggS", "an Ogg file"), (b"\x00\x00\x01\x00", "an icon"),
    (b"\xd0\xcf\x11\xe0", "an old Office document"), (b"7z\xbc\xaf", "a 7-Zip archive"),
    (b"\x7fELF", "an executable"), (b"wOFF", "a web font"), (b"wOF2", "a web font"),
)


# Control bytes that do not occur in text (NUL is counted apart, tab, newlines, form feed and escape occur).
_CONTROL_BYTES = bytes(b for b in range(32) if b not in (0, 9, 10, 12, 13, 27))


def binary_kind(body: bytes) -> str | None:
    """What a body is when it is not text at all ("a PDF document", "binary data"), else None.

    Checked before extraction, whatever the Content-Type says: extracting a PDF or an image as HTML stores
    garbage as an article. Text in UTF-16 (with its BOM) has NUL bytes and is still text.
    """
    head = body.lstrip(b" \t\r\n")[:1024]
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return None
    sample = body[:4096]
    nuls = sample.count(b"\x00")
    if nuls > len(sample) // 100:
        # UTF-16 text without a BOM has NULs in every other byte (ASCII characters); binary data is not so regular.
        if nuls >= len(sample) // 3 and (sample[0::2].count(b"\x00") > 0.9 * nuls or sample[1::2].count(b"\x00") > 0.9 * nuls):
            return None
        return "binary data (NUL bytes)"
    controls = len(sample) - len(sample.translate(None, _CONTROL_BYTES))
    if sample and controls > len(sample) // 20:
        return "binary data (control bytes)"
    return None
