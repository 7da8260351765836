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
    def __init__(self, db: str | Path) -> None:
        self.path = Path(f"{db}.lock")
        self.fd: int | None = None

    def __enter__(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 200).decode("utf-8", "replace").strip() or "unknown process"
            os.close(fd)
            raise AlreadyRunning(f"another newsdedupe run holds {self.path} ({holder}); skipping this run") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()}, started {now_iso()}\n".encode())
        os.fsync(fd)
        self.fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            os.ftruncate(self.fd, 0)
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None
