"""A MinHash LSH index kept in Redis through datasketch's Redis storage, shared by every grouping of a store.

The index lives under a fixed basename: the store's namespace, the signature parameters (`num_perm`, seed,
shingling) and the band layout, so every grouping process, and every later run, with the same parameters
finds the same index, and a change of parameters starts a new one instead of mixing signatures. Keys are
`<article id>|<text hash>`: an article whose text changed gets a new key (the old one is never a candidate
again, since only the current keys of the records being grouped are looked up).

Inserts go through `insertion_session` (buffered, pipelined); queries are batched, one pipelined read per band
for many signatures, so a grouping costs a few round trips per batch rather than one per band and article.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from datasketch import MinHash, MinHashLSH

from dedupe.config import GroupingConfig


class RedisLSHIndex:
    """An LSH index in Redis, shared under a fixed basename.

    Args:
        redis: keyword arguments of `redis.Redis` (host, port, db, password).
        namespace: what the index belongs to (e.g. the store's namespace); part of the basename.
        config: grouping parameters; the signature fingerprint and bands/rows are part of the basename.
        buffer_size: commands buffered per pipeline while inserting.
    """

    def __init__(self, redis: dict[str, Any], namespace: str, config: GroupingConfig,
                 buffer_size: int = 10_000) -> None:
        self.config = config
        self.buffer_size = buffer_size
        self.inserted = 0  # signatures the last grouping added
        self.basename = f"{namespace}:lsh:{config.signature_fingerprint()}:{config.bands}x{config.rows}"
        # Keys are our own bytes, not pickles (prepickle=False): nothing read back from Redis is unpickled.
        self.lsh = MinHashLSH(
            num_perm=config.num_perm, params=(config.bands, config.rows), prepickle=False,
            storage_config={"type": "redis", "basename": self.basename.encode(), "redis": dict(redis)},
        )

    def __str__(self) -> str:
        return self.basename

    def keys(self) -> set[bytes]:
        """Every key in the index (one HKEYS)."""
        return set(self.lsh.keys.keys())

    def add(self, items: Iterable[tuple[str, MinHash]]) -> int:
        """Insert the signatures whose key the index lacks; returns how many were inserted."""
        present = self.keys()
        new = [(k.encode("utf-8"), m) for k, m in items if k.encode("utf-8") not in present]
        if new:
            with self.lsh.insertion_session(buffer_size=self.buffer_size) as session:
                for key, m in new:
                    session.insert(key, m, check_duplication=False)
        return len(new)

    def query_many(self, minhashes: Sequence[MinHash], batch: int = 500) -> list[set[str]]:
        """The candidate keys of each signature (what `MinHashLSH.query` returns), read in batches."""
        out: list[set[str]] = []
        for start in range(0, len(minhashes), batch):
            chunk = minhashes[start:start + batch]
            found: list[set[str]] = [set() for _ in chunk]
            for (lo, hi), table in zip(self.lsh.hashranges, self.lsh.hashtables):
                # The band key exactly as datasketch computes it on insert and query.
                band_keys = [self.lsh._H(m.hashvalues[lo:hi]) for m in chunk]
                for acc, members in zip(found, table.getmany(*band_keys)):
                    acc.update(k.decode("utf-8") for k in members)
            out.extend(found)
        return out
