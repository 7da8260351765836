"""One run at a time per store: an advisory lock on `<db>.lock`.

`flock` locks belong to the process: when a run dies (SIGKILL, OOM, reboot) the kernel releases its lock, so
a crashed run never leaves a stale lock behind; the file's contents (pid, start time) only explain who holds it.
"""
from __future__ import annotations

import fcntl
import os
from pathlib import Path

from crawler.storage import now_iso

EXIT_SKIPPED = 75  # EX_TEMPFAIL: "try again later", what a scheduler should read as a skipped run


class AlreadyRunning(RuntimeError):
    """Another run holds the lock on this store."""


class RunLock:
    """`shared=True`: a crawl on a shared frontier (`--redis`). Such crawls run together (that is the point), but
    not alongside a run holding the lock alone (a crawl without `--redis`, `group`, `run`), either way round."""

    def __init__(self, db: str | Path, shared: bool = False, note: str = "") -> None:
        self.path = Path(f"{db}.lock")
        self.shared = shared
        self.note = note
        self.fd: int | None = None

    def __enter__(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if self.shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 200).decode("utf-8", "replace").strip() or "unknown process"
            os.close(fd)
            raise AlreadyRunning(f"another newsdedupe run holds {self.path} ({holder}); skipping this run") from None
        # Shared holders each write who they are (the last one's line explains a refusal); only a sole holder
        # clears the file on exit.
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        what = f"shared-frontier crawls, e.g. pid {os.getpid()}" if self.shared else f"pid {os.getpid()}"
        os.write(fd, f"{what}, started {now_iso()}{self.note}\n".encode())
        os.fsync(fd)
        self.fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            if not self.shared:
                os.ftruncate(self.fd, 0)
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None
