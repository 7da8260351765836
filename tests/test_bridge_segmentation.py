"""The bridge's segmentation must give exactly jieba's words (`jieba.lcut`, accurate mode with HMM): both the
compiled one (jieba-rs through `rjieba`, what runs) and the pure-Python search it falls back to."""
from __future__ import annotations

import json
import random
from pathlib import Path

import jieba
import pytest

from dedupe.bridge import _CompiledSegmenter, _fast_segmenter, _Segmenter
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


def _odd_texts() -> list[str]:
    rng = random.Random(5)
    pool = "".join(_chinese_texts())
    odd = ["", " ", "a", "中", "的的的的的", "abc 123 中文English混合 test，还有標點。\r\n下一行",
           "x-y_z.5%#&+ 北京市长江大桥", "２０２５年１０月", "\t\t空白\u3000全角",
           # runs of unknown characters with letters, digits and `-._%` in them: jieba's HMM pass splits these
           # its own way (jieba-rs would keep `1-2` or `14.4kbps` whole)
           "第1-2季度", "速度14.4kbps上网", "编号a.h7477号", "电话010-65092824转", "型号b737-300客机",
           "增长12.5%以上", "T恤衫和卡拉OK", "学C++和c#的AT&T员工", "1998-2000年间", "gb7258-1997标准"]
    odd += ["".join(rng.choice(pool) for _ in range(rng.randrange(1, 200))) for _ in range(300)]
    # Mixed: common and rare Han characters (rare ones have no HMM emission, so its scores tie), letters,
    # digits, the symbols jieba keeps in a block, spaces, and characters outside jieba's Han range.
    symbols = "abcXYZ0123456789+#&._%- \n,;:/()"
    for _ in range(400):
        chars = []
        for _ in range(rng.randrange(1, 120)):
            r = rng.random()
            if r < 0.5:
                chars.append(rng.choice(pool))
            elif r < 0.7:
                chars.append(chr(rng.randrange(0x4E00, 0x9FD6)))
            elif r < 0.93:
                chars.append(rng.choice(symbols))
            else:
                chars.append(chr(rng.choice([rng.randrange(0x3400, 0x4DC0), rng.randrange(0x9FD6, 0xA000)])))
        odd.append("".join(chars))
    pieces = ["1", "2", "-", ".", "a", "B", "%", "年", "月", "中", "国", "x", "9", "+", "T", "恤", "卡拉", "OK"]
    odd += ["".join(rng.choice(pieces) for _ in range(rng.randrange(1, 40))) for _ in range(400)]
    return odd


def test_compiled_segmenter_is_used() -> None:
    """rjieba is a dependency: the bridge must not fall back to the slower search without saying so."""
    assert isinstance(_fast_segmenter(), _CompiledSegmenter)


@pytest.mark.parametrize("make", [_fast_segmenter, _Segmenter], ids=["compiled", "python"])
def test_same_words_as_jieba_on_fixture_texts(make) -> None:  # type: ignore[no-untyped-def]
    texts = _chinese_texts()
    assert len(texts) >= 10
    segmenter = make()
    for text in texts:
        folded = fold(text)
        assert segmenter.lcut(folded) == jieba.lcut(folded)


@pytest.mark.parametrize("make", [_fast_segmenter, _Segmenter], ids=["compiled", "python"])
def test_same_words_as_jieba_on_odd_input(make) -> None:  # type: ignore[no-untyped-def]
    segmenter = make()
    for text in _odd_texts():
        assert segmenter.lcut(text) == jieba.lcut(text), text
