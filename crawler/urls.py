"""URL canonicalisation (one article, one URL) and the default article-URL heuristic."""
from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# Parameters that only track where a click came from; they never change the page.
_TRACKING = re.compile(
    r"^(utm_\w+|fbclid|gclid|dclid|gclsrc|msclkid|mc_cid|mc_eid|yclid|igshid|_ga|_gl|ref|ref_src|ref_url|"
    r"cmpid|cmp|ito|ns_mchannel|ns_source|ns_campaign|ns_linkname|ns_fee|sr_share|share|smid|spm|from|"
    r"xtor|at_medium|at_campaign|rss|src|feature|output|outputType|mod)$",
    re.IGNORECASE,
)


def canonicalize(url: str) -> str:
    """Lower-case scheme and host, drop default ports, fragments and tracking parameters; keep the rest.

    Query parameters that may select content (`id`, `p`, `story`...) are kept in their original order.
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    port = parts.port
    netloc = host
    if port and not ((scheme == "http" and port == 80) or (scheme == "https" and port == 443)):
        netloc = f"{host}:{port}"
    if parts.username:
        netloc = f"{parts.username}@{netloc}"
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _TRACKING.match(k)]
    path = parts.path or "/"
    # Whitespace before a dropped fragment (`.../a \x0c#top`) would end the URL; stripped, so that
    # canonicalising the result again gives the same URL.
    return urlunsplit((scheme, netloc, path, urlencode(query, doseq=True), "")).strip()


_NOT_ARTICLE_PATH = re.compile(
    r"/(?:tag|tags|topic|topics|category|categories|section|author|authors|search|page|login|register|"
    r"subscribe|about|contact|privacy|terms|advert\w*|video|videos|gallery|galleries|photos?|live|feed|rss)"
    r"(?:/|$|\.)|\.(?:jpe?g|png|gif|webp|svg|pdf|zip|mp[34]|css|js|xml|json)$",
    re.IGNORECASE,
)
_ARTICLE_HINT = re.compile(r"/\d{4}[/-]\d{1,2}[/-]\d{1,2}/|/\d{6,}|[-_][a-z0-9]+[-_][a-z0-9]+[-_][a-z0-9]+|/(?:article|story|news)/", re.I)


def looks_like_article(url: str) -> bool:
    """The default heuristic for section-page links when an outlet gives no allow patterns."""
    path = urlsplit(url).path
    if path in ("", "/") or _NOT_ARTICLE_PATH.search(path):
        return False
    return bool(_ARTICLE_HINT.search(path))
