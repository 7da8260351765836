"""atomic_writer: what a killed writer leaves behind is cleaned up by the next write in the same folder."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from dedupe.writers import atomic_writer


def test_orphans_of_killed_writers_are_removed_whatever_file_they_were_writing(tmp_path: Path) -> None:
    """A run report has a new name every run, so its orphan is removed by the next write of any file in its
    folder; a live writer's temporary file and other dotfiles stay."""
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    dead_pid = int(dead.stdout)
    orphan = tmp_path / f".2026-11-22T135207Z.json.{dead_pid}.l83s0rkh.tmp"
    same_name = tmp_path / f".events.jsonl.{dead_pid}.abc123_x.tmp"
    live = tmp_path / f".2026-11-22T140000Z.json.{os.getppid()}.q1w2e3r4.tmp"  # our parent is alive
    other = tmp_path / ".keep.me.tmp"
    for f in (orphan, same_name, live, other):
        f.write_text("partial", encoding="utf-8")
    with atomic_writer(tmp_path / "2026-11-22T141500Z.json") as fh:
        fh.write("{}")
    assert (tmp_path / "2026-11-22T141500Z.json").read_text(encoding="utf-8") == "{}"
    assert not orphan.exists() and not same_name.exists()
    assert live.exists() and other.exists()
    assert not [p for p in tmp_path.glob(".*.tmp") if p not in (live, other)]
