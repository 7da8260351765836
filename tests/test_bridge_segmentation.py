"""The bridge's own segmentation loop must give exactly jieba's words (`jieba.lcut`, accurate mode with HMM)."""
from __future__ import annotations

import json
import random
from pathlib import Path

import jieba

from dedupe.bridge import _fast_segmenter
from dedupe.normalize import fold

FIXTURES = Path(__file__).parent / "fixtures" / "storyline"


def _chinese_texts() -> list[str]:
    texts: list[str] = []
    for path in sorted(FIXTURES.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            record = json.loads(line)
            for key in ("title", "text"):
                value = record.get(key) or ""
                if any("\u4e00" <= c <= "\u9fff" for c in value):
                    texts.append(value)
    return texts


def test_same_words_as_jieba_on_fixture_texts() -> None:
    texts = _chinese_texts()
    assert len(texts) >= 10
    segmenter = _fast_segmenter()
    for text in texts:
        folded = fold(text)
        assert segmenter.lcut(folded) == jieba.lcut(folded)


def test_same_words_as_jieba_on_odd_input() -> None:
    segmenter = _fast_segmenter()
    rng = random.Random(5)
    pool = "".join(_chinese_texts())
    odd = ["", " ", "a", "中", "的的的的的", "abc 123 中文English混合 test，还有標點。\r\n下一行",
           "x-y_z.5%#&+ 北京市长江大桥", "２０２５年１０月", "\t\t空白\u3000全角"]
    odd += ["".join(rng.choice(pool) for _ in range(rng.randrange(1, 200))) for _ in range(300)]
    for text in odd:
        assert segmenter.lcut(text) == jieba.lcut(text), text
