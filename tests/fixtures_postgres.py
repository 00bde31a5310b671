"""A real PostgreSQL server for the team-registry tests (and its benchmark).

``postgres_server`` (session) runs ``initdb`` and ``pg_ctl`` from Debian's server binaries
(``/usr/lib/postgresql/<version>/bin``; ``make postgres-deps`` installs them) in a temporary
folder, as an unprivileged user when the tests run as root (PostgreSQL refuses root), on a
free loopback port. Its user ``nbmodels`` logs in without a password (trust); the role
``guarded`` needs its password (``GUARDED_PASSWORD``), for the bad-password test. It is
stopped and its folder removed at the end. Without the binaries (or psycopg) the tests that
use it are skipped, saying why.

``pg_url`` (per test) is a fresh, empty database on it (``CREATE DATABASE`` from a template:
a few milliseconds), as a ``postgresql://`` URL.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

__all__ = ["GUARDED_PASSWORD", "PostgresServer", "find_postgres_bin", "pg_url", "postgres_server"]

#: the password of the role ``guarded`` (the only role that needs one)
GUARDED_PASSWORD = "s3cret-Pa55word"
_TEMPLATE = "nbmodels_template"


def find_postgres_bin() -> Path | None:
    """The folder of the newest installed server's ``initdb`` and ``pg_ctl`` (None: none)."""
    found = []
    for initdb in glob.glob("/usr/lib/postgresql/*/bin/initdb"):
        folder = Path(initdb).parent
        try:
            version = float(folder.parent.name)
        except ValueError:
            version = 0.0
        if (folder / "pg_ctl").exists():
            found.append((version, folder))
    if not found and (initdb := shutil.which("initdb")) and shutil.which("pg_ctl"):
        found.append((0.0, Path(initdb).parent))
    return max(found)[1] if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    """One throwaway PostgreSQL cluster in ``root`` (see the module's docstring)."""

    user = "nbmodels"

    #: for tests: speed over durability (a crash loses the throwaway cluster anyway)
    FAST: ClassVar[dict[str, str]] = {
        "fsync": "off",
        "synchronous_commit": "off",
        "full_page_writes": "off",
    }

    def __init__(self, bin_dir: Path, root: Path | None = None, *, conf: dict[str, str] | None = None) -> None:  # fmt: skip
        self.conf = {**self.FAST, **(conf or {})}
        self.bin_dir = bin_dir
        self.root = Path(root or tempfile.mkdtemp(prefix="nbmodels-pg-"))
        self.data = self.root / "data"
        self.socket_dir = self.root / "socket"
        self.log = self.root / "server.log"
        self.port = 0
        self._names = itertools.count(1)
        self._as_root = hasattr(os, "geteuid") and os.geteuid() == 0

    # -- running the server's programs ----------------------------------------------------------
    def _run(self, *args: str, timeout: float = 120) -> None:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if self._as_root:  # PostgreSQL will not run as root: as the `postgres` system user
            command = ["runuser", "-u", "postgres", "--", *command]
        env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{' '.join(args[:2])} failed: {done.stderr or done.stdout}\n{log}")

    def start(self) -> PostgresServer:
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        if self._as_root:
            shutil.chown(self.root, "postgres", "postgres")
            shutil.chown(self.socket_dir, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", self.user, "-A", "trust", "-E", "UTF8",
                  "--locale=C", "--no-sync", "--no-instructions")  # fmt: skip
        (self.data / "pg_hba.conf").write_text(
            "# the role `guarded` needs its password; everyone else is trusted (tests only)\n"
            "local all all trust\n"
            "host all guarded 127.0.0.1/32 scram-sha-256\n"
            "host all all 127.0.0.1/32 trust\n"
        )
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                "\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.socket_dir}'\n"
                "max_connections = 100\nshared_buffers = 64MB\n"
                + "".join(f"{k} = {v}\n" for k, v in self.conf.items())
            )
        for attempt in range(5):  # the port may be taken between choosing and binding it
            self.port = _free_port()
            try:
                self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60",
                          "-o", f"-p {self.port}", "start")  # fmt: skip
                break
            except RuntimeError:
                if attempt == 4:
                    raise
        with self.admin() as con:
            con.execute(f"CREATE ROLE guarded LOGIN PASSWORD '{GUARDED_PASSWORD}'")
            con.execute(f"CREATE DATABASE {_TEMPLATE} TEMPLATE template0 ENCODING 'UTF8'")
            con.execute(f"ALTER DATABASE {_TEMPLATE} IS_TEMPLATE true")
        return self

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", timeout=60)
        shutil.rmtree(self.root, ignore_errors=True)

    # -- using it ---------------------------------------------------------------------------------
    def url(self, database: str = "postgres", *, user: str | None = None, password: str | None = None) -> str:  # fmt: skip
        auth = user or self.user
        if password is not None:
            auth += f":{password}"
        return f"postgresql://{auth}@127.0.0.1:{self.port}/{database}"

    def admin(self) -> Any:
        """An autocommit connection to the ``postgres`` database, as the trusted user."""
        import psycopg

        return psycopg.connect(self.url(), autocommit=True, connect_timeout=10)

    def new_database(self, prefix: str = "reg") -> str:
        """A fresh, empty database (its name) that ``guarded`` may use too."""
        name = f"{prefix}_{os.getpid()}_{next(self._names)}"
        with self.admin() as con:
            con.execute(f"CREATE DATABASE {name} TEMPLATE {_TEMPLATE}")
            con.execute(f"GRANT ALL ON DATABASE {name} TO guarded")
            con.execute(f"ALTER DATABASE {name} OWNER TO guarded")
        return name


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server for the whole session (skipped, saying why, when none can run)."""
    pytest.importorskip("psycopg", reason="psycopg is not installed: pip install -e '.[team]'")
    bin_dir = find_postgres_bin()
    if bin_dir is None:
        pytest.skip(
            "no PostgreSQL server binaries (/usr/lib/postgresql/*/bin/initdb): run "
            "`make postgres-deps` (apt-get install postgresql) for the team-registry tests"
        )
    if hasattr(os, "geteuid") and os.geteuid() == 0 and not shutil.which("runuser"):
        pytest.skip("running as root without runuser: PostgreSQL cannot be started as root")
    started = time.perf_counter()
    server = PostgresServer(bin_dir)
    try:
        server.start()
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        server.stop()
        pytest.skip(f"PostgreSQL could not be started here: {exc}")
    server.started_in = time.perf_counter() - started  # type: ignore[attr-defined]
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_url(postgres_server: PostgresServer) -> str:
    """A fresh, empty database on the session's server, as a URL (no password needed)."""
    return postgres_server.url(postgres_server.new_database())
