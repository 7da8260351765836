"""The HTML report opened in a real headless Chromium (Debian's package, driven by Playwright).

Checked in the browser, not by string matching: events newest first, each with languages, outlets, timeline
and articles with evidence; Chinese titles decoded and drawn with real glyphs (a screenshot of two different
Chinese titles differs, which it would not if both were drawn as missing-glyph boxes); no horizontal scrolling
on a phone-sized screen; no request leaves the file; hostile text stays text.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import copy_store, read_jsonl, run_cli

from dedupe.htmlreport import render_report


@pytest.fixture(scope="module")
def report(demo_run: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    assert demo_run["proc"].returncode == 0, demo_run["proc"].stderr
    work = tmp_path_factory.mktemp("html")
    db = copy_store(demo_run["db"], work / "store")
    proc = run_cli("export", "--db", db, "--format", "html", "--out", work / "out")
    assert proc.returncode == 0, proc.stderr
    return work / "out" / "report.html", read_jsonl(demo_run["out"] / "events.jsonl")


def _open(browser: Any, path: Path, width: int = 390, height: int = 844) -> tuple[Any, Any, list[str]]:
    context = browser.new_context(viewport={"width": width, "height": height}, device_scale_factor=1)
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return context, page, requests


def test_report_in_chromium_on_a_phone(browser: Any, report: tuple[Path, list[dict[str, Any]]],
                                       tmp_path: Path) -> None:
    path, events = report
    context, page, requests = _open(browser, path)
    try:
        # Self-contained: the only request is the file itself.
        assert requests == [path.as_uri()]
        # Events in the order of events.jsonl (newest first), each with its parts.
        shown = page.eval_on_selector_all("section.event", "els => els.map(e => e.dataset.eventId)")
        assert shown == [e["event_id"] for e in events]
        dates = [e["last_published"] for e in events if e["last_published"]]
        assert dates == sorted(dates, reverse=True)
        for e in events:
            section = page.locator(f'section[data-event-id="{e["event_id"]}"]')
            assert section.locator("h2").inner_text() == e["title"]
            text = section.inner_text()
            for lang in e["languages"]:
                assert f"language: {lang}" in text
            for outlet in e["outlets"]:
                assert outlet in text
            assert section.locator("ol.timeline li").count() == e["article_count"]
            ids = section.locator("[data-article-id]").evaluate_all("els => els.map(e => e.dataset.articleId)")
            assert ids == [a["id"] for a in e["articles"]]
        big = next(e for e in events if "60,000" in e["title"])
        big_text = page.locator(f'section[data-event-id="{big["event_id"]}"]').inner_text()
        assert "near-duplicate" in big_text and "jaccard" in big_text
        assert "cross-lingual" in big_text or "same-language" in big_text
        assert "first published by pacificwire" in big_text

        # Chinese: decoded (the DOM holds the exact title) and tagged with its language.
        zh = [(a, e) for e in events for a in e["articles"] if a["language"] in ("zh-Hans", "zh-Hant")]
        assert len(zh) >= 2
        for a, _e in zh:
            item = page.locator(f'li[data-article-id="{a["id"]}"] .title a')
            assert item.inner_text() == a["title"]
            assert item.get_attribute("lang") == a["language"]

        # Readable on a phone: nothing wider than the screen, text not shrunk.
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        font_px = page.evaluate("parseFloat(getComputedStyle(document.querySelector('.opening')).fontSize)")
        assert font_px >= 14
        page.screenshot(path=str(tmp_path / "phone.png"), full_page=True)
        assert (tmp_path / "phone.png").stat().st_size > 10_000
    finally:
        context.close()


def test_chinese_is_drawn_with_real_glyphs(browser: Any, report: tuple[Path, list[dict[str, Any]]]) -> None:
    """Two different Chinese titles render to different pixels (missing-glyph boxes would look alike)."""
    path, events = report
    zh = [a for e in events for a in e["articles"] if a["language"] in ("zh-Hans", "zh-Hant")]
    context, page, _requests = _open(browser, path, width=1000)
    try:
        shots = []
        for a in zh[:2]:
            el = page.locator(f'li[data-article-id="{a["id"]}"] .title a')
            el.scroll_into_view_if_needed()
            # Compare the first few characters only, at one fixed size.
            el.evaluate("(e, t) => { e.textContent = t; e.style.fontSize = '24px'; }", a["title"][:4])
            shots.append(el.screenshot())
        assert zh[0]["title"][:4] != zh[1]["title"][:4]
        assert shots[0] != shots[1]
    finally:
        context.close()


def test_hostile_text_stays_text(browser: Any, tmp_path: Path) -> None:
    event = {
        "event_id": "ev-x", "status": "new", "title": "<img src=x onerror=alert(1)>", "titles": {},
        "first_published": "2025-01-01", "last_published": "2025-01-01", "languages": ["en"], "outlets": ["o"],
        "article_count": 1, "story_count": 1, "topics": [], "independent_sources": 1, "first_published_by": ["o"],
        "stories": [{"story_id": "st-1", "article_ids": ["a1"]}],
        "articles": [{"id": "a1", "url": "javascript:alert(1)", "title": "</section><script>alert(2)</script>",
                      "outlet": "o", "language": "en", "published": "2025-01-01", "story_id": "st-1",
                      "link": {"method": "seed", "score": 1.0, "evidence": [], "linked_to": None}}],
    }
    path = tmp_path / "r.html"
    path.write_text(render_report([event], {"a1": "<b>bold?</b> body text"}), encoding="utf-8")
    context, page, requests = _open(browser, path)
    try:
        assert requests == [path.as_uri()]
        assert page.locator("script").count() == 0 and page.locator("img").count() == 0
        assert page.locator("section.event h2").inner_text() == "<img src=x onerror=alert(1)>"
        assert page.locator("a[href^='javascript']").count() == 0
        assert "<b>bold?</b>" in page.locator(".opening").inner_text()
    finally:
        context.close()
