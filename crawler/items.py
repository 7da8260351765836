"""The record a spider yields for every fetched article page (Scrapy accepts dataclass items)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ArticleItem:
    """One fetched page; `extraction_status` says whether it is an article (`ok`) or why not."""

    id: str
    url: str
    canonical_url: str
    requested_url: str
    outlet: str | None
    extraction_status: str
    title: str | None = None
    text: str = ""
    language: str | None = None
    language_source: str | None = None
    published: str | None = None
    published_source: str | None = None
    authors: list[str] = field(default_factory=list)
    fetched: str = ""
    discovered_via: str | None = None
    encoding: str | None = None
    topics: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def store_record(self) -> dict[str, Any]:
        return {
            "id": self.id, "url": self.url, "canonical_url": self.canonical_url, "outlet": self.outlet,
            "title": self.title, "text": self.text, "language": self.language,
            "language_source": self.language_source, "published": self.published,
            "published_source": self.published_source, "authors": self.authors, "fetched": self.fetched,
            "discovered_via": self.discovered_via, "extraction_status": self.extraction_status,
            "encoding": self.encoding, "topics": self.topics, "meta": self.meta,
        }
