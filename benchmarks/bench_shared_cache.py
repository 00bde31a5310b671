"""A team's shared model cache, measured: 4 homes pulling one 512 MiB model into one folder.

    python benchmarks/bench_shared_cache.py            # 4 x 128 MiB shards (under a minute)
    python benchmarks/bench_shared_cache.py --mib 64   # a quick one

The model (``--shards`` shards of ``--mib`` MiB of random bytes, and a config.json) is
served by the local hub (``nbmodels.demo.hub.HubServer``) in a process of its own. Every
download runs in a process of its own too, with its own ``NBMODELS_HOME``, all on one cache
folder (setgid 2775, ``NBMODELS_SHARED_CACHE=1``, umask 077), with ``fcntl.flock`` and
``fcntl.lockf`` made no-ops, as on NFS or Lustre (as ``tests/test_shared_cache.py`` does):
only nbmodels' leases keep two processes from fetching the same bytes.

1. **Four at once.** Four processes start the same download at the same instant. Reported:
   the bytes the hub served over the model's size (1.00: each byte once), corrupt blobs
   (every blob in the cache hashed again: must be 0), files left without a team's mode,
   partial or lease files left behind, and the wall time from the start to the last
   process's finish, beside one process alone into a cache of its own.
2. **A holder killed.** Process A, throttled (``--rate`` MB/s), fetches one shard; B, from
   another home, starts just after and waits on A's lease. A is SIGKILLed half-way. Reported:
   the seconds from the kill until B holds the lease (read from the lease file on disk)
   and until B has finished, and the bytes fetched after the kill beyond those A had not
   written (0: B resumed from A's bytes).

Bytes served are counted in the hub's process: ``HubServer.requests`` (status and
``Range`` of each answer: the bytes each answer announced) and, around each file answer,
the body bytes actually written to the socket (a killed client's answer stops early). The
hub process hands both over as JSON on SIGUSR1.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import stat
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

REPO = "bench/shared-512"
MiB = 2**20

# -- the hub, in a process of its own ------------------------------------------------------------


class _Counting:
    """A handler's ``wfile`` that counts what is written after the headers (the first write)."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw
        self.writes = 0
        self.body = 0

    def write(self, data: Any) -> int:
        n: int = self.raw.write(data)
        if self.writes:
            self.body += len(data)
        self.writes += 1
        return n

    def flush(self) -> None:
        self.raw.flush()


def serve(repos: Path, log: Path) -> int:
    """Serve ``repos`` until SIGTERM; on SIGUSR1, write the request log to ``log``."""
    from dataclasses import asdict

    from nbmodels.demo.hub import HubServer
    from nbmodels.demo.hub import server as hub_server

    sent: list[dict[str, Any]] = []
    lock = threading.Lock()
    send_file = hub_server._Handler._send_file

    def counted(self: Any, file: Any, commit: str, *, head: bool, fault: Any = None) -> None:
        counter = _Counting(self.wfile)
        self.wfile, started = counter, time.time()
        try:
            send_file(self, file, commit, head=head, fault=fault)
        finally:
            self.wfile = counter.raw
            entry = {"path": file.path, "t0": started, "t1": time.time(), "body": counter.body}
            with lock:
                sent.append({**entry, "range": self.headers.get("Range"), "head": head})

    hub_server._Handler._send_file = counted  # type: ignore[method-assign]
    hub = HubServer(repos).start()
    dump, done = threading.Event(), threading.Event()
    signal.signal(signal.SIGUSR1, lambda *_: dump.set())
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    print(f"Local hub at {hub.url}", flush=True)
    while not done.is_set():
        if dump.wait(0.05):
            dump.clear()
            with lock:
                state = {"requests": [asdict(r) for r in hub.requests], "sent": list(sent)}
            tmp = log.with_name(log.name + ".tmp")
            tmp.write_text(json.dumps(state))
            os.replace(tmp, log)
    hub.stop()
    return 0


class Hub:
    """The hub's process, its URL, and its request log on demand."""

    def __init__(self, repos: Path, work: Path) -> None:
        self.log = work / "hub-log.json"
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(repos), str(self.log)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,  # a killed client's answer ends in a traceback there
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("Local hub at "):
            raise RuntimeError(f"the hub did not start: {line!r}")
        self.url = line.split()[3]

    def state(self) -> dict[str, Any]:
        self.log.unlink(missing_ok=True)
        self.proc.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + 30
        while not self.log.exists():
            if time.monotonic() > deadline:
                raise RuntimeError("the hub did not hand its log over")
            time.sleep(0.01)
        state: dict[str, Any] = json.loads(self.log.read_text())
        return state

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


