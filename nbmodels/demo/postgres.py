"""A throwaway PostgreSQL server, for the team-registry demo and the tests.

    >>> from nbmodels.demo.postgres import TempPostgres
    >>> from nbmodels.errors import RegistryError
    >>> try:
    ...     with TempPostgres() as pg:
    ...         url = pg.create_database("team")  # postgresql://nbmodels@127.0.0.1:<port>/team
    ...         ...                                # Registry(url), NBMODELS_REGISTRY_URL=url
    ... except RegistryError as exc:               # no PostgreSQL here: say why and skip
    ...     print(exc)

:class:`TempPostgres` runs ``initdb`` and ``pg_ctl`` from Debian's server binaries
(``/usr/lib/postgresql/<version>/bin``, found by :func:`find_postgres`; ``apt-get install
postgresql`` or ``make postgres-deps`` installs them) in a temporary folder, on a free
loopback port, and removes it all when it stops. PostgreSQL refuses to run as root: as root
its programs run as the ``postgres`` system account (Debian's package makes it; else
``nobody``); as anyone else, as that user. Its user ``nbmodels`` logs in without a password
(``trust``, loopback only); durability is traded for speed (``fsync=off``): it is a demo.

When it cannot run here (no binaries, root without an account to run them as, psycopg
missing, ``initdb`` or ``pg_ctl`` failing) it raises :class:`~nbmodels.errors.RegistryError`
saying why: a notebook catches it (or any :class:`~nbmodels.errors.NBModelsError`) and skips
its PostgreSQL cells.

Nothing in the product imports this module (it is part of the demo).
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import itertools
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, ClassVar

from ..errors import ConfigurationError, RegistryError

__all__ = ["TempPostgres", "find_postgres"]

_INSTALL = "install Debian's server: apt-get install postgresql (or `make postgres-deps`)"
_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
#: the accounts PostgreSQL's programs run as when we are root (it refuses root itself)
_ACCOUNTS = ("postgres", "nobody")
#: who may log in: everyone from this host, without a password (a demo on loopback)
TRUST_ALL = "local all all trust\nhost all all 127.0.0.1/32 trust\n"


def find_postgres() -> Path | None:
    """The folder of the newest installed server's ``initdb`` and ``pg_ctl``: Debian's
    ``/usr/lib/postgresql/<version>/bin``, else the ``PATH``'s; None when there is none."""
    found = []
    for initdb in glob.glob("/usr/lib/postgresql/*/bin/initdb"):
        folder = Path(initdb).parent
        try:
            version = float(folder.parent.name)
        except ValueError:
            version = 0.0
        if (folder / "pg_ctl").exists():
            found.append((version, folder))
    if not found and (on_path := shutil.which("initdb")) and shutil.which("pg_ctl"):
        found.append((0.0, Path(on_path).parent))
    return max(found)[1] if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _account() -> pwd.struct_passwd | None:
    """The system account PostgreSQL's programs run as when we are root (None: none)."""
    for name in _ACCOUNTS:
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    return None


