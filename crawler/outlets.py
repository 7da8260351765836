"""The outlets file (TOML): loaded into frozen `Outlet` records, every error naming file, outlet and field."""
from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_LANG_RE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")


@dataclass(frozen=True)
class Outlet:
    id: str
    name: str
    domains: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    country: str | None = None
    feeds: tuple[str, ...] = ()
    sitemaps: tuple[str, ...] = ()
    start_urls: tuple[str, ...] = ()
    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()
    search_url: str | None = None
    download_delay: float | None = None
    concurrency: int | None = None
    allow_patterns: tuple[re.Pattern[str], ...] = field(default=(), repr=False, compare=False)
    deny_patterns: tuple[re.Pattern[str], ...] = field(default=(), repr=False, compare=False)

    def accepts(self, url: str) -> bool:
        """Does this URL look like one of this outlet's articles (allow/deny patterns)?"""
        if any(p.search(url) for p in self.deny_patterns):
            return False
        if self.allow_patterns:
            return any(p.search(url) for p in self.allow_patterns)
        return True

    def owns(self, url: str) -> bool:
        """Is the URL on one of this outlet's domains (subdomains included)?"""
        host = (urlsplit(url).hostname or "").lower()
        return any(host == d or host.endswith("." + d) for d in self.domains)


@dataclass(frozen=True)
class OutletProblem:
    source: str
    outlet: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.source}: outlet {self.outlet}: {self.field}: {self.message}"


class OutletsFileError(Exception):
    def __init__(self, problems: list[OutletProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


_KNOWN = {
    "id", "name", "domains", "languages", "country", "feeds", "sitemaps", "start_urls", "allow", "deny",
    "search_url", "download_delay", "concurrency",
}


def _str_list(raw: dict[str, Any], key: str, where: tuple[str, str], problems: list[OutletProblem]) -> tuple[str, ...]:
    value = raw.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems.append(OutletProblem(where[0], where[1], key, f"must be a list of strings, got {value!r}"))
        return ()
    return tuple(v.strip() for v in value if v.strip())


def _check_url(url: str, key: str, where: tuple[str, str], problems: list[OutletProblem]) -> bool:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        problems.append(OutletProblem(where[0], where[1], key, f"{url!r} is not an http(s) URL"))
        return False
    return True


def parse_outlets(data: dict[str, Any], source: str) -> tuple[list[Outlet], list[OutletProblem]]:
    """Turn parsed TOML into outlets; invalid entries are reported and left out, valid ones kept."""
    problems: list[OutletProblem] = []
    outlets: list[Outlet] = []
    entries = data.get("outlet")
    if entries is None:
        return [], [OutletProblem(source, "-", "outlet", "no [[outlet]] entries found")]
    if not isinstance(entries, list):
        return [], [OutletProblem(source, "-", "outlet", "must be an array of tables ([[outlet]])")]
    seen: set[str] = set()
    for n, raw in enumerate(entries, start=1):
        label = f"#{n}"
        if not isinstance(raw, dict):
            problems.append(OutletProblem(source, label, "-", "must be a table"))
            continue
        before = len(problems)
        oid = raw.get("id")
        if not isinstance(oid, str) or not _ID_RE.match(oid):
            problems.append(OutletProblem(source, label, "id", f"{oid!r} must be a lowercase slug like 'hkfp'"))
            oid = label
        elif oid in seen:
            problems.append(OutletProblem(source, oid, "id", "duplicate id; ids must be unique"))
        label = oid if isinstance(oid, str) else label
        where = (source, label)
        seen.add(label)
        for key in raw:
            if key not in _KNOWN:
                problems.append(OutletProblem(source, label, key, f"unknown field (known: {', '.join(sorted(_KNOWN))})"))
        name = raw.get("name", label)
        if not isinstance(name, str) or not name.strip():
            problems.append(OutletProblem(source, label, "name", "must be a non-empty string"))
            name = label
        domains = tuple(d.lower() for d in _str_list(raw, "domains", where, problems))
        languages = _str_list(raw, "languages", where, problems)
        for lang in languages:
            if not _LANG_RE.match(lang):
                problems.append(OutletProblem(source, label, "languages", f"{lang!r} is not a BCP-47 tag like 'en'"))
            elif lang.lower() in ("zh", "zh-cn", "zh-tw", "zh-hk"):
                problems.append(
                    OutletProblem(source, label, "languages", f"{lang!r}: use 'zh-Hans' or 'zh-Hant' for Chinese")
                )
        feeds = _str_list(raw, "feeds", where, problems)
        sitemaps = _str_list(raw, "sitemaps", where, problems)
        start_urls = _str_list(raw, "start_urls", where, problems)
        for key, urls in (("feeds", feeds), ("sitemaps", sitemaps), ("start_urls", start_urls)):
            for u in urls:
                _check_url(u, key, where, problems)
        if not (feeds or sitemaps or start_urls):
            problems.append(
                OutletProblem(source, label, "feeds", "no feeds, sitemaps or start_urls: nothing to discover from")
            )
        compiled: dict[str, list[re.Pattern[str]]] = {"allow": [], "deny": []}
        allow = _str_list(raw, "allow", where, problems)
        deny = _str_list(raw, "deny", where, problems)
        for key, pats in (("allow", allow), ("deny", deny)):
            for pat in pats:
                try:
                    compiled[key].append(re.compile(pat))
                except re.error as exc:
                    problems.append(OutletProblem(source, label, key, f"bad regular expression {pat!r}: {exc}"))
        search_url = raw.get("search_url")
        if search_url is not None:
            if not isinstance(search_url, str) or "{query}" not in search_url:
                problems.append(OutletProblem(source, label, "search_url", "must be a URL containing '{query}'"))
                search_url = None
        country = raw.get("country")
        if country is not None and (not isinstance(country, str) or not re.fullmatch(r"[A-Z]{2}", country)):
            problems.append(OutletProblem(source, label, "country", f"{country!r} must be an ISO 3166 code like 'HK'"))
            country = None
        delay = raw.get("download_delay")
        if delay is not None and (not isinstance(delay, (int, float)) or isinstance(delay, bool) or delay < 0):
            problems.append(OutletProblem(source, label, "download_delay", "must be a number of seconds >= 0"))
            delay = None
        conc = raw.get("concurrency")
        if conc is not None and (not isinstance(conc, int) or isinstance(conc, bool) or conc < 1):
            problems.append(OutletProblem(source, label, "concurrency", "must be an integer >= 1"))
            conc = None
        if len(problems) > before:
            continue
        outlets.append(
            Outlet(
                id=label, name=name.strip(), domains=domains, languages=languages, country=country,
                feeds=feeds, sitemaps=sitemaps, start_urls=start_urls, allow=allow, deny=deny,
                search_url=search_url, download_delay=float(delay) if delay is not None else None,
                concurrency=conc, allow_patterns=tuple(compiled["allow"]), deny_patterns=tuple(compiled["deny"]),
            )
        )
    return outlets, problems


def load_outlets(path: str | Path, substitutions: dict[str, str] | None = None) -> tuple[list[Outlet], list[OutletProblem]]:
    """Read and validate an outlets file. Returns the valid outlets and the problems found.

    Raises OutletsFileError only when the file cannot be read or is not TOML at all.
    """
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise OutletsFileError([OutletProblem(source, "-", "-", f"cannot read file: {exc}")]) from exc
    for key, value in (substitutions or {}).items():
        text = text.replace(key, value)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise OutletsFileError([OutletProblem(source, "-", "-", f"not valid TOML: {exc}")]) from exc
    return parse_outlets(data, source)
