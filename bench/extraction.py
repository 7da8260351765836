"""Extraction cost per page: ours (decode + trafilatura + title/date/language decisions) next to plain
`trafilatura.extract` on the same pages, one after the other in one process; wall clock and CPU time.

    python bench/extraction.py [--data ../shared/data/extraction] [--pages 60] [--rounds 3]
"""
from __future__ import annotations

import argparse
import gzip
import os
import platform
import time
from pathlib import Path

import trafilatura

from crawler.extraction import extract_article


def pages(folder: Path, n: int) -> list[bytes]:
    if (folder / "html").is_dir():
        files = sorted((folder / "html").iterdir())[:n]
        return [gzip.decompress(f.read_bytes()) if f.suffix == ".gz" else f.read_bytes() for f in files]
    return [f.read_bytes() for f in sorted((folder / "original").glob("*.html"))[:n]]


def per_page_ms(fns, items: list[bytes], rounds: int) -> tuple[list[float], list[float]]:  # type: ignore[no-untyped-def]
    """Mean ms per page for each of `fns` (wall clock, then this process's CPU time), interleaved page by page
    (all see the same machine load), each page's time the best of `rounds` runs (the machine is shared: the
    best run is the one least disturbed). CPU time leaves out the time other jobs hold the cores, so its ratio
    moves less with the load."""
    for fn in fns:
        fn(items[0])  # warm-up (imports, caches)
    wall = [0.0] * len(fns)
    cpu = [0.0] * len(fns)
    for body in items:
        for i, fn in enumerate(fns):
            best_wall = best_cpu = float("inf")
            for _ in range(rounds):
                w0, c0 = time.perf_counter(), time.process_time()
                fn(body)
                best_cpu = min(best_cpu, time.process_time() - c0)
                best_wall = min(best_wall, time.perf_counter() - w0)
            wall[i] += best_wall
            cpu[i] += best_cpu
    return [t / len(items) * 1000 for t in wall], [t / len(items) * 1000 for t in cpu]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "extraction"))
    ap.add_argument("--pages", type=int, default=60)
    ap.add_argument("--rounds", type=int, default=3, help="runs per page; its best time counts")
    args = ap.parse_args()
    print(f"machine: {platform.machine()}, {platform.python_implementation()} {platform.python_version()}")
    print(f"load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"{'set':16} {'pages':>5} {'ours ms':>8} {'trafilatura ms':>15} {'ratio':>6} {'CPU: ours':>10} "
          f"{'trafilatura':>12} {'ratio':>6}")
    for name in ("scrapinghub-aeb", "chinese-wce", "daniel-zh"):
        folder = Path(args.data) / name
        if not folder.is_dir():
            continue
        items = pages(folder, args.pages)
        (ours, plain), (ours_cpu, plain_cpu) = per_page_ms(
            [lambda b: extract_article(b, "http://example.com/a"),
             lambda b: trafilatura.extract(b, include_comments=False)], items, args.rounds)
        print(f"{name:16} {len(items):5d} {ours:8.1f} {plain:15.1f} {ours / plain:6.2f} {ours_cpu:10.1f} "
              f"{plain_cpu:12.1f} {ours_cpu / plain_cpu:6.2f}")


if __name__ == "__main__":
    main()
