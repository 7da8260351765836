"""A throw-away PostgreSQL server for tests: initdb + pg_ctl in a temporary folder, on 127.0.0.1 only.

Debian installs the server binaries in /usr/lib/postgresql/<version>/bin (not on PATH); initdb refuses to run
as root, so as root the cluster belongs to the `postgres` system user and its commands run through runuser.
"""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path


def find_bindir() -> Path | None:
    """The folder holding initdb and pg_ctl (NEWSDEDUPE_PG_BINDIR, PATH, or Debian's newest version)."""
    explicit = os.environ.get("NEWSDEDUPE_PG_BINDIR")
    if explicit:
        return Path(explicit)
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    """`with PostgresServer() as pg:` starts a server; `pg.new_database()` gives a fresh database's URL."""

    user = "newsdedupe"

    def __init__(self) -> None:
        bindir = find_bindir()
        if bindir is None:
            raise RuntimeError("PostgreSQL server binaries (initdb, pg_ctl) not found; "
                               "apt-get install postgresql (scripts/test.sh does)")
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="newsdedupe-pg-"))
        self.data = self.root / "data"
        self.port = 0
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            # initdb will not run as root: the cluster belongs to the postgres system user.
            runuser = shutil.which("runuser")
            if runuser is None:
                raise RuntimeError("running as root without runuser: cannot start PostgreSQL as another user")
            shutil.chown(self.root, user="postgres")
            self.as_user = [runuser, "-u", "postgres", "--"]

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([*self.as_user, *args], capture_output=True, text=True, timeout=120, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"{Path(args[0]).name} failed: {proc.stdout[-1500:]} {proc.stderr[-1500:]}")
        return proc

    def start(self) -> None:
        self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", self.user, "--auth=trust",
                  "-E", "UTF8", "--no-locale", "--no-sync", "--no-instructions")
        last: Exception | None = None
        for _attempt in range(3):  # another process may take the free port between the probe and the start
            self.port = _free_port()
            options = (f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories='' "
                       "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
            try:
                self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "server.log"),
                          "-o", options, "-w", "-t", "60", "start")
                return
            except RuntimeError as exc:
                last = exc
        log = self.root / "server.log"
        raise RuntimeError(f"PostgreSQL did not start: {last}; log: {log.read_text()[-1500:] if log.exists() else ''}")

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            subprocess.run([*self.as_user, str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate",
                            "-w", "stop"], capture_output=True, timeout=60, check=False)
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """Create an empty database and return its URL."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def __enter__(self) -> PostgresServer:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
