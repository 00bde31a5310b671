"""A real PostgreSQL server for the team-registry tests (and its benchmark).

``postgres_server`` (session) is a :class:`nbmodels.demo.postgres.TempPostgres` (``initdb``
and ``pg_ctl`` from Debian's server binaries, ``/usr/lib/postgresql/<version>/bin``; ``make
postgres-deps`` installs them) in a temporary folder, as the ``postgres`` system user when
the tests run as root (PostgreSQL refuses root), on a free loopback port. Its user
``nbmodels`` logs in without a password (trust); the role ``guarded`` needs its password
(``GUARDED_PASSWORD``), for the bad-password test. It is stopped and its folder removed at
the end. Without the binaries (or psycopg) the tests that use it are skipped, saying why.

``pg_url`` (per test) is a fresh, empty database on it (``CREATE DATABASE`` from a template:
a few milliseconds), as a ``postgresql://`` URL.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nbmodels.demo.postgres import TempPostgres, find_postgres
from nbmodels.errors import RegistryError

__all__ = ["GUARDED_PASSWORD", "PostgresServer", "find_postgres_bin", "pg_url", "postgres_server"]

#: the password of the role ``guarded`` (the only role that needs one)
GUARDED_PASSWORD = "s3cret-Pa55word"
_TEMPLATE = "nbmodels_template"
_HBA = (
    "# the role `guarded` needs its password; everyone else is trusted (tests only)\n"
    "local all all trust\n"
    "host all guarded 127.0.0.1/32 scram-sha-256\n"
    "host all all 127.0.0.1/32 trust\n"
)

#: the folder of the newest installed server's ``initdb`` and ``pg_ctl`` (None: none)
find_postgres_bin = find_postgres


class PostgresServer:
    """The tests' server: a :class:`TempPostgres` with the role ``guarded`` and a template
    database every :meth:`new_database` is copied from."""

    user = TempPostgres.user
    FAST = TempPostgres.FAST

    def __init__(self, bin_dir: Path, root: Path | None = None, *, conf: dict[str, str] | None = None) -> None:  # fmt: skip
        self.pg = TempPostgres(bin_dir, root, conf=conf, hba=_HBA)

    @property
    def port(self) -> int:
        return self.pg.port

    @property
    def root(self) -> Path:
        return self.pg.root

    @property
    def started_in(self) -> float:
        return self.pg.started_in

    def start(self) -> PostgresServer:
        """Start it (a :class:`~nbmodels.errors.RegistryError` when it cannot run here)."""
        self.pg.start()
        try:
            with self.admin() as con:
                con.execute(f"CREATE ROLE guarded LOGIN PASSWORD '{GUARDED_PASSWORD}'")
                con.execute(f"CREATE DATABASE {_TEMPLATE} TEMPLATE template0 ENCODING 'UTF8'")
                con.execute(f"ALTER DATABASE {_TEMPLATE} IS_TEMPLATE true")
        except Exception:
            self.pg.stop()
            raise
        return self

    def stop(self) -> None:
        self.pg.stop()

    def url(self, database: str = "postgres", *, user: str | None = None, password: str | None = None) -> str:  # fmt: skip
        return self.pg.url_for(database, user=user, password=password)

    def admin(self) -> Any:
        """An autocommit connection to the ``postgres`` database, as the trusted user."""
        return self.pg.connect()

    def new_database(self, prefix: str = "reg") -> str:
        """A fresh, empty database (its name) that ``guarded`` may use too."""
        name = f"{prefix}_{os.getpid()}_{next(self.pg._names)}"
        self.pg.create_database(name, template=_TEMPLATE, owner="guarded")
        return name


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server for the whole session (skipped, saying why, when none can run)."""
    pytest.importorskip("psycopg", reason="psycopg is not installed: pip install -e '.[team]'")
    bin_dir = find_postgres()
    if bin_dir is None:
        pytest.skip(
            "no PostgreSQL server binaries (/usr/lib/postgresql/*/bin/initdb): run "
            "`make postgres-deps` (apt-get install postgresql) for the team-registry tests"
        )
    server = PostgresServer(bin_dir)
    try:
        server.start()
    except RegistryError as exc:
        pytest.skip(str(exc))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_url(postgres_server: PostgresServer) -> str:
    """A fresh, empty database on the session's server, as a URL (no password needed)."""
    return postgres_server.url(postgres_server.new_database())
