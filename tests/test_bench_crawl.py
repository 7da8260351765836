"""bench/crawl.py's schedule and summary (the benchmark itself is run by hand, never timed in a test)."""
from __future__ import annotations

import http.client
import importlib
import importlib.util
import multiprocessing as mp
import sys
from pathlib import Path
from urllib.parse import urlsplit

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


def test_the_per_page_cpu_ratio_compares_cpu_per_page_not_wall() -> None:
    bench = _bench()
    rounds = [
        # alone: 6 ms per page; crawl: 7.5 ms per page (1.5 in its own process + 6 in its workers) -> 0.8
        {2: {"pages": 1000, "wall": 4.0, "cpu": 7.5}, "alone": {"pages": 1000, "wall": 3.0, "cpu": 6.0}},
        # a crawl that stored half the pages: per page, not per run -> 6 / 8 = 0.75
        {2: {"pages": 500, "wall": 2.0, "cpu": 4.0}, "alone": {"pages": 1000, "wall": 3.0, "cpu": 6.0}},
        {2: {"pages": 0, "wall": 1.0, "cpu": 0.5}, "alone": {"pages": 1000, "wall": 3.0, "cpu": 6.0}},  # nothing stored
        {"alone": {"pages": 1000, "wall": 3.0, "cpu": 6.0}},  # no crawl in this round
    ]
    assert bench.cpu_ratios(rounds, 2) == pytest.approx([0.8, 0.75])


@pytest.mark.parametrize("version", ["1.1", "1.0"])
def test_the_benchmark_site_keeps_connections_alive_over_http_1_1_only(tmp_path: Path, version: str) -> None:
    (tmp_path / "robots.txt").write_text("User-agent: *\nAllow: /\n", encoding="utf-8")
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    # Imported by name, with bench/ on the path while the server process starts, so that it imports it too.
    sys.path.insert(0, str(REPO / "bench"))
    try:
        bench = importlib.import_module("crawl")
        server = ctx.Process(target=bench._serve, args=(str(tmp_path), queue, version), daemon=True)
        server.start()
    finally:
        sys.path.remove(str(REPO / "bench"))
    try:
        base = urlsplit(queue.get(timeout=60))
        conn = http.client.HTTPConnection(base.hostname, base.port, timeout=10)
        conn.request("GET", "/robots.txt")
        first = conn.getresponse()
        assert first.read().startswith(b"User-agent")
        sock = conn.sock
        if version == "1.1":
            assert first.version == 11 and not first.will_close
            conn.request("GET", "/robots.txt")  # the same connection
            second = conn.getresponse()
            assert second.status == 200 and second.read().startswith(b"User-agent")
            assert conn.sock is sock
        else:
            assert first.version == 10 and first.will_close
        conn.close()
    finally:
        server.terminate()
        server.join(10)
