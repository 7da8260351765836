"""A run's candidate events as one self-contained HTML page (no server, no scripts, no external assets).

Everything that came from the web (titles, outlets, URLs, text) is escaped; links are kept only for http(s)
URLs. The page is readable on a phone (fluid layout, long words and URLs wrap) and marks every title and
opening with its language so browsers pick the right Chinese glyphs.
"""
from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

OPENING_CHARS = 280

CSS = """
:root { color-scheme: light dark; --muted: #667; --line: #d8d8e0; --accent: #2357a6; --bg2: #f5f6f8; }
@media (prefers-color-scheme: dark) { :root { --muted: #99a; --line: #3a3a44; --accent: #8db4ff; --bg2: #1d1f24; } }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 60rem; padding: 0.75rem; line-height: 1.45;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "Noto Sans CJK SC", "Noto Sans CJK TC",
    "PingFang SC", "PingFang TC", "Microsoft YaHei", "Microsoft JhengHei", "WenQuanYi Micro Hei", sans-serif;
  overflow-wrap: anywhere; }
h1 { font-size: 1.3rem; margin: 0.2rem 0; }
h2 { font-size: 1.1rem; margin: 0 0 0.3rem; }
a { color: var(--accent); }
.summary, .meta, .evidence, .timeline { color: var(--muted); font-size: 0.9rem; }
.event { border: 1px solid var(--line); border-radius: 8px; padding: 0.7rem; margin: 0.9rem 0; }
.chips { display: flex; flex-wrap: wrap; gap: 0.3rem; margin: 0.3rem 0; padding: 0; list-style: none; }
.chips li { background: var(--bg2); border-radius: 999px; padding: 0.05rem 0.55rem; font-size: 0.85rem; }
.status-new { color: #0a7a2f; } .status-updated { color: #a35d00; }
ol.timeline { margin: 0.3rem 0; padding-left: 1.2rem; }
ul.articles { list-style: none; padding: 0; margin: 0.4rem 0 0; }
ul.articles > li { border-top: 1px solid var(--line); padding: 0.5rem 0; }
.opening { margin: 0.25rem 0 0; }
details summary { cursor: pointer; color: var(--accent); }
"""


