"""A lease on a file name, across processes and hosts, with no trust in ``flock``.

A :class:`Lease` is a small file created with ``O_EXCL`` next to what it guards, holding
``host pid token``. While the holder lives, a heartbeat thread refreshes its mtime every
couple of seconds (whatever the holder is doing: reading, waiting on a stall or a
``Retry-After``), and checks that the file still holds its token: a holder whose lease was
taken over learns it (``lease.lost``) and stops before writing again.

A lease whose holder died (same host: its pid is gone) or stopped beating for ``stale_after``
seconds (another host, a frozen process) is taken over. Taking over is serialised by a second
``O_EXCL`` file (``<lease>.breaking``): only its holder may move a stale lease aside, and it
checks again, under it, that the lease it moves is the stale one it judged. Six processes
racing for one dead holder's lease get one new holder.

Written by hand: ``filelock`` relies on ``flock``/``fcntl``, which do nothing on some
network file systems (huggingface_hub #4228, #2543). Even so, nothing here is trusted for
correctness: a lease only keeps two processes from fetching the same bytes twice; what
guarantees a good file is that each writer writes its own file and publishes it only once
its hash is checked (see :mod:`nbmodels.downloader.layout`).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import threading
import time
from pathlib import Path

from ..files import share_file, storage_error

__all__ = ["HEARTBEAT_S", "Lease", "pid_alive"]

HEARTBEAT_S = 2.0  # how often a holder refreshes its lease
_BREAKING_STALE_S = 10.0  # a takeover in progress longer than this was abandoned


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this host."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


class Lease:
    """One process's claim on ``path`` (see the module's docstring).

    ``try_acquire()`` never waits; ``release()`` gives it back; ``lost`` turns true when
    another process took it over (the holder must stop writing). Usable as a context manager
    after a successful ``try_acquire``. ``shared=True`` (a team's folder): the lease files
    are 0664, whatever the umask, so another member of the group can beat, take over and
    remove them.
    """

    def __init__(
        self,
        path: Path | str,
        *,
        stale_after: float = 15.0,
        heartbeat: float = HEARTBEAT_S,
        shared: bool = False,
    ) -> None:
        self.path = Path(path)
        self.shared = shared
        self.stale_after = stale_after
        self.heartbeat_s = heartbeat
        self.token = f"{socket.gethostname()} {os.getpid()} {secrets.token_hex(8)}"
        self.held = False
        self._lost = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        state = "lost" if self.lost else "held" if self.held else "free"
        return f"<Lease {self.path.name} {state}>"

    @property
    def lost(self) -> bool:
        """True once another process took this lease over."""
        return self._lost.is_set()

    # -- taking it ---------------------------------------------------------------------------
    def try_acquire(self) -> bool:
        """Take the lease if it is free, or take it over if its holder is gone."""
        if self.held:
            return True
        if self._create():
            return True
        judged = self._read()
        if judged is None or not self._stale(judged):
            return False
        return self._take_over(judged)

    def _create(self) -> bool:
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o664)
        except FileExistsError:
            return False
        except OSError as exc:
            raise storage_error(self.path, exc, what="create the lease") from None
        if self.shared:
            share_file(fd)
        with os.fdopen(fd, "w") as fh:
            fh.write(self.token + "\n")
        self.held = True
        self._lost.clear()
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._beat, name=f"nbmodels-lease-{self.path.name[:16]}", daemon=True
        )
        self._thread.start()
        return True

    def _read(self) -> tuple[str, float] | None:
        """``(token, mtime)`` of the lease file; None when there is none."""
        try:
            with open(self.path) as fh:
                text = fh.read()
                mtime = os.fstat(fh.fileno()).st_mtime
        except FileNotFoundError:
            return None
        except OSError:
            return ("", time.time())  # unreadable: treat as alive, never break it
        return (text.strip(), mtime)

    def _stale(self, judged: tuple[str, float]) -> bool:
        token, mtime = judged
        host, _, rest = token.partition(" ")
        pid = rest.partition(" ")[0]
        if host == socket.gethostname() and pid.isdigit() and not pid_alive(int(pid)):
            return True
        return time.time() - mtime > self.stale_after

    def _take_over(self, judged: tuple[str, float]) -> bool:
        """Move a stale lease aside and take it, one breaker at a time."""
        breaking = self.path.with_name(self.path.name + ".breaking")
        try:
            fd = os.open(breaking, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o664)
        except FileExistsError:
            with contextlib.suppress(OSError):  # a breaker that died mid-way
                if time.time() - breaking.stat().st_mtime > _BREAKING_STALE_S:
                    breaking.unlink()
            return False
        except OSError as exc:
            raise storage_error(breaking, exc, what="create the lease") from None
        if self.shared:
            share_file(fd)
        os.close(fd)
        try:
            now = self._read()
            if now is None:  # released meanwhile: whoever creates it first holds it
                return self._create()
            if now[0] != judged[0] or not self._stale(now):
                return False  # a new holder, or the old one beat again
            grave = self.path.with_name(f"{self.path.name}.{secrets.token_hex(4)}.stale")
            try:
                os.rename(self.path, grave)
            except FileNotFoundError:
                return self._create()
            try:
                moved = grave.read_text().strip()
            except OSError:
                moved = judged[0]
            if moved != judged[0]:  # not the lease we judged: give it back if we can
                with contextlib.suppress(OSError):
                    os.link(grave, self.path)
                grave.unlink(missing_ok=True)
                return False
            grave.unlink(missing_ok=True)
            return self._create()
        finally:
            breaking.unlink(missing_ok=True)

    # -- holding it --------------------------------------------------------------------------
    def _beat(self) -> None:
        """Refresh the lease while held; notice a takeover."""
        while not self._stop.wait(self.heartbeat_s):
            if not self.check():
                return
            with contextlib.suppress(OSError):
                os.utime(self.path)

    def check(self) -> bool:
        """True while the lease file still holds this holder's token (reads the file)."""
        if not self.held:
            return False
        judged = self._read()
        if judged is None or judged[0] != self.token:
            self._lost.set()
            return False
        return True

    def release(self) -> None:
        """Give the lease back (only the lease file that is still ours is removed)."""
        if not self.held:
            return
        self.held = False
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        judged = self._read()
        if judged is not None and judged[0] == self.token:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)

    def __enter__(self) -> Lease:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