def _range_bytes(header: str | None, size: int) -> int:
    if not header:
        return size
    first, _, last = header.removeprefix("bytes=").partition("-")
    if not first:  # a suffix: the last N bytes
        return min(size, int(last))
    end = min(size - 1, int(last)) if last else size - 1
    return max(0, end - int(first) + 1)


def served(
    state: dict[str, Any], sizes: dict[str, int], since: int = 0, after: float = 0.0
) -> dict[str, int]:
    """Bytes of file answers: as the request log announces them (200 and 206, from request
    ``since`` on) and as written (answers begun after ``after``)."""
    announced = 0
    for r in state["requests"][since:]:
        if r["method"] != "GET" or "/resolve/" not in r["path"] or r["status"] not in (200, 206):
            continue
        name = next((n for n in sizes if r["path"].endswith("/" + n)), None)
        if name is not None:
            announced += (
                sizes[name] if r["status"] == 200 else _range_bytes(r["range"], sizes[name])
            )
    written = sum(s["body"] for s in state["sent"] if s["t0"] >= after and s["path"] in sizes)
    return {"announced": announced, "written": written}


# -- the model, the folders, the processes --------------------------------------------------------


def make_repo(root: Path, shards: int, mib: int) -> dict[str, int]:
    repo = root / REPO
    repo.mkdir(parents=True)
    sizes = {}
    for i in range(shards):
        name = f"model-{i + 1:05d}-of-{shards:05d}.safetensors"
        with (repo / name).open("wb") as fh:
            for _ in range(mib):
                fh.write(os.urandom(MiB))
        sizes[name] = mib * MiB
    (repo / "config.json").write_text('{"model_type": "llama"}\n')
    sizes["config.json"] = (repo / "config.json").stat().st_size
    return sizes


def shared_folder(path: Path) -> Path:
    """A team's cache folder, as an admin makes it: setgid, group rwx."""
    path.mkdir(parents=True)
    path.chmod(0o2775)
    return path


_CHILD = textwrap.dedent(
    """
    import fcntl, json, os, sys, time

    def _no_lock(*args, **kwargs):  # NFS / Lustre: flock and lockf lock nothing
        return None

    fcntl.flock = _no_lock
    fcntl.lockf = _no_lock
    from nbmodels import Settings
    from nbmodels.downloader import lease
    from nbmodels.downloader.core import Downloader

    job = json.loads(sys.argv[1])
    waiting = job["marks"] + "/" + job["name"] + ".waiting"
    try_acquire = lease.Lease.try_acquire

    def noted(self):  # says, once, that this process waits on another's lease
        got = try_acquire(self)
        if not got and not os.path.exists(waiting):
            open(waiting, "w").close()
        return got

    lease.Lease.try_acquire = noted
    d = Downloader(Settings.from_env(), max_bytes_per_second=job["rate"] or None, backoff=0.01)
    d.download(job["repo"], allow_patterns=job["patterns"], dry_run=True)  # imports, plan
    open(job["marks"] + "/" + job["name"] + ".ready", "w").close()
    go = job["marks"] + "/go"
    while not os.path.exists(go):
        time.sleep(0.002)
    time.sleep(job["delay"])
    started = time.time()
    task = d.download(job["repo"], allow_patterns=job["patterns"])
    task.wait()
    snapshot = str(task.result())
    print(json.dumps({"start": started, "done": time.time(), "snapshot": snapshot}))
    """
)


