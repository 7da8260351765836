"""Run reports: per-outlet counts from Scrapy's stats, as a table for people and JSON for machines."""
from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

COLUMNS = ["discovered", "skipped_already_seen", "skipped_out_of_range", "fetched", "stored", "dropped", "errors"]
# A topic crawl: distinct candidates seen, those skipped before fetching on topic evidence, pages whose full
# text matched (stored with the topic) or not (rejected), and already stored articles newly tagged.
TOPIC_COLUMNS = ["candidates", "skipped_already_seen", "skipped_out_of_range", "topic_skipped", "fetched",
                 "topic_matched", "topic_rejected", "topic_tagged", "stored", "dropped", "errors"]


def outlet_counts(stats: dict[str, Any]) -> dict[str, dict[str, int]]:
    """`newsdedupe/outlet/<id>/<counter>` stats folded into {outlet: {counter: n}} (drops summed too)."""
    out: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for key, value in stats.items():
        if not key.startswith("newsdedupe/outlet/"):
            continue
        _, _, outlet, counter = key.split("/", 3)
        out[outlet][counter] += int(value)
        if counter.startswith("dropped_"):
            out[outlet]["dropped"] += int(value)
    return {k: dict(v) for k, v in sorted(out.items())}


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(_width(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for n, row in enumerate(cells):
        lines.append("  ".join(_pad(c, widths[i], i > 0 and _numeric(c)) for i, c in enumerate(row)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _width(s: str) -> int:
    # East Asian wide characters take two columns in a terminal.
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)


def _numeric(s: str) -> bool:
    return s.replace(".", "", 1).isdigit()


def _pad(s: str, width: int, right: bool) -> str:
    gap = " " * (width - _width(s))
    return gap + s if right else s + gap


def outlet_table(counts: dict[str, dict[str, int]], topic: str | None = None) -> str:
    """The per-outlet table printed after a crawl (with the topic's columns in a topic crawl)."""
    columns = TOPIC_COLUMNS if topic else COLUMNS
    rows = []
    for outlet, c in counts.items():
        reasons = ", ".join(f"{k[8:]} {v}" for k, v in sorted(c.items()) if k.startswith("dropped_"))
        rows.append([outlet] + [c.get(col, 0) for col in columns] + [reasons])
    headers = [col.replace("topic_", "") if col != "topic_skipped" else "skipped_by_topic" for col in columns]
    return format_table(["outlet"] + headers + ["drop reasons"], rows)


def write_run_report(report: dict[str, Any], runs_dir: str | Path) -> Path:
    runs = Path(runs_dir)
    path = runs / f"{report['started'].replace(':', '').replace('+0000', 'Z')}.json"
    from dedupe.writers import atomic_writer  # here: it imports grouping, which a crawl never needs

    with atomic_writer(path) as fh:
        json.dump(report, fh, ensure_ascii=False, indent=2, default=str)
    return path
