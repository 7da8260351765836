"""`newsdedupe demo`: serve the bundled sample outlets on 127.0.0.1 and run the nightly job against them."""
from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

from crawler.report import format_table
from crawler.sitesrv import FixtureSite

SAMPLE_SITE = Path(__file__).parent / "sample_site"


def run_demo(out: str, verbose: bool = False) -> int:
    from crawler.cli import cmd_crawl, cmd_group
    from crawler.jobs import event_summary_rows, export

    t0 = time.monotonic()
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    db = out_dir / "newsdedupe.sqlite3"
    for stale in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        stale.unlink(missing_ok=True)  # the demo always starts from an empty store
    shutil.rmtree(out_dir / "runs", ignore_errors=True)

    with FixtureSite(SAMPLE_SITE) as site:
        n_outlets = site.render("outlets.toml").count("[[outlet]]")
        print(f"demo: serving {n_outlets} sample outlets at {site.base_url}")
        crawl_args = argparse.Namespace(
            outlets=str(SAMPLE_SITE / "outlets.toml"), only=None, since=None, until=None, topic=None,
            topics=None, urls=None, db=str(db), out=str(out_dir), max_per_outlet=None, allow_private="*",
            verbose=verbose,
        )
        report = cmd_crawl(crawl_args, base_url=site.base_url, polite=False)
        private_hits = [p for p in site.requests if p.startswith("/private/")]
    if report is None:
        return 1
    cmd_group(argparse.Namespace(input=None, db=str(db), out=str(out_dir), since=None))
    for fmt in ("articles", "label-studio", "html"):
        ex = export(str(db), out_dir, fmt)
        print(f"export: {ex.count} {'articles' if fmt == 'articles' else 'events'} written to "
              f"{', '.join(str(p) for p in ex.paths)}")

    events = [json.loads(line) for line in (out_dir / "events.jsonl").read_text(encoding="utf-8").splitlines()]
    print()
    print(format_table(["event", "status", "date", "articles", "stories", "languages", "outlets", "title"],
                       event_summary_rows(events)))
    multi_outlet = sum(1 for e in events if len(e["outlets"]) > 1)
    multi_lang = sum(1 for e in events if len(e["languages"]) > 1)
    print()
    print(f"demo: {len(events)} candidate events, {multi_outlet} spanning several outlets, {multi_lang} spanning "
          f"several languages; robots.txt-disallowed pages fetched: {len(private_hits)}; "
          f"{time.monotonic() - t0:.1f}s. Outputs in {out_dir}/")
    return 0
