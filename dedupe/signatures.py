"""MinHash signatures with datasketch's batch API (one `update_batch` per document, reused permutations)."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from datasketch import MinHash

from dedupe.config import GroupingConfig


def _identity(x: int) -> int:
    # Shingles arrive already hashed to 32 bits (xxhash); datasketch only has to permute them.
    return x


def minhash_signatures(shingle_sets: Sequence[np.ndarray], config: GroupingConfig) -> list[MinHash]:
    """One MinHash per shingle set, sharing one permutation table (datasketch's generator)."""
    batches = (s.tolist() for s in shingle_sets)
    return list(MinHash.generator(batches, num_perm=config.num_perm, seed=config.seed, hashfunc=_identity))


def minhash_from_bytes(data: bytes, config: GroupingConfig, permutations: object | None = None) -> MinHash:
    """Rebuild a stored signature."""
    values = np.frombuffer(data, dtype=np.uint32).copy()
    return MinHash(seed=config.seed, hashvalues=values, scheme="affine32", hashfunc=_identity,
                   permutations=permutations)


def signature_bytes(m: MinHash) -> bytes:
    return np.asarray(m.hashvalues, dtype=np.uint32).tobytes()
