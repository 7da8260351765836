"""Crash safety: `run` (crawl, group, export) and `group` killed with SIGKILL at random moments, 20 times each.

After every kill: the store opens and passes SQLite's integrity check, it holds either the previous grouping
or a whole new one (never half of each), and every output file under its real name is whole (outputs are
written to a temporary file and renamed). After the kills, one more uninterrupted run ends with every article
stored exactly once, the same events as a run that was never interrupted, and no temporary file left behind.

Kill moments come from a seeded generator (NEWSDEDUPE_KILL_SEED to vary it; the seed is in the failure
message). A kill that lands after the process already finished does not count; each scenario makes at least
20 kills of a live process. Both scenarios run at once, in threads: the crawl one mostly waits on the site.
"""
from __future__ import annotations

import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from conftest import TESTS, finish_cli, outlet_toml, read_jsonl, run_cli, start_cli

from crawler.sitesrv import FixtureSite
from crawler.storage import Store, article_id_for, now_iso

MANY = TESTS / "fixtures" / "resilience" / "many"
N_MANY = len(list((MANY / "news").rglob("*.html")))
KILLS = 20
SEED = int(os.environ.get("NEWSDEDUPE_KILL_SEED", "20261122"))


@dataclass
class Outcome:
    kills: list[dict[str, Any]] = field(default_factory=list)
    baseline: list[dict[str, Any]] = field(default_factory=list)  # events of an uninterrupted run
    final: list[dict[str, Any]] = field(default_factory=list)  # events after the kills and one more run
    final_proc: Any = None
    db: Path | None = None
    out: Path | None = None
    articles: int = 0
    durations: list[float] = field(default_factory=list)  # seconds of each run that finished (baseline included)


def membership(events: list[dict[str, Any]]) -> list[list[str]]:
    return sorted(sorted(a["id"] for a in e["articles"]) for e in events)


def whole_outputs(out: Path) -> list[str]:
    """Problems with the output files under their real names (temporary files are skipped)."""
    problems = []
    for path in sorted(out.rglob("*")):
        if not path.is_file() or path.name.endswith(".tmp"):
            continue
        text = path.read_text(encoding="utf-8")
        try:
            if path.suffix == ".jsonl":
                for line in text.splitlines():
                    json.loads(line)
                if text and not text.endswith("\n"):
                    problems.append(f"{path}: last line not terminated")
            elif path.suffix == ".json":
                json.loads(text)
            elif path.suffix == ".html":
                if not text.rstrip().endswith("</html>"):
                    problems.append(f"{path}: cut off")
            elif path.suffix == ".xml" and not text.rstrip().endswith(">"):
                problems.append(f"{path}: cut off")
        except ValueError as exc:
            problems.append(f"{path}: {exc}")
    return problems


def store_state(db: Path) -> dict[str, Any]:
    """Integrity, duplicate articles, and whether the stored grouping is whole."""
    if not db.exists():
        return {"integrity": "ok", "duplicates": 0, "grouping": "none"}
    conn = sqlite3.connect(db, timeout=10)
    try:
        state: dict[str, Any] = {"integrity": conn.execute("PRAGMA integrity_check").fetchone()[0]}
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "articles" not in tables:
            return {**state, "duplicates": 0, "grouping": "none"}
        state["duplicates"] = conn.execute(
            "SELECT COUNT(*) - COUNT(DISTINCT canonical_url) FROM articles").fetchone()[0]
        bodies = [json.loads(r[0]) for r in conn.execute("SELECT body FROM events")] if "events" in tables else []
        in_events = {a["id"] for e in bodies for a in e["articles"]}
        assigned = {r[0] for r in conn.execute("SELECT article_id FROM assignments")} if "assignments" in tables else set()
        # A whole grouping: the events hold exactly the articles the assignments hold (both empty before any).
        state["grouping"] = "whole" if in_events == assigned else f"torn: {len(in_events)} vs {len(assigned)}"
        return state
    finally:
        conn.close()


