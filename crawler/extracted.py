"""What extraction is told about a page (`Hints`) and what it returns (`Extracted`).

Apart from `crawler.extraction` so that the crawl's reactor process, which hands pages to extraction workers,
can use them without importing trafilatura, lxml and htmldate (a tenth of a second at every start).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Hints:
    """What is known about a URL before it is fetched (feed or sitemap metadata, the outlet)."""

    title: str | None = None
    published: str | None = None
    language: str | None = None
    keywords: tuple[str, ...] = ()
    outlet_languages: tuple[str, ...] = ()


@dataclass(frozen=True)
class Extracted:
    status: str  # ok | not_article | too_short | no_text | not_html | paywall | consent_wall
    url: str
    canonical_url: str | None = None
    title: str | None = None
    text: str = ""
    published: str | None = None
    published_source: str | None = None
    authors: tuple[str, ...] = ()
    language: str | None = None
    language_source: str | None = None
    encoding: str | None = None
    sitename: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status, "url": self.url, "canonical_url": self.canonical_url, "title": self.title,
            "published": self.published, "published_source": self.published_source,
            "authors": list(self.authors), "language": self.language, "language_source": self.language_source,
            "encoding": self.encoding, "sitename": self.sitename, "text": self.text,
        }
