"""Crawl throughput on a generated site served from 127.0.0.1, next to extraction alone on the same pages.

    python bench/crawl.py [--pages 5000] [--outlets 10] [--repeat 3] [--crawl-workers 2] [--workers 2]
                          [--http 1.1|1.0] [--server lean|fixture] [--keep DIR] [--skip-alone]

1. Generates a site of `--pages` article pages (our own generated text, English and Chinese, 30-80 KB of HTML
   each with the usual boilerplate: styles, scripts, navigation, related links, footer), split over
   `--outlets` outlets, each with an RSS feed (its newest 40) and a sitemap (all of its articles).
2. Serves it on 127.0.0.1 from a separate process (`LeanSite`: responses rendered before the run, answered
   from memory; `--server fixture`: the tests' `crawler.sitesrv.FixtureSite`, which cost 8x the CPU on the
   cores the crawl uses), over HTTP/1.1 with connections kept alive (`--http 1.0`: a new connection for every
   page, as the tests' server does).
3. Runs, `--repeat` rounds, interleaved (the order reversed every other round: crawl, alone; alone, crawl; ...):
   - the real crawl (`crawler.runner.run_crawl`, what `newsdedupe crawl --allow-private` runs, without the
     politeness delays as in `newsdedupe demo`) in a child process into a fresh store, once per value of
     `--crawl-workers` (NEWSDEDUPE_EXTRACT_WORKERS: 0 = extraction in the reactor's thread), sampling the RSS
     of its process tree; CPU time from `getrusage`: the crawl's own process (reactor) and the extraction
     workers it joins, apart;
   - extraction alone (`crawler.extraction.extract_article`) over the same pages with a pool of `--workers`
     processes.

The machine is shared: one pair says little. Prints a row per run (pages/s, CPU ms per page, peak memory, the
load average before it), then per crawl configuration the ratio crawl / extraction alone of each round (both
measured minutes apart at most) and their median, which is the figure to quote; and the same ratio by CPU time
per page, which the wall-clock one reaches when the crawl leaves no core idle.
"""
from __future__ import annotations

import argparse
import gc
import json
import multiprocessing as mp
import os
import platform
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def _psutil() -> Any:
    try:
        import psutil
    except ImportError:
        raise SystemExit("bench/crawl.py samples memory with psutil: pip install -e '.[bench]'") from None
    return psutil

# --- the generated site ------------------------------------------------------------------------------------
# Invented places, people and organisations; sentences are assembled from these parts, so pages differ.
PLACES = ["Harbour District", "North Point ferry pier", "the Eastern Corridor", "Kowloon Bay", "Sai Kung",
          "the old dockyard", "Riverside", "the airport island", "Tsing Yi", "the Western Market", "Ma On Shan",
          "the university campus", "the container terminal", "Stonecutters Bridge", "the central library"]
PEOPLE = ["Mei Ling Chan", "Daniel Okafor", "Priya Raman", "Tomás Herrera", "Ka Wai Lau", "Hannah Berg",
          "Samuel Mensah", "Yuki Arakawa", "Fatima Zahra", "Oliver Grant", "Wing Sze Ho", "Elena Petrova"]
ORGS = ["the Transport Department", "the harbour authority", "a residents' association", "the district council",
        "the water board", "the teachers' union", "a hospital trust", "the fire services", "the city's planners",
        "a shipping company", "the privacy commissioner", "the weather observatory", "a charity for the elderly"]
SUBJECTS = ["Officials", "Engineers", "Residents", "Inspectors", "Volunteers", "Researchers", "Lawmakers",
            "Shop owners", "Commuters", "Nurses", "Drivers", "Parents"]
VERBS = ["said", "warned", "confirmed", "argued", "estimated", "announced", "reported", "denied", "suggested",
         "noted"]