def kill_at_random(args: list[Any], rng: random.Random, upper: float, outcome: Outcome, db: Path, out: Path,
                   attempts: int = 2 * KILLS) -> None:
    """Start `args` and SIGKILL it at a moment drawn from [0.2 s, upper) until KILLS kills of a live process.

    A process that finishes first does not count, and the next moments are drawn from up to its duration
    (a resumed crawl has less left to do)."""
    for _ in range(attempts):
        if len(outcome.kills) >= KILLS:
            return
        proc = start_cli(*args)
        t0 = time.monotonic()
        at = rng.uniform(0.2, upper)
        try:
            proc.wait(timeout=at)
        except subprocess.TimeoutExpired:  # still running: this is the moment
            os.kill(proc.pid, signal.SIGKILL)
            proc.communicate(timeout=30)
            outcome.kills.append({"at": round(at, 2), **store_state(db), "outputs": whole_outputs(out)})
            continue
        proc.communicate(timeout=30)
        outcome.durations.append(time.monotonic() - t0)
        upper = max(0.5, 0.95 * outcome.durations[-1])


# --- run (crawl + group + export), killed ---------------------------------------------------------------
def scenario_run(work: Path) -> Outcome:
    outcome = Outcome()
    rng = random.Random(SEED)
    with FixtureSite(MANY, delay=0.2) as site:
        outlets = work / "outlets.toml"
        outlets.write_text(outlet_toml("courier", feeds=[f"{site.base_url}/rss.xml"],
                                       allow=[r"/news/\d{4}/\d{2}/\d{2}/"], download_delay=0, concurrency=2),
                           encoding="utf-8")

        def run_args(db: Path, out: Path) -> list[Any]:
            return ["run", "--outlets", outlets, "--db", db, "--out", out, "--allow-private",
                    "--export", "articles,html,label-studio"]

        t0 = time.monotonic()
        base = run_cli(*run_args(work / "base.sqlite3", work / "base-out"), timeout=300)
        assert base.returncode == 0, base.stderr
        duration = time.monotonic() - t0
        outcome.durations.append(duration)
        outcome.baseline = read_jsonl(work / "base-out" / "events.jsonl")
        db, out = work / "killed.sqlite3", work / "killed-out"
        kill_at_random(run_args(db, out), rng, duration * 1.1, outcome, db, out)
        outcome.final_proc = finish_cli(start_cli(*run_args(db, out)), timeout=300)
        outcome.final = read_jsonl(out / "events.jsonl")
        outcome.db, outcome.out = db, out
    return outcome


# --- group, killed ----------------------------------------------------------------------------------------
SYLLABLES = ["ka", "lo", "mi", "ren", "tas", "vo", "quen", "dar", "si", "bel", "nor", "ti", "gra", "pe", "lum",
             "osk", "fa", "ru", "zen", "hal", "cor", "vey", "mun", "dra"]


def synthetic_store(db: Path, n_stories: int = 1000, copies: int = 4, seed: int = 7) -> int:
    """A store of near-duplicate families in a made-up language: each story re-published `copies` times with
    a few words changed, a sentence dropped or a dateline added, a few days apart from the next story."""
    rng = random.Random(seed)
    vocab = sorted({"".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))) for _ in range(6000)})
    n = 0
    with Store(db) as store, store.transaction():
        for s in range(n_stories):
            sentences = [" ".join(rng.choice(vocab) for _ in range(rng.randint(12, 20))) + "." for _ in range(9)]
            day = f"2025-{1 + s % 12:02d}-{1 + (s * 7) % 28:02d}"
            for c in range(copies):
                words = " ".join(sentences).split()
                for _ in range(len(words) // 25):
                    words[rng.randrange(len(words))] = rng.choice(vocab)
                text = " ".join(words)
                if c == 2:
                    text = text.rsplit(".", 2)[0] + "."
                if c == 3:
                    text = f"PORT ELLERY, {day} - " + text
                url = f"https://outlet{c}.example/{day}/story-{s}.html"
                store.add_article({
                    "id": article_id_for(url), "url": url, "canonical_url": url, "outlet": f"outlet{c}",
                    "title": " ".join(sentences[0].split()[:8]).title(), "text": text, "language": "en",
                    "language_source": "declared", "published": f"{day}T0{c}:00:00+00:00",
                    "published_source": "meta", "authors": [], "fetched": now_iso(), "discovered_via": "feed",
                    "extraction_status": "ok", "encoding": "utf-8", "topics": [], "meta": {},
                })
                n += 1
    return n


def scenario_group(work: Path) -> Outcome:
    outcome = Outcome()
    rng = random.Random(SEED + 1)
    db = work / "killed.sqlite3"
    outcome.articles = synthetic_store(db)
    shutil.copy(db, work / "base.sqlite3")
    t0 = time.monotonic()
    base = run_cli("group", "--db", work / "base.sqlite3", "--out", work / "base-out", timeout=300)
    assert base.returncode == 0, base.stderr
    duration = time.monotonic() - t0
    outcome.durations.append(duration)
    outcome.baseline = read_jsonl(work / "base-out" / "events.jsonl")
    out = work / "killed-out"
    kill_at_random(["group", "--db", db, "--out", out], rng, duration * 1.1, outcome, db, out)
    # Every events.jsonl a killed run left is a finished grouping's: the same events as the baseline.
    outcome.final_proc = run_cli("group", "--db", db, "--out", out, timeout=300)
    outcome.final = read_jsonl(out / "events.jsonl")
    outcome.db, outcome.out = db, out
    return outcome


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Future[Outcome]]]:
    root = tmp_path_factory.mktemp("crash")
    (root / "run").mkdir()
    (root / "group").mkdir()
    with ThreadPoolExecutor(max_workers=2) as pool:
        yield {"run": pool.submit(scenario_run, root / "run"), "group": pool.submit(scenario_group, root / "group")}