def esc(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _link(url: str | None, label: str, lang: str | None = None) -> str:
    lang_attr = f' lang="{esc(lang)}"' if lang else ""
    if url and url.lower().startswith(("http://", "https://")):
        return f'<a href="{esc(url)}" rel="noopener noreferrer"{lang_attr}>{esc(label)}</a>'
    return f"<span{lang_attr}>{esc(label)}</span>"


def opening(text: str | None, limit: int = OPENING_CHARS) -> str:
    """The first `limit` characters of a text, cut at a space when one is near (not inside a word)."""
    text = " ".join((text or "").split())
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", int(limit * 0.8), limit)
    return text[: cut if cut > 0 else limit].rstrip() + "…"


def describe_link(link: Mapping[str, Any], names: Mapping[str, str] | None = None) -> str:
    """`near-duplicate 0.88 to pacificwire, 2025-10-03: jaccard 0.88, …` in words a labeller reads
    (`names` gives a readable name for the article linked to, else its id is shown)."""
    method = link.get("method") or ""
    if method == "seed":
        return "first article of the event"
    parts = [method]
    if link.get("score") is not None:
        parts.append(f"{float(link['score']):.2f}")
    text = " ".join(parts)
    if link.get("linked_to"):
        target = str(link["linked_to"])
        text += f" to {(names or {}).get(target, target)}"
    evidence = link.get("evidence") or []
    if evidence:
        text += ": " + ", ".join(str(x) for x in evidence)
    return text


def link_names(articles: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Article id -> `outlet, date`, how a link's target is named to a labeller."""
    return {str(a.get("id")): ", ".join(str(x) for x in (a.get("outlet") or a.get("id"), a.get("published")) if x)
            for a in articles}


def article_item(a: Mapping[str, Any], text: str | None, names: Mapping[str, str] | None = None) -> str:
    """One article: title (linked), outlet, language, date, how it joined, and the opening of its text."""
    lang = a.get("language")
    meta = " · ".join(esc(x) for x in (a.get("outlet"), lang, a.get("published") or "undated") if x)
    body = opening(text)
    lang_attr = f' lang="{esc(lang)}"' if lang else ""
    return (
        f'<li id="a-{esc(a.get("id"))}" data-article-id="{esc(a.get("id"))}">'
        f'<div class="title">{_link(a.get("url"), a.get("title") or a.get("url") or a.get("id") or "", lang)}</div>'
        f'<div class="meta">{meta}</div>'
        f'<div class="evidence">{esc(describe_link(a.get("link") or {}, names))}</div>'
        + (f'<p class="opening"{lang_attr}>{esc(body)}</p>' if body else "")
        + "</li>"
    )


def date_range(event: Mapping[str, Any]) -> str:
    """`2025-10-03 – 2025-10-04`, one date when they are the same, `undated` when there is none."""
    first, last = event.get("first_published"), event.get("last_published")
    return (first or "undated") + (f" – {last}" if last and last != first else "")


def event_section(event: Mapping[str, Any], texts: Mapping[str, str], collapse_after: int = 8) -> str:
    """One candidate event: title, status, dates, languages, outlets, sources, timeline and articles."""
    arts = list(event.get("articles") or [])
    seed_lang = arts[0].get("language") if arts else None
    title_lang = f' lang="{esc(seed_lang)}"' if seed_lang else ""
    dates = date_range(event)
    status = event.get("status") or ""
    chips = [f"{len(arts)} article{'s' if len(arts) != 1 else ''}",
             f"{event.get('story_count', 0)} stor{'ies' if event.get('story_count', 0) != 1 else 'y'}"]
    if event.get("independent_sources") is not None:
        chips.append(f"{event['independent_sources']} independent source"
                     f"{'s' if event['independent_sources'] != 1 else ''}")
    chips += [f"language: {x}" for x in event.get("languages") or []]
    chips += [f"topic: {x}" for x in event.get("topics") or []]
    first_by = event.get("first_published_by") or []
    timeline = sorted(arts, key=lambda a: (a.get("published") is None, a.get("published") or "", a.get("id") or ""))
    timeline_items = "".join(
        f"<li>{esc(a.get('published') or 'undated')}: {esc(a.get('outlet') or '?')} "
        f"({esc(a.get('language') or '?')})</li>"
        for a in timeline
    )
    names = link_names(arts)
    items = [article_item(a, texts.get(str(a.get("id"))), names) for a in arts]
    shown, rest = items[:collapse_after], items[collapse_after:]
    more = (f"<details><summary>{len(rest)} more articles</summary><ul class=\"articles\">{''.join(rest)}</ul>"
            "</details>" if rest else "")
    return (
        f'<section class="event" id="{esc(event.get("event_id"))}" data-event-id="{esc(event.get("event_id"))}">'
        f'<h2{title_lang}>{esc(event.get("title") or "(untitled)")}</h2>'
        f'<div class="meta"><span class="status-{esc(status)}">{esc(status)}</span> · {esc(dates)} · '
        f'{esc(event.get("event_id"))}</div>'
        f'<ul class="chips">{"".join(f"<li>{esc(c)}</li>" for c in chips)}</ul>'
        f'<div class="meta">outlets: {esc(", ".join(event.get("outlets") or []) or "unknown")}'
        + (f"; first published by {esc(', '.join(first_by))}" if first_by else "")
        + "</div>"
        f'<details class="timeline"><summary>timeline</summary><ol class="timeline">{timeline_items}</ol></details>'
        f'<ul class="articles">{"".join(shown)}</ul>{more}'
        "</section>"
    )


def render_report(
    events: Iterable[Mapping[str, Any]], texts: Mapping[str, str], title: str = "newsdedupe: candidate events",
    generated: datetime | None = None,
) -> str:
    """The whole page; events are shown in the order given (the store keeps them newest first)."""
    events = list(events)
    generated = generated or datetime.now(timezone.utc).replace(microsecond=0)
    n_articles = sum(len(e.get("articles") or []) for e in events)
    multi_outlet = sum(1 for e in events if len(e.get("outlets") or []) > 1)
    multi_lang = sum(1 for e in events if len(e.get("languages") or []) > 1)
    body = "".join(event_section(e, texts) for e in events) or "<p>No candidate events.</p>"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
        f"<header><h1>{esc(title)}</h1>"
        f'<p class="summary">{len(events)} candidate events, {n_articles} articles; {multi_outlet} spanning several '
        f"outlets, {multi_lang} spanning several languages. Newest first. Generated {esc(generated.isoformat())}.</p>"
        "</header><main>" + body + "</main></body></html>\n"
    )