CLAIMS = ["the work would take another {n} weeks", "{n} households were affected on {day}",
          "a review of the budget of {n} million dollars was overdue", "traffic fell by {n} per cent after the change",
          "the plan had been discussed for {n} years", "about {n} people attended the meeting on {day}",
          "the new schedule adds {n} services a day", "the cost had risen by {n} per cent since last spring",
          "inspections found {n} faults in the old system", "the fund will cover {n} projects across the district"]
TOPICS = ["ferry timetable", "new cycle lane", "water main repair", "school meal scheme", "night market",
          "flood barrier", "street lighting upgrade", "bus route review", "library opening hours",
          "recycling pilot", "heat shelter network", "clinic waiting times", "harbour clean-up", "parking fees",
          "rooftop solar plan", "noise complaints", "tree survey", "pedestrian bridge"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
ZH_PARTS = ["政府發言人表示", "區議會今日討論", "居民對新計劃反應不一", "工程預計明年完成", "交通部門宣布調整路線",
            "學校將延長開放時間", "專家認為需要更多資料", "市民可於網上提交意見", "當局會繼續密切留意情況",
            "天文台預測周末有雨", "醫院輪候時間有所縮短", "渡輪服務將增加班次", "圖書館新分館下月開幕",
            "回收試驗計劃擴展至全區", "有關費用由基金支付", "調查發現多項設施老化", "消防處提醒市民注意安全",
            "議員要求公開完整報告", "商戶擔心生意受影響", "計劃涉及約三千個家庭", "新單車徑連接海濱長廊",
            "部分街燈將更換為節能燈", "相關部門已展開檢討", "公眾諮詢為期兩個月"]
ZH_TOPICS = ["渡輪時間表", "單車徑", "水管維修", "學校午膳", "夜市", "防洪設施", "街燈更新", "巴士路線",
             "圖書館", "回收計劃", "避暑中心", "診所輪候", "海港清潔", "泊車收費", "屋頂太陽能"]


def _filler_css(rng: random.Random, size: int) -> str:
    rules = []
    while sum(len(r) for r in rules) < size:
        cls = f".c{rng.randrange(10**6):06d}"
        rules.append(f"{cls}{{margin:{rng.randrange(40)}px;padding:{rng.randrange(20)}px;color:#{rng.randrange(16**6):06x};"
                     f"font-size:{rng.randrange(10, 30)}px;line-height:1.{rng.randrange(10)}}}\n")
    return "".join(rules)


def _filler_js(rng: random.Random, size: int) -> str:
    parts = []
    while sum(len(p) for p in parts) < size:
        parts.append(f"window.__cfg_{rng.randrange(10**6)}={{slot:'ad-{rng.randrange(999)}',sizes:[[300,250],[728,90]],"
                     f"refresh:{rng.randrange(60)},targeting:{{section:'local',pos:{rng.randrange(9)}}}}};\n")
    return "".join(parts)


def _english_body(rng: random.Random, topic: str) -> tuple[str, list[str]]:
    place = rng.choice(PLACES)
    title = f"{rng.choice(ORGS).capitalize()} {rng.choice(['backs', 'delays', 'reviews', 'expands', 'questions'])} " \
            f"{topic} in {place}"
    paras = []
    for _ in range(rng.randrange(6, 16)):
        sents = []
        for _ in range(rng.randrange(2, 6)):
            claim = rng.choice(CLAIMS).format(n=rng.randrange(2, 900), day=rng.choice(DAYS))
            who = rng.choice([rng.choice(SUBJECTS), rng.choice(PEOPLE), rng.choice(ORGS).capitalize()])
            sents.append(f"{who} {rng.choice(VERBS)} that {claim}, "
                         f"{rng.choice(['according to', 'in a statement from', 'after a visit by'])} "
                         f"{rng.choice(ORGS)} near {rng.choice(PLACES)}.")
        paras.append(" ".join(sents))
    return title, paras


def _chinese_body(rng: random.Random, topic: str) -> tuple[str, list[str]]:
    title = f"{topic}：{rng.choice(ZH_PARTS)}"
    paras = []
    for _ in range(rng.randrange(6, 14)):
        paras.append("，".join(rng.choice(ZH_PARTS) for _ in range(rng.randrange(4, 9)))
                     + f"，涉及約{rng.randrange(2, 900)}個單位。")
    return title, paras


def article_page(rng: random.Random, outlet: str, name: str, url: str, zh: bool, published: datetime,
                 related: list[tuple[str, str]]) -> str:
    topic = rng.choice(ZH_TOPICS if zh else TOPICS)
    title, paras = (_chinese_body if zh else _english_body)(rng, topic)
    author = rng.choice(PEOPLE)
    lang = "zh-Hant" if zh else "en"
    nav = "".join(f'<li><a href="/{outlet}/section/{s}/">{s.title()}</a></li>'
                  for s in ["news", "city", "business", "sport", "culture", "opinion", "weather", "video",
                            "podcasts", "photos", "jobs", "property", "travel", "food", "tech", "science"])
    menu = "".join(f'<li><a href="/{outlet}/tag/{t.replace(" ", "-")}/">{t}</a></li>' for t in rng.sample(TOPICS, 12))
    rel = "".join(f'<li class="rel"><a href="{u}"><img src="/img/{rng.randrange(10**6)}.jpg" alt=""> {t}</a></li>'
                  for u, t in related)
    body = "\n".join(f"<p>{p}</p>" for p in paras)
    footer = "".join(f'<a href="/{outlet}/about/{i}">Footer link {i}</a> ' for i in range(40))
    css = _filler_css(rng, rng.randrange(11_000, 32_000))
    js = _filler_js(rng, rng.randrange(6_000, 25_000))
    iso = published.isoformat().replace("+00:00", "Z")
    return f"""<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="utf-8">
<title>{title} | {name}</title>
<link rel="canonical" href="{url}">
<meta property="og:title" content="{title}"><meta property="og:site_name" content="{name}">
<meta property="article:published_time" content="{iso}"><meta name="author" content="{author}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>{css}</style>
<script>{js}</script>
</head><body>
<div class="cookie-banner">We use cookies to improve your experience. <button>Accept all</button> <a href="/{outlet}/privacy">Privacy</a></div>
<header><div class="logo"><a href="/{outlet}/">{name}</a></div><nav><ul>{nav}</ul></nav><ul class="tags">{menu}</ul>
<form action="/{outlet}/search"><input name="q" placeholder="Search"></form></header>
<main><article>
<h1>{title}</h1>
<div class="byline">By <span class="author">{author}</span> · <time datetime="{iso}">{published:%d %B %Y %H:%M}</time></div>
<figure><img src="/img/{rng.randrange(10**6)}.jpg" alt="{topic}"><figcaption>{topic} ({name})</figcaption></figure>
<div class="article-body">
{body}
</div>
<div class="share"><a href="#">Share</a> <a href="#">Print</a> <a href="#">Email</a></div>
</article>
<aside><h2>Most read</h2><ul>{rel}</ul><div class="ad" id="ad-{rng.randrange(999)}">Advertisement</div>
<h2>Newsletter</h2><p>Sign up for the morning briefing from {name}.</p></aside></main>
<footer><p>© {name}. All rights reserved.</p>{footer}</footer>
<script>{_filler_js(rng, 2000)}</script>
</body></html>
"""


def generate_site(root: Path, pages: int, n_outlets: int, seed: int = 8) -> tuple[Path, list[tuple[str, str]]]:
    """Write the site under `root`; returns the outlets file and (path, url-with-placeholder) of every article."""
    rng = random.Random(seed)
    base = "{{BASE}}"
    start = datetime(2025, 6, 1, tzinfo=timezone.utc)
    outlets_toml = []
    articles: list[tuple[str, str]] = []
    (root / "robots.txt").write_text("User-agent: *\nAllow: /\n", encoding="utf-8")
    for k in range(n_outlets):
        outlet = f"outlet{k:02d}"
        name = f"Generated Outlet {k}"
        zh_outlet = k % 5 == 4  # every fifth outlet writes Chinese
        folder = root / outlet
        folder.mkdir(parents=True, exist_ok=True)
        count = pages // n_outlets + (1 if k < pages % n_outlets else 0)
        entries = []
        for i in range(count):
            published = start + timedelta(minutes=37 * i + 11 * k)
            path = f"/{outlet}/news/{published:%Y/%m/%d}/story-{i:05d}.html"
            url = base + path
            related = [(f"/{outlet}/news/2025/01/01/story-{rng.randrange(count):05d}.html",
                        f"Related story {rng.randrange(1000)}") for _ in range(20)]
            html = article_page(rng, outlet, name, url, zh_outlet, published, related)
            target = root / path.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(html, encoding="utf-8")
            entries.append((url, published))
            articles.append((str(target), url))
        sitemap = "".join(f"<url><loc>{u}</loc><lastmod>{p:%Y-%m-%d}</lastmod></url>\n" for u, p in entries)
        (folder / "sitemap.xml").write_text(
            '<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
            f"{sitemap}</urlset>\n", encoding="utf-8")
        items = "".join(f"<item><title>Story {i}</title><link>{u}</link>"
                        f"<pubDate>{p:%a, %d %b %Y %H:%M:%S} +0000</pubDate></item>\n"
                        for i, (u, p) in enumerate(entries[-40:]))
        (folder / "rss.xml").write_text(
            f'<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel><title>{name}</title>'
            f"<link>{base}/{outlet}/</link><description>{name}</description>\n{items}</channel></rss>\n",
            encoding="utf-8")
        outlets_toml.append(f"""[[outlet]]
id = "{outlet}"
name = "{name}"
domains = ["127.0.0.1"]
languages = ["{'zh-Hant' if zh_outlet else 'en'}"]
country = "HK"
feeds = ["{base}/{outlet}/rss.xml"]
sitemaps = ["{base}/{outlet}/sitemap.xml"]
start_urls = []
allow = ['^{base}/{outlet}/news/']
""")
    outlets_file = root / "outlets.toml"
    outlets_file.write_text("\n".join(outlets_toml), encoding="utf-8")
    return outlets_file, articles


# --- serving -----------------------------------------------------------------------------------------------


class LeanSite:
    """The benchmark's site server: a minimal asyncio HTTP server over the generated folder.

    The site is a benchmark artifact (a real crawl's servers run on other machines), but on this 2-core
    machine its CPU is taken from the same cores as the crawl's. `crawler.sitesrv.FixtureSite` (the tests'
    server: a thread per connection, `http.server`'s header parsing, an ETag hashed over every body) cost
    0.4-0.5 ms per page; this one renders every file's response once before it announces its address
    ({{BASE}} substituted, headers included: status line, Content-Type, Content-Length, ETag, Last-Modified;
    about 260 MB for 5,000 pages) and answers each request from memory, keeping connections alive over
    HTTP/1.1 (`http="1.0"`: the connection closes after each response)."""

    def __init__(self, root: str, http: str = "1.1") -> None:
        self.root = Path(root).resolve()
        self.keep_alive = http == "1.1"
        self.version = b"HTTP/1.1" if self.keep_alive else b"HTTP/1.0"
        self.base_url = ""
        self.cache: dict[bytes, bytes] = {}

    def response(self, target: bytes) -> bytes:
        cached = self.cache.get(target)
        if cached is not None:
            return cached
        from email.utils import formatdate
        from urllib.parse import unquote

        from crawler.sitesrv import CONTENT_TYPES, PLACEHOLDER, TEXT_SUFFIXES

        path = unquote(target.decode("latin-1").split("?", 1)[0])
        file = (self.root / path.lstrip("/")).resolve()
        if path.endswith("/"):
            file = file / "index.html"
        if self.root not in file.parents or not file.is_file():
            body, head = b"not found", [b"404 Not Found", b"Content-Type: text/plain"]
        else:
            body = file.read_bytes()
            if file.suffix in TEXT_SUFFIXES:
                body = body.replace(PLACEHOLDER, self.base_url.encode("ascii"))
            stat = file.stat()
            kind = CONTENT_TYPES.get(file.suffix, "application/octet-stream")
            head = [b"200 OK", b"Content-Type: " + kind.encode("ascii"),
                    b'ETag: "%x-%x"' % (stat.st_mtime_ns, len(body)),
                    b"Last-Modified: " + formatdate(stat.st_mtime, usegmt=True).encode("ascii")]
        connection = b"keep-alive" if self.keep_alive else b"close"
        data = b"\r\n".join([self.version + b" " + head[0], b"Server: bench-site/1", *head[1:],
                             b"Content-Length: %d" % len(body), b"Connection: " + connection, b"", b""]) + body
        self.cache[target] = data
        return data

    def protocol(self) -> Any:
        import asyncio

        site = self

        class Connection(asyncio.Protocol):
            def connection_made(self, transport: Any) -> None:
                self.transport = transport
                self.buffer = b""

            def data_received(self, data: bytes) -> None:
                self.buffer += data
                while True:
                    end = self.buffer.find(b"\r\n\r\n")
                    if end < 0:
                        return
                    head, self.buffer = self.buffer[:end], self.buffer[end + 4:]
                    parts = head.split(b"\r\n", 1)[0].split(b" ")
                    if len(parts) < 2:
                        self.transport.close()
                        return
                    data = site.response(parts[1])
                    self.transport.write(data if parts[0] != b"HEAD" else data[:data.index(b"\r\n\r\n") + 4])
                    if not site.keep_alive:
                        self.transport.close()
                        return

        return Connection

    def serve(self, queue: Any) -> None:
        import asyncio

        async def main() -> None:
            loop = asyncio.get_running_loop()
            server = await loop.create_server(self.protocol(), "127.0.0.1", 0, backlog=256)
            port = server.sockets[0].getsockname()[1]
            self.base_url = f"http://127.0.0.1:{port}"
            for file in sorted(self.root.rglob("*")):
                if file.is_file():
                    self.response(("/" + file.relative_to(self.root).as_posix()).encode("latin-1"))
            queue.put(self.base_url)
            await server.serve_forever()

        asyncio.run(main())


def _serve(root: str, queue: mp.Queue, http: str = "1.1", server: str = "lean") -> None:  # type: ignore[type-arg]
    if server == "lean":
        LeanSite(root, http).serve(queue)
        return
    from http.server import BaseHTTPRequestHandler

    from crawler.sitesrv import FixtureSite

    # HTTP/1.1 (this process only): connections kept alive, as any real web server does; every response of
    # FixtureSite has a Content-Length. HTTP/1.0: a new connection per page, as the tests' server.
    BaseHTTPRequestHandler.protocol_version = f"HTTP/{http}"

    site = FixtureSite(root).start()
    queue.put(site.base_url)
    while True:
        time.sleep(3600)


# --- the crawl, in a child process ---------------------------------------------------------------------------
def _crawl_child(outlets_file: str, db: str, base_url: str, report: str, workers: str) -> None:
    from crawler.runner import CrawlOptions, run_crawl

    result = run_crawl(CrawlOptions(outlets_file=outlets_file, db=db, allow_private=True, base_url=base_url,
                                    polite=False, log_level="ERROR", extract_workers=int(workers)))
    # The crawl's own CPU (its reactor thread and helper threads) apart from its extraction workers', which
    # it joined when the spider closed.
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    result["cpu_main"] = own.ru_utime + own.ru_stime
    result["cpu_workers"] = kids.ru_utime + kids.ru_stime
    Path(report).write_text(json.dumps(result), encoding="utf-8")
    gc.freeze()  # and exit as the `newsdedupe` command does (crawler.cli.entry)


def tree_rss(proc: Any) -> tuple[int, int]:
    """(RSS of the psutil process, RSS of it and all its descendants), bytes."""
    psutil = _psutil()
    try:
        own = proc.memory_info().rss
        total = own
        for child in proc.children(recursive=True):
            try:
                total += child.memory_info().rss
            except psutil.Error:
                pass
        return own, total
    except psutil.Error:
        return 0, 0


def run_crawl_measured(outlets_file: Path, db: Path, base_url: str, work: Path, workers: int) -> dict[str, Any]:
    report = work / "report.json"
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, __file__, "--crawl-child", str(outlets_file), str(db), base_url,
                             str(report), str(workers)], cwd=REPO)
    ps = _psutil().Process(proc.pid)
    peak_own = peak_tree = 0
    while proc.poll() is None:
        own, total = tree_rss(ps)
        peak_own, peak_tree = max(peak_own, own), max(peak_tree, total)
        time.sleep(0.1)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"crawl failed with exit code {proc.returncode}")
    import sqlite3

    conn = sqlite3.connect(db)
    stored = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
    langs = dict(conn.execute("SELECT language, count(*) FROM articles GROUP BY language").fetchall())
    statuses = dict(conn.execute("SELECT status, count(*) FROM urls GROUP BY status").fetchall())
    conn.close()
    child = json.loads(report.read_text(encoding="utf-8"))
    # The crawl joins its extraction workers when it closes, so their CPU is in its children's rusage.
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"pages": stored, "wall": wall, "cpu": cpu, "cpu_main": child["cpu_main"],
            "cpu_workers": child["cpu_workers"], "peak_own": peak_own, "peak_tree": peak_tree,
            "languages": langs, "url_states": statuses}


