"""Extraction cost per page: ours (decode + trafilatura + title/date/language decisions) next to plain
`trafilatura.extract` on the same pages, one after the other in one process.

    python bench/extraction.py [--data ../shared/data/extraction] [--pages 60]
"""
from __future__ import annotations

import argparse
import gzip
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


def per_page_ms(fn, items: list[bytes]) -> float:  # type: ignore[no-untyped-def]
    fn(items[0])  # warm-up (imports, caches)
    t0 = time.perf_counter()
    for body in items:
        fn(body)
    return (time.perf_counter() - t0) / len(items) * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "extraction"))
    ap.add_argument("--pages", type=int, default=60)
    args = ap.parse_args()
    print(f"machine: {platform.machine()}, {platform.python_implementation()} {platform.python_version()}")
    print(f"{'set':16} {'pages':>5} {'ours ms':>8} {'trafilatura ms':>15} {'ratio':>6}")
    for name in ("scrapinghub-aeb", "chinese-wce", "daniel-zh"):
        folder = Path(args.data) / name
        if not folder.is_dir():
            continue
        items = pages(folder, args.pages)
        ours = per_page_ms(lambda b: extract_article(b, "http://example.com/a"), items)
        plain = per_page_ms(lambda b: trafilatura.extract(b, include_comments=False), items)
        print(f"{name:16} {len(items):5d} {ours:8.1f} {plain:15.1f} {ours / plain:6.2f}")


if __name__ == "__main__":
    main()
