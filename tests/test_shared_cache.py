"""A model cache shared by a team: several nbmodels homes (and Unix users) on one folder.

The folder may sit on a network file system where ``flock`` does nothing (NFS, Lustre:
huggingface_hub #4228, #2543), so the multi-process tests patch ``fcntl.flock``,
``fcntl.lockf`` (and with them filelock's locks) to no-ops inside every child: nothing may
rest on them. Every check is made on the disk itself and on the local hub's request log.

With ``NBMODELS_SHARED_CACHE`` on, or a cache folder with its setgid bit set, what nbmodels
creates in the cache is ``2775`` (folders) and ``0664`` (files) whatever the umask; a shared
folder its group may not write to is refused before anything is written.
"""

from __future__ import annotations

import grp
import hashlib
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nbmodels import Settings
from nbmodels.demo.hub import HubServer
from nbmodels.downloader.core import (
    LOCK_SUFFIX,
    PARTIAL_SUFFIX,
    Downloader,
    DownloadTask,
    repo_folder,
)
from nbmodels.errors import StorageError
from nbmodels.types import DownloadStatus

pytestmark = pytest.mark.skipif(os.name != "posix", reason="Unix permissions")

REPO = "nbmodels-test/shared"
WEIGHTS = "weights.bin"
SIZE = 3 * 2**20 + 4321
SHARDS = [f"shards/part-{i}.safetensors" for i in range(4)]
SMALL = ["config.json", "README.md"]
ALL = [WEIGHTS, *SHARDS, *SMALL]
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
USER_A, USER_B = 40001, 40002  # two Unix users of the team (no passwd entry needed)
LEFTOVERS = (PARTIAL_SUFFIX, LOCK_SUFFIX, ".breaking", ".stale", ".tmp")


def _team_gid() -> int:
    try:
        return grp.getgrnam("nogroup").gr_gid
    except KeyError:
        return 65534


# -- the hub and the folders ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def repos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("shared-repos")
    repo = root / REPO
    (repo / "shards").mkdir(parents=True)
    (repo / WEIGHTS).write_bytes(os.urandom(SIZE))
    for i, name in enumerate(SHARDS):
        (repo / name).write_bytes(os.urandom(250_000 + i))
    (repo / "config.json").write_text('{"model_type": "llama"}\n')
    (repo / "README.md").write_text("---\nlicense: mit\n---\n# shared cache test\n")
    return root


@pytest.fixture(scope="module")
def hub(repos: Path) -> Iterator[HubServer]:
    with HubServer(repos) as server:
        yield server


@pytest.fixture
def team_dir(tmp_path: Path) -> Iterator[Path]:
    """A folder other Unix users can reach (pytest's own tmp folders are root's 0700 ones)."""
    if not IS_ROOT:
        yield tmp_path
        return
    base = Path(tempfile.mkdtemp(prefix="nbmodels-team-"))
    base.chmod(0o755)
    try:
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _shared_folder(base: Path, *, group: int | None = None) -> Path:
    """The team's cache folder, as an admin makes it: setgid, group rwx."""
    folder = base / "team-cache"
    folder.mkdir()
    if group is not None:
        os.chown(folder, -1, group)
    folder.chmod(0o2775)
    return folder


def _home(base: Path, name: str, uid: int | None = None) -> Path:
    home = base / name
    home.mkdir()
    if uid is not None:
        os.chown(home, uid, -1)
    return home


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _git_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _expected(repos: Path) -> dict[str, str]:
    return {name: _sha256((repos / REPO / name).read_bytes()) for name in ALL}