# --- extraction alone --------------------------------------------------------------------------------------
def _extract_one(job: tuple[str, str, str]) -> str:
    from crawler.extraction import extract_article

    path, url, base = job
    body = Path(path).read_bytes().replace(b"{{BASE}}", base.encode("ascii"))
    return extract_article(body, url, None, "text/html").status


def _warm(_x: int) -> None:
    import crawler.extraction  # noqa: F401


def extraction_alone(articles: list[tuple[str, str]], base_url: str, workers: int,
                     server_pid: int | None = None) -> dict[str, float]:
    jobs = [(p, u.replace("{{BASE}}", base_url), base_url) for p, u in articles]
    ctx = mp.get_context("spawn")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    peak = 0
    with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
        list(pool.map(_warm, range(workers)))
        t1 = time.perf_counter()
        futures = pool.map(_extract_one, jobs, chunksize=8)
        ok = 0
        me = _psutil().Process()
        for i, status in enumerate(futures):
            ok += status == "ok"
            if i % 200 == 0:
                peak = max(peak, sum(c.memory_info().rss for c in me.children(recursive=True)
                                     if c.pid != server_pid))  # the site server is not extraction's
        t2 = time.perf_counter()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"pages": len(jobs), "ok": ok, "wall": t2 - t0, "wall_warm": t2 - t1, "cpu": cpu, "peak_tree": peak}


