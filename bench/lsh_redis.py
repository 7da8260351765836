"""Near-duplicate candidates from the in-memory LSH index and from the LSH index in Redis (group --redis).

    python bench/lsh_redis.py --redis redis://127.0.0.1:6379/15 [--docs N] [--data ../shared/data/neardup]

On the first N English documents of the near-duplicate benchmark: builds signatures once, then times the
in-memory index (insert + query every document), the Redis index filled from empty, and the Redis index again
with every signature already there (a later night); checks that all three give the same candidates, and
prints the Redis memory the index takes. Deletes its keys afterwards.
"""
from __future__ import annotations

import argparse
import gzip
import json
import platform
import time
from pathlib import Path

import numpy as np
import redis

from crawler.redisconf import redis_params
from dedupe.config import GroupingConfig
from dedupe.lshindex import RedisLSHIndex
from dedupe.shingles import shingle_hashes
from dedupe.signatures import minhash_signatures
from dedupe.stories import candidate_lists


def load(path: Path, n: int) -> list[str]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line)["text"] for _, line in zip(range(n), fh)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--redis", required=True, help="a Redis to use (its keys newsdedupe:bench:* are deleted)")
    ap.add_argument("--docs", type=int, default=5000)
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "neardup"))
    args = ap.parse_args()
    config = GroupingConfig()
    texts = load(Path(args.data) / "en.jsonl.gz", args.docs)
    sets = [np.unique(shingle_hashes(t, "en", config)) for t in texts]
    sigs = minhash_signatures(sets, config)
    keys = [f"doc{i}|x" for i in range(len(sigs))]
    client = redis.Redis.from_url(args.redis)
    for k in client.scan_iter("newsdedupe:bench:*"):
        client.unlink(k)
    before = client.info("memory")["used_memory"]

    t0 = time.perf_counter()
    in_memory = candidate_lists(sigs, config)
    t_mem = time.perf_counter() - t0
    index = RedisLSHIndex(redis_params(args.redis), "newsdedupe:bench", config)
    t0 = time.perf_counter()
    first = candidate_lists(sigs, config, index, keys)
    t_first = time.perf_counter() - t0
    inserted_first = index.inserted
    used = client.info("memory")["used_memory"] - before
    t0 = time.perf_counter()
    again = candidate_lists(sigs, config, RedisLSHIndex(redis_params(args.redis), "newsdedupe:bench", config), keys)
    t_again = time.perf_counter() - t0
    for k in client.scan_iter("newsdedupe:bench:*"):
        client.unlink(k)
    same = in_memory == first == again
    print(f"machine: {platform.machine()}, {platform.python_implementation()} {platform.python_version()}; "
          f"{len(sigs)} documents, {sum(len(c) for c in in_memory)} candidate entries; same candidates: {same}")
    print(f"in memory (insert + query):            {t_mem:7.2f} s")
    print(f"Redis, empty index ({inserted_first} inserted):   {t_first:7.2f} s")
    print(f"Redis, every signature already there:  {t_again:7.2f} s")
    print(f"Redis memory for the index: {used / 1e6:.1f} MB ({used / len(sigs) / 1e3:.1f} kB per document)")


if __name__ == "__main__":
    main()