class TempPostgres:
    """One throwaway PostgreSQL cluster in a temporary folder (see the module's docstring).

    ``with TempPostgres() as pg`` starts it and stops it (or :meth:`start` / :meth:`stop`;
    a server still running when Python exits is stopped then). ``pg.url`` is its ``postgres``
    database, :meth:`create_database` makes a fresh one and gives its URL, :meth:`url_for`
    any database as any user, :meth:`connect` a psycopg connection (autocommit).

    ``bin_dir``: the folder of ``initdb`` and ``pg_ctl`` (default :func:`find_postgres`).
    ``root``: where the cluster lives (default: a new temporary folder, removed on stop; a
    folder given is kept, and only what the server wrote in it is removed). ``conf``: lines of
    ``postgresql.conf`` over :attr:`FAST`. ``hba``: the whole ``pg_hba.conf`` (default
    :data:`TRUST_ALL`). Raises :class:`~nbmodels.errors.RegistryError` when it cannot run.
    """

    #: the superuser ``initdb`` makes; it logs in without a password
    user = "nbmodels"

    #: speed over durability: a crash loses the throwaway cluster anyway
    FAST: ClassVar[dict[str, str]] = {
        "fsync": "off",
        "synchronous_commit": "off",
        "full_page_writes": "off",
    }

    def __init__(
        self,
        bin_dir: Path | None = None,
        root: Path | None = None,
        *,
        conf: dict[str, str] | None = None,
        hba: str = TRUST_ALL,
    ) -> None:
        self.bin_dir = Path(bin_dir) if bin_dir is not None else None
        self.conf = {**self.FAST, **(conf or {})}
        self.hba = hba
        self._own_root = root is None
        self._root = Path(root) if root is not None else None
        self.port = 0
        #: seconds :meth:`start` took (initdb and the server's start)
        self.started_in = 0.0
        self._running = False
        self._names = itertools.count(1)
        self._account: pwd.struct_passwd | None = None

    # -- where it lives -----------------------------------------------------------------------
    @property
    def root(self) -> Path:
        """The cluster's folder (made on first use)."""
        if self._root is None:
            self._root = Path(tempfile.mkdtemp(prefix="nbmodels-pg-"))
        return self._root

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root / "socket"

    @property
    def log(self) -> Path:
        """The server's log (its last lines are in every error about it)."""
        return self.root / "server.log"

    @property
    def running(self) -> bool:
        return self._running

    def __repr__(self) -> str:
        state = f"running on 127.0.0.1:{self.port}" if self._running else "stopped"
        return f"<TempPostgres {state}, {self._root or 'no folder yet'}>"

    # -- starting and stopping ------------------------------------------------------------------
    def _check(self) -> Path:
        """The binaries' folder, or a RegistryError saying why the server cannot run here."""
        bin_dir = self.bin_dir or find_postgres()
        if bin_dir is None or not (bin_dir / "initdb").exists():
            where = bin_dir or "/usr/lib/postgresql/*/bin/initdb"
            raise RegistryError(f"No PostgreSQL server binaries ({where}): {_INSTALL}.")
        if _is_root():
            self._account = _account()
            if self._account is None:
                raise RegistryError(
                    "PostgreSQL refuses to run as root, and there is no 'postgres' or 'nobody' "
                    "account to run it as: run as another user, or create the account "
                    "(Debian's postgresql package does)."
                )
        try:
            import psycopg  # noqa: F401
        except ImportError:
            raise RegistryError(
                "The PostgreSQL demo needs psycopg: pip install 'nbmodels[team]' "
                "(or 'psycopg[binary]>=3.1')."
            ) from None
        return bin_dir

    def _run(self, *args: str, timeout: float = 120) -> None:
        assert self.bin_dir is not None
        command = [str(self.bin_dir / args[0]), *args[1:]]
        # a fresh environment: no PG* variable of the caller's leaks in, messages in English
        env = {"LC_ALL": "C", "LANG": "C", "PATH": os.defpath}
        who: dict[str, Any] = {}
        if self._account is not None:  # root: as the account (PostgreSQL will not run as root)
            who = {"user": self._account.pw_uid, "group": self._account.pw_gid, "extra_groups": []}
            env["HOME"] = str(self.root)
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, env=env, cwd=self.root, **who
        )
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {(done.stderr or done.stdout).strip()}")

    def _log_tail(self) -> str:
        with contextlib.suppress(OSError):
            lines = self.log.read_text(errors="replace").strip().splitlines()
            if lines:
                return "\nThe last lines of its log:\n" + "\n".join(lines[-8:])
        return ""

    def start(self) -> TempPostgres:
        """Make the cluster and start the server; returns self (a no-op when running)."""
        if self._running:
            return self
        started = time.perf_counter()
        self.bin_dir = self._check()
        try:
            self._start()
        except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
            why = f"{exc}{self._log_tail()}"
            self.stop()
            raise RegistryError(f"PostgreSQL could not be started here: {why}") from None
        self.started_in = time.perf_counter() - started
        return self

    def _start(self) -> None:
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        if self._account is not None:
            for folder in (self.root, self.socket_dir):
                os.chown(folder, self._account.pw_uid, self._account.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", self.user, "-A", "trust", "-E", "UTF8",
                  "--locale=C", "--no-sync", "--no-instructions")  # fmt: skip
        (self.data / "pg_hba.conf").write_text(self.hba)
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                "\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.socket_dir}'\n"
                "max_connections = 100\nshared_buffers = 64MB\n"
                + "".join(f"{k} = {v}\n" for k, v in self.conf.items())
            )
        atexit.register(self.stop)
        for attempt in range(5):  # the port may be taken between choosing and binding it
            self.port = _free_port()
            try:
                self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60",
                          "-o", f"-p {self.port}", "start")  # fmt: skip
                break
            except RuntimeError:
                taken = "already in use" in self._log_tail()
                if attempt == 4 or not taken:
                    raise
                self.log.unlink(missing_ok=True)
        self._running = True

    def stop(self) -> None:
        """Stop the server at once and remove its files (safe to call twice)."""
        atexit.unregister(self.stop)
        self._running = False
        if self._root is None:
            return
        if self.bin_dir is not None and (self.data / "postmaster.pid").exists():
            with contextlib.suppress(Exception):
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop",
                          timeout=60)  # fmt: skip
        if self._own_root:
            shutil.rmtree(self._root, ignore_errors=True)
            self._root = None
        else:
            for path in (self.data, self.socket_dir):
                shutil.rmtree(path, ignore_errors=True)
            self.log.unlink(missing_ok=True)

    def __enter__(self) -> TempPostgres:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- using it ---------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """The ``postgres`` database, as :attr:`user` (no password)."""
        return self.url_for()

    def url_for(
        self, database: str = "postgres", *, user: str | None = None, password: str | None = None
    ) -> str:
        """A ``postgresql://`` URL of ``database`` on this server, as ``user``."""
        if not self._running:
            raise RegistryError("The temporary PostgreSQL server is not running: start() it.")
        auth = user or self.user
        if password is not None:
            auth += f":{password}"
        return f"postgresql://{auth}@127.0.0.1:{self.port}/{database}"

    def connect(self, database: str = "postgres") -> Any:
        """A psycopg connection (autocommit) to ``database``, as :attr:`user`; close it (or
        use it in a ``with``)."""
        import psycopg

        return psycopg.connect(self.url_for(database), autocommit=True, connect_timeout=10)

    def create_database(
        self, name: str | None = None, *, template: str = "template1", owner: str | None = None
    ) -> str:
        """A fresh, empty database (``name``, default ``db_<n>``), its URL. ``owner``: a role
        that owns it (and may do anything in it)."""
        name = name or f"db_{os.getpid()}_{next(self._names)}"
        for what in (name, template, owner):
            if what is not None and not _NAME.match(what):
                raise ConfigurationError(
                    f"{what!r} is not a plain PostgreSQL name: lower-case letters, digits and _."
                )
        with self.connect() as con:
            con.execute(f"CREATE DATABASE {name} TEMPLATE {template}")
            if owner is not None:
                con.execute(f"GRANT ALL ON DATABASE {name} TO {owner}")
                con.execute(f"ALTER DATABASE {name} OWNER TO {owner}")
        return self.url_for(name)