# --- the schedule and the summary ----------------------------------------------------------------------------
ALONE = "alone"


def schedule(repeat: int, crawl_workers: list[int]) -> list[list[Any]]:
    """The runs of each round: every crawl configuration and extraction alone, interleaved, the order reversed
    every other round (A B, B A, ...), so a slow spell of the shared machine does not always hit the same one."""
    runs: list[Any] = [*crawl_workers, ALONE]
    return [runs if r % 2 == 0 else runs[::-1] for r in range(repeat)]


def median(values: list[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    if n == 0:
        raise ValueError("median of nothing")
    mid = n // 2
    return ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def pair_ratios(rounds: list[dict[Any, dict[str, Any]]], workers: int) -> list[float]:
    """Per round, crawl pages/s over extraction-alone pages/s (both measured in that round)."""
    out = []
    for r in rounds:
        crawl, alone = r.get(workers), r.get(ALONE)
        if crawl and alone and crawl["wall"] > 0 and alone["wall"] > 0:
            out.append((crawl["pages"] / crawl["wall"]) / (alone["pages"] / alone["wall"]))
    return out


def cpu_ratios(rounds: list[dict[Any, dict[str, Any]]], workers: int) -> list[float]:
    """Per round, extraction alone's CPU per page over the whole crawl's (its own process and its workers').

    When both runs keep every core busy, throughput is cores / CPU per page and the wall-clock ratio equals
    this one; it falls short of it by the time the crawl leaves a core idle (its start, discovery, close).
    The CPU counted includes each run's fixed costs (imports, discovery), which weigh less as the site grows."""
    out = []
    for r in rounds:
        crawl, alone = r.get(workers), r.get(ALONE)
        if crawl and alone and crawl["cpu"] > 0 and alone["cpu"] > 0 and crawl["pages"] and alone["pages"]:
            out.append((alone["cpu"] / alone["pages"]) / (crawl["cpu"] / crawl["pages"]))
    return out


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--crawl-child":
        _crawl_child(*sys.argv[2:7])
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", type=int, default=5000)
    ap.add_argument("--outlets", type=int, default=10)
    ap.add_argument("--workers", type=int, default=2, help="processes for extraction alone")
    ap.add_argument("--keep", help="generate the site here and keep it, or reuse the one generated there with the "
                                   "same --pages and --outlets (default: a temporary folder)")
    ap.add_argument("--skip-alone", action="store_true", help="only the crawl")
    ap.add_argument("--crawl-workers", default="2",
                    help="NEWSDEDUPE_EXTRACT_WORKERS of each crawl to run, e.g. 0,2 (0: extraction in the "
                         "reactor's thread)")
    ap.add_argument("--http", choices=["1.1", "1.0"], default="1.1",
                    help="the site server's HTTP version: 1.1 keeps connections alive (as real web servers do), "
                         "1.0 opens one per page")
    ap.add_argument("--server", choices=["lean", "fixture"], default="lean",
                    help="the site server: lean (an asyncio server answering from memory, the default) or fixture "
                         "(crawler.sitesrv.FixtureSite, the tests' threaded server, as before 2026-11-22 17:00)")
    ap.add_argument("--repeat", type=int, default=3,
                    help="rounds; each runs every crawl and extraction alone once, interleaved")
    args = ap.parse_args()
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="newsdedupe-bench-crawl-"))
    site_root = work / "site"
    try:
        t0 = time.perf_counter()
        marker = site_root / f".generated-{args.pages}-{args.outlets}"
        reused = bool(args.keep and marker.exists())
        if reused:  # the same site as last time
            outlets_file = site_root / "outlets.toml"
            articles = json.loads(marker.read_text(encoding="utf-8"))
        else:
            if site_root.exists():
                shutil.rmtree(site_root)
            site_root.mkdir(parents=True)
            outlets_file, articles = generate_site(site_root, args.pages, args.outlets)
            marker.write_text(json.dumps(articles), encoding="utf-8")
        sizes = [os.path.getsize(p) for p, _ in articles]
        print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.python_implementation()} "
              f"{platform.python_version()}")
        print(f"site: {len(articles)} article pages in {args.outlets} outlets, HTML {min(sizes) // 1024}-"
              f"{max(sizes) // 1024} KB (mean {sum(sizes) / len(sizes) / 1024:.0f} KB), "
              + ("reused from an earlier run" if reused else f"generated in {time.perf_counter() - t0:.1f} s")
              + f"; served over HTTP/{args.http}" + (" (connections kept alive)" if args.http == "1.1" else
                                                      " (a connection per page)")
              + f" by the {args.server} server", flush=True)
        ctx = mp.get_context("spawn")
        queue: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
        server = ctx.Process(target=_serve, args=(str(site_root), queue, args.http, args.server),
                             daemon=True)
        server.start()
        base_url = queue.get(timeout=60)
        server_ps = _psutil().Process(server.pid)
        crawl_workers = [int(x) for x in args.crawl_workers.split(",") if x]
        plan = schedule(args.repeat, crawl_workers)
        if args.skip_alone:
            plan = [[x for x in r if x != ALONE] for r in plan]
        rounds: list[dict[Any, dict[str, Any]]] = []
        mb = 1024 * 1024
        print()
        print("| round | run | load (1 min) before | pages | wall s | pages/s | CPU ms/page: all (main + workers) "
              "| peak RSS MB |")
        print("|---|---|---|---|---|---|---|---|")
        for number, runs in enumerate(plan, start=1):
            results: dict[Any, dict[str, Any]] = {}
            for what in runs:
                load = os.getloadavg()[0]
                if what == ALONE:
                    res: dict[str, Any] = extraction_alone(articles, base_url, args.workers, server.pid)
                    label = f"extraction alone, {args.workers} processes"
                    cpu = f"{res['cpu'] / res['pages'] * 1000:.1f}"
                    rss = f"{res['peak_tree'] / mb:.0f} in all workers"
                else:
                    cpu0 = server_ps.cpu_times()
                    res = run_crawl_measured(outlets_file, work / f"store-{what}.sqlite3", base_url, work, what)
                    cpu1 = server_ps.cpu_times()
                    res["server_cpu"] = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
                    label = "crawl, extraction in the reactor thread" if what == 0 else \
                        f"crawl, {what} extraction workers"
                    n = max(1, res["pages"])
                    cpu = (f"{res['cpu'] / n * 1000:.1f} ({res['cpu_main'] / n * 1000:.1f} + "
                           f"{res['cpu_workers'] / n * 1000:.1f})")
                    rss = f"{res['peak_own'] / mb:.0f} main, {res['peak_tree'] / mb:.0f} in all"
                    if res["pages"] != len(articles):
                        print(f"WARNING: the crawl stored {res['pages']} of {len(articles)} pages; URL states "
                              f"{res['url_states']}")
                res["load"] = load
                results[what] = res
                print(f"| {number} | {label} | {load:.1f} | {res['pages']} | {res['wall']:.1f} | "
                      f"{res['pages'] / res['wall']:.1f} | {cpu} | {rss} |", flush=True)
            rounds.append(results)
        server.terminate()
        server.join()
        print()
        for w in crawl_workers:
            crawls = [r[w] for r in rounds if w in r]
            print(f"crawl with {w} extraction workers: stored {crawls[-1]['pages']} articles; languages "
                  f"{crawls[-1]['languages']}; URL states {crawls[-1]['url_states']}; the site server used "
                  f"{median([c['server_cpu'] / max(1, c['pages']) * 1000 for c in crawls]):.1f} ms CPU per page "
                  "(median), not counted above")
            main_ms = [c["cpu_main"] / max(1, c["pages"]) * 1000 for c in crawls]
            print(f"  main process CPU per page: median {median(main_ms):.2f} ms (rounds: "
                  + ", ".join(f"{x:.2f}" for x in main_ms) + ")")
            if not args.skip_alone:
                ratios = pair_ratios(rounds, w)
                print("  crawl / extraction alone, per round: " + ", ".join(f"{x:.2f}" for x in ratios)
                      + f"; median **{median(ratios):.2f}** (goal >= 0.80), min {min(ratios):.2f}, "
                      f"max {max(ratios):.2f}")
                per_page = cpu_ratios(rounds, w)
                print("  by CPU time, extraction alone's per page / the crawl's (the ratio above falls short of this "
                      "by the time the crawl leaves a core idle): " + ", ".join(f"{x:.2f}" for x in per_page)
                      + f"; median {median(per_page):.2f}")
        if not args.skip_alone:
            alone = [r[ALONE] for r in rounds]
            print("extraction alone after its workers' start-up, pages/s: "
                  + ", ".join(f"{a['pages'] / a['wall_warm']:.1f}" for a in alone))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