# -- the child: one kernel of one home, flock made a no-op ----------------------------------------
# As another Unix user, the child switches once its interpreter runs: the interpreter here may
# sit where only root reads it (a pyenv under /root), so exec'ing it as another user (user=,
# preexec_fn, runuser) would fail before any test. What a download imports is imported first
# (a dry run), then the child drops to the user and does everything else as that user.
_CHILD = textwrap.dedent(
    """
    import fcntl, grp, hashlib, json, os, sqlite3, sys, time

    def _no_lock(*args, **kwargs):  # NFS / Lustre: flock and lockf lock nothing
        return None

    fcntl.flock = _no_lock
    fcntl.lockf = _no_lock
    import filelock  # its locks go through fcntl.flock: no-ops now too, as checked below
    from nbmodels import Settings
    from nbmodels.downloader.core import Downloader
    import nbmodels.discover.sources.local, nbmodels.storage.registry

    job = json.loads(sys.argv[1])
    d = Downloader(Settings.from_env(), max_bytes_per_second=job["rate"] or None, backoff=0.01)
    if job["user"]:
        d.download(job["repo"], allow_patterns=job["patterns"], dry_run=True)  # its imports
        uid, team = job["user"]
        os.setgroups([team])
        os.setgid(uid)
        os.setuid(uid)
        assert os.geteuid() == uid and os.getegid() == uid and os.getgroups() == [team]
    probe = os.path.join(os.environ["NBMODELS_HOME"], "probe.lock")
    filelock.FileLock(probe).acquire()
    filelock.FileLock(probe).acquire(timeout=0.5)  # a real lock would time out here
    out = {"read": {}, "uid": os.geteuid()}
    if job["read"]:  # read every blob and snapshot file another user wrote
        folder = job["read"]
        for sub in ("blobs", "snapshots"):
            for dirpath, _dirs, names in os.walk(os.path.join(folder, sub)):
                for name in names:
                    path = os.path.join(dirpath, name)
                    with open(path, "rb") as fh:
                        data = fh.read()
                    out["read"][os.path.relpath(path, folder)] = hashlib.sha256(data).hexdigest()
    while time.time() < job["go"]:
        time.sleep(0.002)
    task = d.download(job["repo"], allow_patterns=job["patterns"])
    task.wait()
    out["snapshot"] = str(task.result())
    print(json.dumps(out))
    """
)