@pytest.fixture(params=["run", "group"])
def outcome(request: pytest.FixtureRequest, outcomes: dict[str, Future[Outcome]]) -> Outcome:
    return outcomes[request.param].result(timeout=900)


def test_killed_at_least_20_times_while_running(outcome: Outcome) -> None:
    assert len(outcome.kills) >= KILLS, f"only {len(outcome.kills)} kills of a live process (seed {SEED})"
    # The moments are spread over a whole run, not bunched in its start-up: the latest is past half of the
    # shortest run seen to the end.
    moments = sorted(k["at"] for k in outcome.kills)
    assert moments[-1] > 0.5 * min(outcome.durations), (moments, outcome.durations)


def test_store_sound_after_every_kill(outcome: Outcome) -> None:
    for kill in outcome.kills:
        assert kill["integrity"] == "ok", (kill, SEED)
        assert kill["duplicates"] == 0, (kill, SEED)
        assert kill["grouping"] in ("none", "whole"), (kill, SEED)


def test_no_output_file_partly_written_after_any_kill(outcome: Outcome) -> None:
    for kill in outcome.kills:
        assert kill["outputs"] == [], (kill, SEED)


def test_rerun_ends_with_every_article_once_and_the_uninterrupted_events(outcome: Outcome) -> None:
    assert outcome.final_proc.returncode == 0, outcome.final_proc.stderr
    assert membership(outcome.final) == membership(outcome.baseline), SEED
    ids = [a["id"] for e in outcome.final for a in e["articles"]]
    assert len(ids) == len(set(ids))
    assert outcome.db is not None and outcome.out is not None
    state = store_state(outcome.db)
    assert state == {"integrity": "ok", "duplicates": 0, "grouping": "whole"}
    assert whole_outputs(outcome.out) == []
    assert not list(outcome.out.rglob("*.tmp")), "a killed writer's temporary file was left behind"


def test_run_stores_every_article_of_the_site_exactly_once(outcomes: dict[str, Future[Outcome]]) -> None:
    outcome = outcomes["run"].result(timeout=900)
    assert outcome.db is not None
    conn = sqlite3.connect(outcome.db)
    try:
        rows = [r[0] for r in conn.execute("SELECT canonical_url FROM articles")]
    finally:
        conn.close()
    assert len(rows) == len(set(rows)) == N_MANY
    assert sum(len(e["articles"]) for e in outcome.final) == N_MANY


def test_grouping_kills_hit_a_grouping_that_does_real_work(outcomes: dict[str, Future[Outcome]]) -> None:
    outcome = outcomes["group"].result(timeout=900)
    assert outcome.articles == 4000
    # Near-duplicate families were found: far fewer events than articles, and no event spans two families.
    assert len(outcome.baseline) <= outcome.articles // 2
    for event in outcome.final:
        families = {a["url"].rsplit("/", 1)[-1] for a in event["articles"]}
        assert len(families) == 1, families
    assert sum(len(e["articles"]) for e in outcome.final) == outcome.articles
