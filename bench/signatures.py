"""Signature throughput: cost of shingling + MinHash as a multiple of just reading and tokenising.

    python bench/signatures.py [--docs N] [--data ../shared/data/neardup]

Prints one table; all variants run on the same documents in the same process, one after another.
"""
from __future__ import annotations

import argparse
import gzip
import json
import platform
import time
from pathlib import Path

import numpy as np
from datasketch import MinHash

from dedupe.config import GroupingConfig
from dedupe.normalize import normalise_for_matching, tokens
from dedupe.shingles import shingle_hashes
from dedupe.signatures import minhash_signatures


def load(path: Path, n: int) -> list[str]:
    out = []
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            if i >= n:
                break
            out.append(json.loads(line)["text"])
    return out


def timed(fn):  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=3000)
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "neardup"))
    args = ap.parse_args()
    config = GroupingConfig()
    print(f"machine: {platform.machine()}, {platform.python_implementation()} {platform.python_version()}")
    print(f"{'corpus':8} {'docs':>6} {'read+tokenise s':>16} {'ours s':>8} {'ours/x':>7} {'per-shingle update s':>21} {'ratio':>7}")
    for lang, tag in (("en", "en"), ("zh", "zh-Hans")):
        texts = load(Path(args.data) / f"{lang}.jsonl.gz", args.docs)
        base = timed(lambda: [tokens(normalise_for_matching(t)) for t in texts])
        sets: list[np.ndarray] = []
        ours = timed(lambda: sets.extend(shingle_hashes(t, tag, config) for t in texts) or minhash_signatures(sets, config))
        sample = texts[: max(1, len(texts) // 10)]

        def per_shingle() -> None:
            for t in sample:
                m = MinHash(num_perm=config.num_perm, seed=config.seed)
                for h in shingle_hashes(t, tag, config):
                    m.update(int(h).to_bytes(4, "little"))

        slow = timed(per_shingle) * (len(texts) / len(sample))
        print(f"{lang:8} {len(texts):6d} {base:16.2f} {ours:8.2f} {ours / base:7.2f} {slow:21.2f} {slow / base:7.1f}")


if __name__ == "__main__":
    main()