def child(
    hub: Hub,
    cache: Path,
    work: Path,
    name: str,
    patterns: list[str] | None,
    *,
    rate: float = 0,
    delay: float = 0,
    marks: Path,
) -> subprocess.Popen[str]:
    home = work / f"home-{name}"
    home.mkdir()
    env = {
        **os.environ,
        "NBMODELS_HOME": str(home),
        "HOME": str(home),
        "HF_HOME": str(home / "hf-home"),
        "HF_HUB_CACHE": str(cache),
        "NBMODELS_HF_ENDPOINT": hub.url,
        "NBMODELS_SHARED_CACHE": "1",
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    job = {
        "repo": REPO,
        "patterns": patterns,
        "rate": rate,
        "delay": delay,
        "name": name,
        "marks": str(marks),
    }
    return subprocess.Popen(
        [sys.executable, "-c", _CHILD, json.dumps(job)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        umask=0o077,
        cwd=HERE.parent,
    )


def result(
    proc: subprocess.Popen[str], timeout: float = 300, *, fail: bool = True
) -> dict[str, Any]:
    """What a download process printed; its error's last line (``fail=False``) if it failed."""
    out, err = proc.communicate(timeout=timeout)
    if proc.returncode != 0:
        if not fail:
            return {"error": (err.strip().splitlines() or ["(no output)"])[-1]}
        raise RuntimeError(f"a download process failed:\n{err[-3000:]}")
    found: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return found


def wait_for(condition: Any, timeout: float = 120, what: str = "a condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.002)


def start_together(procs: list[subprocess.Popen[str]], names: list[str], marks: Path) -> None:
    """Let ``procs`` go once each has imported everything and planned its download."""

    def ready() -> bool:
        for p in procs:
            if p.poll() is not None:
                raise RuntimeError(f"a download process ended early:\n{p.communicate()[1][-3000:]}")
        return all((marks / f"{n}.ready").exists() for n in names)

    wait_for(ready, what="the download processes to start")
    (marks / "go").touch()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(8 * MiB):
            digest.update(chunk)
    return digest.hexdigest()


def _git_sha1(path: Path) -> str:
    data = path.read_bytes()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def check_cache(cache: Path, repos: Path, sizes: dict[str, int]) -> dict[str, int]:
    """Every blob hashed again; every snapshot file compared; modes and leftovers counted."""
    from nbmodels.downloader.core import LOCK_SUFFIX, PARTIAL_SUFFIX, repo_folder

    folder = repo_folder(cache, REPO)
    corrupt = blobs = 0
    for blob in (folder / "blobs").iterdir():
        if blob.name.endswith((PARTIAL_SUFFIX, LOCK_SUFFIX)):
            continue
        blobs += 1
        small = blob.stat().st_size < MiB
        if blob.name != _sha256(blob) and not (small and blob.name == _git_sha1(blob)):
            corrupt += 1
    snapshots = list((folder / "snapshots").iterdir())
    missing = sum(
        1
        for name in sizes
        if not all(
            (s / name).exists() and (s / name).stat().st_size == sizes[name] for s in snapshots
        )
    )
    left = [
        p
        for p in cache.rglob("*")
        if p.name.endswith((PARTIAL_SUFFIX, LOCK_SUFFIX, ".breaking", ".stale"))
    ]
    wrong_mode = 0
    for path in [cache, *cache.rglob("*")]:
        st = path.lstat()
        if not stat.S_ISLNK(st.st_mode):
            want = 0o2775 if stat.S_ISDIR(st.st_mode) else 0o664
            wrong_mode += stat.S_IMODE(st.st_mode) != want
    return {
        "blobs": blobs,
        "corrupt": corrupt,
        "missing": missing,
        "snapshots": len(snapshots),
        "leftovers": len(left),
        "wrong_mode": wrong_mode,
    }


# -- the two scenarios ----------------------------------------------------------------------------


def four_at_once(
    hub: Hub, repos: Path, work: Path, sizes: dict[str, int], n: int = 4
) -> dict[str, Any]:
    total = sum(sizes.values())
    rows: dict[str, Any] = {}
    for label, count in (("1 process, its own cache", 1), (f"{n} processes, one cache", n)):
        case = work / f"case-{count}"
        marks = case / "marks"
        marks.mkdir(parents=True)
        cache = shared_folder(case / "team-cache")
        names = [f"p{i}" for i in range(count)]
        since = len(hub.state()["requests"])
        procs = [child(hub, cache, case, name, None, marks=marks) for name in names]
        start_together(procs, names, marks)
        go = time.time()
        outcomes = [result(p, fail=False) for p in procs]
        results = [r for r in outcomes if "error" not in r]
        errors = [r["error"] for r in outcomes if "error" in r]
        wall = max((r["done"] for r in results), default=time.time()) - go
        bytes_ = served(hub.state(), sizes, since=since, after=go)
        rows[label] = {
            "processes": count,
            "wall_s": wall,
            "announced": bytes_["announced"] / total,
            "written": bytes_["written"] / total,
            "same_snapshot": len({r["snapshot"] for r in results}) == 1,
            "failed": len(errors),
            "errors": errors,
            **check_cache(cache, repos, sizes),
        }
    return rows


def killed_holder(
    hub: Hub, repos: Path, work: Path, sizes: dict[str, int], rate: float
) -> dict[str, Any]:
    from nbmodels.downloader.core import LOCK_SUFFIX, PARTIAL_SUFFIX, repo_folder

    shard = next(n for n in sizes if n.endswith(".safetensors"))
    size = sizes[shard]
    case = work / "case-killed"
    marks = case / "marks"
    marks.mkdir(parents=True)
    cache = shared_folder(case / "team-cache")
    blobs = repo_folder(cache, REPO) / "blobs"

    def on_disk() -> int:
        return (
            sum(p.stat().st_size for p in blobs.glob(f"*{PARTIAL_SUFFIX}")) if blobs.exists() else 0
        )

    since, began = len(hub.state()["requests"]), time.time()
    holder = child(hub, cache, case, "a", [shard], rate=rate, marks=marks)
    waiter = child(hub, cache, case, "b", [shard], delay=0.3, marks=marks)
    try:
        start_together([holder, waiter], ["a", "b"], marks)
        wait_for(lambda: (marks / "b.waiting").exists(), what="B to wait on A's lease")
        wait_for(lambda: on_disk() >= size // 2, what="A to write half the shard")
        (lease,) = blobs.glob(f"*{LOCK_SUFFIX}")
        holder.send_signal(signal.SIGKILL)
        killed = time.time()
        holder.wait(10)  # reaped: its pid is gone
        had = on_disk()  # what A wrote before it died (the kernel holds every write it made)

        def b_holds() -> bool:
            try:
                return lease.read_text().split()[1] == str(waiter.pid)
            except (OSError, IndexError):
                return False

        wait_for(b_holds, timeout=60, what="B to take the lease over")
        taken = time.time() - killed
        done = result(waiter)
    finally:
        for p in (holder, waiter):
            if p.poll() is None:
                p.kill()
                p.wait()
    state = hub.state()
    after = served(state, {shard: size}, since=since, after=killed)
    everything = served(state, {shard: size}, since=since, after=began)
    resumed = [
        r["range"]
        for r in state["requests"][since:]
        if r["method"] == "GET" and r["path"].endswith("/" + shard) and r["range"]
    ]
    return {
        "shard_mib": size / MiB,
        "rate_mbps": rate / 1e6,
        "written_at_kill": had,
        "takeover_s": taken,
        "finish_s": done["done"] - killed,
        "refetched": after["written"] - (size - had),
        "resumed_from": resumed,
        "written": everything["written"] / size,
        **check_cache(cache, repos, {shard: size}),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--mib", type=int, default=128, help="MiB per shard")
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--rate", type=float, default=50.0, help="the holder's MB/s (part 2)")
    parser.add_argument("--serve", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        return serve(*args.serve)

    work = Path(tempfile.mkdtemp(prefix="nbm-bench-shared-"))
    began = time.perf_counter()
    hub = None
    try:
        sizes = make_repo(work / "repos", args.shards, args.mib)
        hub = Hub(work / "repos", work)
        total = sum(sizes.values())
        print(
            f"{os.cpu_count()} CPU cores; model: {args.shards} x {args.mib} MiB + config.json "
            f"({total / MiB:.0f} MiB); flock/lockf no-ops in every download process.\n"
        )
        rows = four_at_once(hub, work / "repos", work, sizes, args.processes)
        print(
            "| case | wall s | hub served / model size (log / written) | blobs re-hashed | corrupt | files missing | leftovers | not 2775/0664 | processes failed |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for label, r in rows.items():
            print(
                f"| {label} | {r['wall_s']:.1f} | {r['announced']:.2f} / {r['written']:.2f} | "
                f"{r['blobs']} | {r['corrupt']} | {r['missing']} | {r['leftovers']} | {r['wrong_mode']} | "
                f"{r['failed']} of {r['processes']} |"
            )
        for label, r in rows.items():
            for error in r["errors"]:
                print(f"  {label}: a process failed: {error[:400]}")
        k = killed_holder(hub, work / "repos", work, sizes, args.rate * 1e6)
        print(
            f"\nA holder killed: A fetches one {k['shard_mib']:.0f} MiB shard at "
            f"{k['rate_mbps']:.0f} MB/s; B waits on its lease; A is SIGKILLed half-way.\n"
        )
        print(
            "| A had written | B holds the lease after | B finished after | B asked for | re-fetched beyond what was missing | hub served / shard (written) | corrupt | leftovers | not 2775/0664 |"
        )
        print("|---:|---:|---:|---|---:|---:|---:|---:|---:|")
        print(
            f"| {k['written_at_kill']:,} B | {k['takeover_s']:.2f} s | {k['finish_s']:.2f} s | "
            f"{', '.join(k['resumed_from'])} | {k['refetched']:,} B | {k['written']:.2f} | "
            f"{k['corrupt']} | {k['leftovers']} | {k['wrong_mode']} |"
        )
        print(f"\n(whole run {time.perf_counter() - began:.0f} s)")
    finally:
        if hub is not None:
            hub.stop()
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
