"""bench/crawl.py's schedule and summary (the benchmark itself is run by hand, never timed in a test)."""
from __future__ import annotations

import importlib.util
import sys

import pytest
from conftest import REPO


def _bench():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("bench_crawl", REPO / "bench" / "crawl.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_crawl"] = module
    spec.loader.exec_module(module)
    return module


def test_rounds_interleave_crawl_and_extraction_alone_in_alternating_order() -> None:
    bench = _bench()
    assert bench.schedule(4, [2]) == [[2, "alone"], ["alone", 2], [2, "alone"], ["alone", 2]]
    assert bench.schedule(2, [0, 2]) == [[0, 2, "alone"], ["alone", 2, 0]]


def test_each_round_gives_its_own_ratio_and_the_summary_is_their_median() -> None:
    bench = _bench()
    rounds = [
        {2: {"pages": 100, "wall": 1.0}, "alone": {"pages": 100, "wall": 0.5}},  # 0.5
        {2: {"pages": 100, "wall": 1.0}, "alone": {"pages": 100, "wall": 0.9}},  # 0.9
        {2: {"pages": 100, "wall": 2.0}, "alone": {"pages": 100, "wall": 1.6}},  # 0.8
        {2: {"pages": 100, "wall": 1.0}},  # no pair: left out
    ]
    ratios = bench.pair_ratios(rounds, 2)
    assert ratios == pytest.approx([0.5, 0.9, 0.8])
    assert bench.median(ratios) == pytest.approx(0.8)
    assert bench.median([1.0, 4.0, 2.0, 3.0]) == pytest.approx(2.5)
    with pytest.raises(ValueError):
        bench.median([])