def _child(
    hub: HubServer,
    cache: Path,
    home: Path,
    patterns: list[str],
    *,
    rate: float = 0,
    go: float = 0,
    umask: int = 0o077,
    forced: bool = True,
    user: int | None = None,
    read: Path | None = None,
) -> subprocess.Popen[str]:
    """A process of another home on ``cache`` (as another Unix user with ``user``: its
    primary group its own, the team's group a supplementary one)."""
    env = {
        **os.environ,
        "NBMODELS_HOME": str(home),
        "HOME": str(home),
        "HF_HOME": str(home / "hf-home"),
        "HF_HUB_CACHE": str(cache),
        "NBMODELS_HF_ENDPOINT": hub.url,
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    env.pop("NBMODELS_SHARED_CACHE", None)
    if forced:
        env["NBMODELS_SHARED_CACHE"] = "1"
    job = {
        "repo": REPO,
        "patterns": patterns,
        "rate": rate,
        "go": go,
        "read": str(read or ""),
        "user": [user, _team_gid()] if user is not None else None,
    }
    return subprocess.Popen(
        [sys.executable, "-c", _CHILD, json.dumps(job)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        umask=umask,
    )


def _result(child: subprocess.Popen[str], timeout: float = 120) -> dict[str, Any]:
    out, err = child.communicate(timeout=timeout)
    assert child.returncode == 0, err[-3000:]
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def _fetches(hub: HubServer, path: str, start: int) -> list[Any]:
    return [
        r
        for r in hub.requests[start:]
        if r.method == "GET" and r.path.endswith("/" + path) and "/resolve/" in r.path
    ]


def _partial_bytes(cache: Path) -> int:
    blobs = repo_folder(cache, REPO) / "blobs"
    return sum(p.stat().st_size for p in blobs.glob(f"*{PARTIAL_SUFFIX}"))


def _wait_for(condition: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


# -- what the disk must hold ----------------------------------------------------------------------
def _no_corrupt_file(cache: Path, repos: Path, names: list[str] = ALL) -> None:
    """Every blob hashes to its name; every snapshot file is the repo's, byte for byte."""
    folder = repo_folder(cache, REPO)
    blobs = [p for p in (folder / "blobs").iterdir()]
    assert blobs, "no blob at all"
    for blob in blobs:
        data = blob.read_bytes()
        assert blob.name in (_sha256(data), _git_sha1(data)), f"corrupt blob {blob.name}"
    (commit,) = (folder / "snapshots").iterdir()
    for name in names:
        link = commit / name
        assert link.is_symlink(), name
        assert link.read_bytes() == (repos / REPO / name).read_bytes(), name


def _no_leftovers(cache: Path) -> None:
    left = [p for p in cache.rglob("*") if p.name.endswith(LEFTOVERS)]
    assert left == [], f"left behind: {left}"


def _modes(cache: Path) -> dict[str, str]:
    """Every folder and file under ``cache`` whose mode is not a team's (2775 / 0664)."""
    wrong = {}
    for path in [cache, *cache.rglob("*")]:
        st = path.lstat()
        if stat.S_ISLNK(st.st_mode):
            continue  # a link's own mode means nothing: its target is checked
        want = 0o2775 if stat.S_ISDIR(st.st_mode) else 0o664
        if stat.S_IMODE(st.st_mode) != want:
            wrong[str(path.relative_to(cache))] = oct(stat.S_IMODE(st.st_mode))
    return wrong


# -- four homes, one folder, no flock ------------------------------------------------------------
@pytest.mark.slow
def test_four_homes_on_one_shared_folder_without_flock_fetch_each_file_once(
    hub: HubServer, repos: Path, tmp_path: Path
) -> None:
    """4 processes, 4 NBMODELS_HOMEs, one cache, flock a no-op, umask 077 in each: every file
    is fetched exactly once (the live holder of a blob's lease is never taken over on one
    host, and a waiter finds the verified blob), every blob verifies, no corrupt, partial or
    lease file is left, and all of it is 2775 / 0664."""
    cache = _shared_folder(tmp_path)
    start = len(hub.requests)
    go = time.time() + 2.0
    children = [
        # two with NBMODELS_SHARED_CACHE, two finding the setgid bit on their own
        _child(hub, cache, _home(tmp_path, f"home-{i}"), ALL, rate=3e6, go=go, forced=i < 2)
        for i in range(4)
    ]
    results = [_result(c) for c in children]
    assert len({r["snapshot"] for r in results}) == 1
    for name in ALL:
        fetched = [g for g in _fetches(hub, name, start) if g.status in (200, 206)]
        assert len(fetched) == 1, f"{name} fetched {len(fetched)} times"
    report = Downloader(Settings(home=tmp_path / "check", hf_endpoint=hub.url, hf_cache=cache))
    verified = report.verify(REPO)
    assert verified.bad == () and verified.missing == () and len(verified.ok) == len(ALL)
    _no_corrupt_file(cache, repos)
    _no_leftovers(cache)
    assert _modes(cache) == {}, "not group read-write whatever the umask"


# -- a holder killed mid-download ----------------------------------------------------------------
@pytest.mark.slow
def test_a_holder_killed_mid_download_is_taken_over_and_resumed_by_another_home(
    hub: HubServer, repos: Path, team_dir: Path
) -> None:
    """A (throttled) is SIGKILLed mid-way; B, waiting on A's lease from another home (as
    another Unix user when the tests run as root), takes the lease over, resumes from A's
    bytes and finishes within 30 s of the kill. flock is a no-op in both."""
    team = _team_gid() if IS_ROOT else None
    cache = _shared_folder(team_dir, group=team)
    a_user, b_user = (USER_A, USER_B) if IS_ROOT else (None, None)
    start = len(hub.requests)
    holder = _child(
        hub, cache, _home(team_dir, "home-a", a_user), [WEIGHTS], rate=400_000, user=a_user
    )
    waiter = None
    try:
        _wait_for(lambda: _partial_bytes(cache) >= 600_000)
        waiter = _child(hub, cache, _home(team_dir, "home-b", b_user), [WEIGHTS], user=b_user)
        time.sleep(1.5)  # B has planned and waits on A's lease
        weights = repo_folder(cache, REPO) / "blobs" / _expected(repos)[WEIGHTS]
        if waiter.poll() is not None:  # B must be waiting on A's lease, not gone
            raise AssertionError(f"B ended early: {waiter.communicate()[1][-3000:]}")
        assert not weights.exists(), "A finished before the kill"
        seen = _partial_bytes(cache)
        holder.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        holder.wait(10)  # reaped: its pid is gone
        _result(waiter, timeout=30)
        took = time.monotonic() - killed
    finally:
        for child in (holder, waiter):
            if child is not None and child.poll() is None:
                child.kill()
    assert took < 30, f"finished {took:.1f} s after the kill"
    gets = _fetches(hub, WEIGHTS, start)
    resumed = [g.range for g in gets if g.range]
    assert len(gets) == 2 and len(resumed) == 1, [(g.range, g.status) for g in gets]
    first = int(resumed[0].removeprefix("bytes=").rstrip("-"))
    assert seen <= first < SIZE, f"B asked for {resumed[0]}: not from the dead writer's bytes"
    blob = repo_folder(cache, REPO) / "blobs" / _expected(repos)[WEIGHTS]
    assert _sha256(blob.read_bytes()) == blob.name
    _no_leftovers(cache)
    assert _modes(cache) == {}


# -- a second Unix user ---------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.skipif(not IS_ROOT, reason="switching Unix users needs root")
def test_a_second_unix_user_reads_what_the_first_wrote_and_adds_to_it(
    hub: HubServer, repos: Path, team_dir: Path
) -> None:
    """User A (umask 077, primary group its own, the team's group as a supplementary one)
    downloads part of a model into the team's setgid folder; user B reads every blob and
    snapshot file A wrote, then downloads the rest of the model into the same folders."""
    team = _team_gid()
    cache = _shared_folder(team_dir, group=team)
    first = [WEIGHTS, "config.json"]
    a = _child(hub, cache, _home(team_dir, "home-a", USER_A), first, forced=False, user=USER_A)
    _result(a)
    folder = repo_folder(cache, REPO)
    b = _child(
        hub,
        cache,
        _home(team_dir, "home-b", USER_B),
        ALL,
        umask=0o022,
        forced=False,
        user=USER_B,
        read=folder,
    )
    result = _result(b)
    assert result["uid"] == USER_B
    read = result["read"]
    expected = _expected(repos)
    (commit,) = (folder / "snapshots").iterdir()
    for name in first:  # B read each of A's files through its snapshot link and its blob
        assert read[f"snapshots/{commit.name}/{name}"] == expected[name], name
    assert len([k for k in read if k.startswith("blobs/")]) == len(first)
    owners = {p.name: p.stat().st_uid for p in (folder / "blobs").iterdir()}
    assert owners[expected[WEIGHTS]] == USER_A
    assert owners[expected[SHARDS[0]]] == USER_B  # B wrote new blobs into A's folder
    assert {p.stat().st_gid for p in cache.rglob("*") if not p.is_symlink()} == {team}
    _no_corrupt_file(cache, repos)
    _no_leftovers(cache)
    assert _modes(cache) == {}


# -- a shared folder its group may not write to ---------------------------------------------------
@pytest.mark.parametrize(
    ("mode", "forced", "why"),
    [(0o755, True, "NBMODELS_SHARED_CACHE"), (0o2755, False, "setgid")],
)
def test_a_shared_folder_without_group_write_is_refused_before_anything_is_written(
    hub: HubServer, tmp_path: Path, mode: int, forced: bool, why: str
) -> None:
    cache = tmp_path / "team-cache"
    cache.mkdir()
    cache.chmod(mode)
    settings = Settings(
        home=tmp_path / "home", hf_endpoint=hub.url, hf_cache=cache, shared_cache=forced
    )
    with pytest.raises(StorageError) as err:
        Downloader(settings).download(REPO)
    message = str(err.value)
    assert str(cache) in message and f"chmod g+ws {cache}" in message and "chgrp" in message
    assert why in message
    assert list(cache.iterdir()) == [], "written before the check"


def test_a_subfolder_an_older_download_left_without_group_write_is_named(
    hub: HubServer, tmp_path: Path
) -> None:
    cache = tmp_path / "team-cache"
    cache.mkdir()
    cache.chmod(0o2775)
    blobs = repo_folder(cache, REPO) / "blobs"
    blobs.mkdir(parents=True)
    blobs.parent.chmod(0o2775)
    blobs.chmod(0o2755)  # what a umask of 022 made before
    settings = Settings(home=tmp_path / "home", hf_endpoint=hub.url, hf_cache=cache)
    with pytest.raises(StorageError, match="g\\+w") as err:
        Downloader(settings).download(REPO)
    assert str(blobs) in str(err.value) and list(blobs.iterdir()) == []


# -- in one process: the modes, whatever the umask -----------------------------------------------
@pytest.fixture
def umask_077() -> Iterator[None]:
    old = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(old)


def test_a_download_into_a_setgid_cache_is_group_read_write_whatever_the_umask(
    hub: HubServer, repos: Path, tmp_path: Path, umask_077: None
) -> None:
    cache = _shared_folder(tmp_path)
    d = Downloader(Settings(home=tmp_path / "home", hf_endpoint=hub.url, hf_cache=cache / "hub"))
    task = d.download(REPO, allow_patterns=[*SMALL, SHARDS[0]])
    assert isinstance(task, DownloadTask)
    assert task.wait(60).status is DownloadStatus.COMPLETED
    assert (repo_folder(cache / "hub", REPO) / "refs" / "main").is_file()
    _no_leftovers(cache)
    assert _modes(cache) == {}


def test_without_shared_mode_nothing_changes(hub: HubServer, tmp_path: Path) -> None:
    cache = tmp_path / "own-cache"
    d = Downloader(Settings(home=tmp_path / "home", hf_endpoint=hub.url, hf_cache=cache))
    task = d.download(REPO, allow_patterns=SMALL)
    assert isinstance(task, DownloadTask) and task.wait(60).status is DownloadStatus.COMPLETED
    for path in [cache, *cache.rglob("*")]:
        if not path.is_symlink():
            assert not path.stat().st_mode & (stat.S_ISGID | stat.S_IWGRP), path


def test_atomic_writes_and_folders_for_a_team(tmp_path: Path, umask_077: None) -> None:
    from nbmodels.files import atomic_write, ensure_dir, is_shared_folder

    assert not is_shared_folder(tmp_path)
    atomic_write(tmp_path / "a" / "b" / "file", b"x", shared=True)
    assert stat.S_IMODE((tmp_path / "a" / "b" / "file").stat().st_mode) == 0o664
    assert stat.S_IMODE((tmp_path / "a").stat().st_mode) == 0o2775
    assert stat.S_IMODE(ensure_dir(tmp_path / "c", shared=True).stat().st_mode) == 0o2775
    atomic_write(tmp_path / "own" / "file", b"x")  # not shared: mkstemp's 0600, as before
    assert stat.S_IMODE((tmp_path / "own" / "file").stat().st_mode) == 0o600
    assert is_shared_folder(tmp_path / "a" / "not-yet")  # what a new folder there inherits


@pytest.fixture
def registry(tmp_path: Path, tiny_models: dict[str, Path]) -> Iterator[Any]:
    """A local Ollama registry serving real blobs by their digests."""
    from nbmodels.demo.ollama.registry import RegistryServer
    from nbmodels.demo.ollama.seed import seed_demo_models

    seed_demo_models(
        tmp_path / "registry-store", chat_model=tiny_models["nbmodels-demo/tiny-llama-chat"]
    )
    with RegistryServer(tmp_path / "registry-store") as server:
        yield server


def test_an_ollama_pull_into_a_setgid_store_is_group_read_write(
    registry: Any, tmp_path: Path, umask_077: None
) -> None:
    import socket

    from nbmodels.storage.ollama_store import OllamaStore

    store = _shared_folder(tmp_path)
    with socket.socket() as s:  # no Ollama anywhere
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    settings = Settings(home=tmp_path / "home", ollama_host=dead, ollama_models=store)
    d = Downloader(settings, ollama_registry=registry.url, backoff=0.01)
    task = d.download("tinyllama-chat", source="ollama")
    assert isinstance(task, DownloadTask) and task.wait(60).status is DownloadStatus.COMPLETED
    assert "tinyllama-chat:latest" in OllamaStore(store)
    OllamaStore(store).add("extra:1b", {"model": b"weights", "template": b"{{ .Prompt }}"})
    _no_leftovers(store)
    assert _modes(store) == {}
