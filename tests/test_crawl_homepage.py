"""An outlet given only its home page: the feed is auto-discovered from <link rel="alternate">, and without
allow patterns the default article-URL heuristic picks the article links (not tag, about or video pages)."""
from __future__ import annotations

from pathlib import Path

from conftest import query, run_cli

from crawler.sitesrv import FixtureSite

PARAGRAPH = (
    "The harbour authority of the fictional port town of Wexmouth said on {day} that {topic}, and that residents "
    "would be consulted at two public meetings before any final decision was taken by the council. Officials said "
    "the plan had been discussed for several years and that funding would come from the existing budget. "
)


def _article(title: str, day: str, topic: str) -> str:
    body = "".join(f"<p>{PARAGRAPH.format(day=day, topic=topic)} Paragraph {i} adds detail number {i}.</p>" for i in range(5))
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title} | Wexmouth Gazette</title>'
        f'<meta property="article:published_time" content="2025-11-0{day[-1]}T10:00:00+00:00"></head>'
        f"<body><nav><a href='/'>Home</a> <a href='/about'>About</a></nav><article><h1>{title}</h1>{body}</article>"
        "<footer>Copyright 2025 Wexmouth Gazette</footer></body></html>"
    )


def _build_site(root: Path) -> list[str]:
    articles = {
        "/news/2025/11/03/ferry-timetable-change.html": ("Ferry timetable to change in winter", "day 3", "the ferry timetable would change"),
        "/news/2025/11/04/harbour-wall-repairs.html": ("Harbour wall repairs approved", "day 4", "the harbour wall would be repaired"),
    }
    for path, (title, day, topic) in articles.items():
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(_article(title, day, topic), encoding="utf-8")
    feed_only = "/news/2025/11/05/new-lifeboat-station.html"
    (root / feed_only.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
    (root / feed_only.lstrip("/")).write_text(
        _article("New lifeboat station opens", "day 5", "a new lifeboat station would open"), encoding="utf-8"
    )
    (root / "index.html").write_text(
        '<!doctype html><html><head><meta charset="utf-8"><title>Wexmouth Gazette</title>'
        '<link rel="alternate" type="application/rss+xml" title="News" href="/feed.xml"></head><body>'
        + "".join(f'<a href="{p}">{t}</a> ' for p, (t, _, _) in articles.items())
        + '<a href="/tag/harbour">Harbour</a> <a href="/about">About us</a> <a href="/video/harbour-tour">Video</a>'
        "</body></html>",
        encoding="utf-8",
    )
    for extra in ("tag/harbour", "about", "video/harbour-tour"):
        (root / extra).mkdir(parents=True, exist_ok=True)
        (root / extra / "index.html").write_text("<html><body>not an article</body></html>", encoding="utf-8")
    (root / "feed.xml").write_text(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Wexmouth Gazette</title>'
        f"<item><title>New lifeboat station opens</title><link>{{{{BASE}}}}{feed_only}</link>"
        "<pubDate>Wed, 05 Nov 2025 10:00:00 GMT</pubDate></item></channel></rss>",
        encoding="utf-8",
    )
    (root / "outlets.toml").write_text(
        '[[outlet]]\nid = "wexmouth"\nname = "Wexmouth Gazette"\ndomains = ["127.0.0.1"]\nlanguages = ["en"]\n'
        'start_urls = ["{{BASE}}/"]\ndownload_delay = 0\nconcurrency = 4\n',
        encoding="utf-8",
    )
    return [*articles, feed_only]


def test_home_page_only_outlet_finds_feed_and_articles(tmp_path: Path) -> None:
    root = tmp_path / "site"
    root.mkdir()
    expected = _build_site(root)
    with FixtureSite(root) as site:
        outlets = tmp_path / "outlets.toml"
        outlets.write_text(site.render("outlets.toml"), encoding="utf-8")
        proc = run_cli("crawl", "--outlets", outlets, "--db", tmp_path / "db.sqlite3", "--out", tmp_path / "out",
                       "--allow-private")
        requested = list(site.requests)
    assert proc.returncode == 0, proc.stderr
    stored = {r["canonical_url"].split("127.0.0.1:", 1)[1].split("/", 1)[1] for r in
              query(tmp_path / "db.sqlite3", "SELECT canonical_url FROM articles")}
    assert stored == {p.lstrip("/") for p in expected}
    assert "/feed.xml" in requested, "the feed advertised by the home page was not read"
    for not_article in ("/tag/harbour", "/about", "/video/harbour-tour"):
        assert not any(r.startswith(not_article) for r in requested), f"{not_article} fetched: {requested}"


def test_robots_sitemap_of_a_shared_host_is_not_claimed_without_allow_patterns(tmp_path: Path) -> None:
    """Two outlets on one host: the one without sitemaps must not take the other's articles from the
    sitemap that robots.txt announces."""
    root = tmp_path / "site"
    root.mkdir()
    _build_site(root)
    other = "/other/news/2025/11/06/regatta-postponed.html"
    (root / other.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
    (root / other.lstrip("/")).write_text(_article("Regatta postponed by storm", "day 6", "the regatta would wait"),
                                          encoding="utf-8")
    (root / "other" / "sitemap.xml").write_text(
        '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<url><loc>{{{{BASE}}}}{other}</loc><lastmod>2025-11-06</lastmod></url></urlset>",
        encoding="utf-8",
    )
    (root / "robots.txt").write_text("User-agent: *\nDisallow:\nSitemap: {{BASE}}/other/sitemap.xml\n", encoding="utf-8")
    outlets_toml = (root / "outlets.toml").read_text(encoding="utf-8") + (
        '\n[[outlet]]\nid = "other"\nname = "Other Courier"\ndomains = ["127.0.0.1"]\nlanguages = ["en"]\n'
        'start_urls = ["{{BASE}}/other/"]\nallow = ["/other/news/"]\ndownload_delay = 0\n'
    )
    (root / "outlets.toml").write_text(outlets_toml, encoding="utf-8")
    (root / "other" / "index.html").write_text(f'<html><body><a href="{other}">Regatta</a></body></html>',
                                               encoding="utf-8")
    with FixtureSite(root) as site:
        outlets = tmp_path / "outlets.toml"
        outlets.write_text(site.render("outlets.toml"), encoding="utf-8")
        # Only the outlet without sitemaps is crawled: the robots.txt sitemap is its only way to the other
        # outlet's article, which it must not take.
        proc = run_cli("crawl", "--outlets", outlets, "--db", tmp_path / "db.sqlite3", "--out", tmp_path / "out",
                       "--allow-private", "--only", "wexmouth")
        requested = list(site.requests)
    assert proc.returncode == 0, proc.stderr
    rows = query(tmp_path / "db.sqlite3", "SELECT canonical_url, outlet FROM articles")
    owner = {r["canonical_url"].split("/", 3)[3]: r["outlet"] for r in rows}
    assert "/other/sitemap.xml" in requested, "the robots.txt sitemap was not read at all"
    assert other.lstrip("/") not in owner, owner
    assert other not in requested
    assert sorted(owner.values()) == ["wexmouth"] * 3
