"""1 GiB from the loopback hub: nbmodels against huggingface_hub.snapshot_download and curl.

Three shapes of the same gigabyte, each fetched into a fresh cache by each method, in one
run: (a) one 1 GiB file, (b) eight 128 MiB shards, (c) 500 files of 2 MiB. nbmodels checks
every file's sha256 while it streams; snapshot_download (huggingface_hub 2.4) hashes
nothing; curl neither (it is the practical limit here: one process, files one after another,
``-o`` to disk). Also: the throttle against its limit, and a resume after SIGKILL at 50 %
(bytes fetched again beyond what was missing).

    python benchmarks/run_download.py            # the whole table (about a minute)
    python benchmarks/run_download.py --gib 0.25 # a quick one
"""

from __future__ import annotations

import functools
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # no bars in the table

ORG = "bench"


@dataclass
class Row:
    case: str
    nbmodels_s: float
    hub_s: float
    curl_s: float
    nbytes: int
    rss_growth_mib: float = 0.0  # nbmodels: peak RSS during the download, above before it

    def mbps(self, seconds: float) -> float:
        return self.nbytes / seconds / 1e6


def make_repos(root: Path, total: int) -> dict[str, list[tuple[str, int]]]:
    """Three repos holding ``total`` bytes each: one file, 8 shards, 500 small files."""
    shapes = {
        "one file": [("model.bin", total)],
        "8 shards": [(f"shard-{i}.safetensors", total // 8) for i in range(8)],
        "500 files": [(f"files/part-{i:03d}.bin", total // 500) for i in range(500)],
    }
    block = os.urandom(1 << 20)
    for name, files in shapes.items():
        repo = root / ORG / name.replace(" ", "-")
        for path, size in files:
            target = repo / path
            target.parent.mkdir(parents=True, exist_ok=True)
            with target.open("wb") as fh:
                left = size
                while left > 0:  # distinct content per file: a byte of the path in front
                    chunk = block[: min(len(block), left)]
                    fh.write(chunk)
                    left -= len(chunk)
                fh.seek(0)
                fh.write(path.encode())
    return shapes


def _level_the_disk(source: Path) -> None:
    """The same page-cache state before every timed run.

    On this kind of VM, writes run at memory speed into an empty page cache and at ~370 MB/s
    once earlier writes fill it, whoever wrote them: without this, the first method of a case
    pays for the one before it. Flush and drop the cache (when allowed: root), then read the
    repo's files once so the server sends them from memory for every method alike."""
    os.sync()
    try:
        with open("/proc/sys/vm/drop_caches", "w") as fh:
            fh.write("1\n")
    except OSError:
        pass  # not root: the order of methods still varies between repeats
    for path in sorted(source.rglob("*")):
        if path.is_file():
            with path.open("rb") as fh:
                while fh.read(8 << 20):
                    pass


def _curl_ranges(url: str, size: int, out: Path, parts: int = 8) -> None:
    out.mkdir(parents=True, exist_ok=True)
    step = -(-size // parts)
    procs = [
        subprocess.Popen(
            [
                "curl",
                "-s",
                "--fail",
                "-r",
                f"{i * step}-{min(size, (i + 1) * step) - 1}",
                url,
                "-o",
                str(out / f"part{i}"),
            ]
        )
        for i in range(parts)
    ]
    for p in procs:
        if p.wait() != 0:
            raise RuntimeError("curl failed")


def _sha256_file(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    buf = bytearray(8 << 20)
    view = memoryview(buf)
    with path.open("rb") as fh:
        while n := fh.readinto(view):
            digest.update(view[:n])
    return digest.hexdigest()


def _rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class _PeakRSS:
    """The peak resident memory of this process while the block runs (sampled every 5 ms)."""

    def __enter__(self) -> _PeakRSS:
        import threading

        self.before = self.peak = _rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, _rss())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth_mib(self) -> float:
        return (self.peak - self.before) / 2**20


def _time(fn) -> float:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def run(gib: float = 1.0, repeat: int = 1) -> tuple[list[Row], dict[str, float]]:
    from huggingface_hub import HfApi

    from nbmodels import Settings
    from nbmodels.demo.hub import HubServer
    from nbmodels.downloader.core import Downloader

    total = int(gib * 2**30)
    work = Path(tempfile.mkdtemp(prefix="nbmodels-bench-dl-"))
    try:
        shapes = make_repos(work / "repos", total)
        rows: list[Row] = []
        extra: dict[str, float] = {}
        # the hub runs in its own process, as a remote one would: in this process its
        # threads would compete with the client's for the GIL (curl never pays that)
        server, url = _serve(work / "repos")
        try:
            hub = _Remote(url)
            api = HfApi(endpoint=hub.url, token=False)
            for name, files in shapes.items():
                repo_id = f"{ORG}/{name.replace(' ', '-')}"
                # the server hashes a repo's files on first listing: before any timing
                commit = api.model_info(repo_id, files_metadata=True).sha
                times: dict[str, list[float]] = {"nbmodels": [], "hub": [], "curl": []}
                growth: list[float] = []
                for trial in range(repeat):
                    cache = work / "cache"

                    # the closures run in this iteration only (bound now for the linter)
                    def ours(repo_id: str = repo_id, cache: Path = cache) -> None:
                        d = Downloader(
                            Settings(home=work / "home", hf_endpoint=hub.url, hf_cache=cache)
                        )
                        d.download(repo_id, ignore_patterns=["README.md", ".gitattributes"]).wait()  # type: ignore[union-attr]

                    def theirs(repo_id: str = repo_id, cache: Path = cache) -> None:
                        api.snapshot_download(
                            repo_id,
                            cache_dir=cache,
                            ignore_patterns=["README.md", ".gitattributes"],
                        )

                    def curl(
                        repo_id: str = repo_id,
                        cache: Path = cache,
                        files: list[tuple[str, int]] = files,
                        commit: str = commit,
                    ) -> None:
                        out = cache / "curl"
                        out.mkdir(parents=True, exist_ok=True)
                        args = ["curl", "-s", "--fail"]
                        for i, (path, _size) in enumerate(files):
                            args += [
                                f"{hub.url}/{repo_id}/resolve/{commit}/{path}",
                                "-o",
                                str(out / f"f{i}"),
                            ]
                        subprocess.run(args, check=True)

                    methods = [("nbmodels", ours), ("hub", theirs), ("curl", curl)]
                    shift = trial % len(methods)  # each method goes first in some repeat
                    for label, fn in methods[shift:] + methods[:shift]:
                        shutil.rmtree(cache, ignore_errors=True)
                        _level_the_disk(work / "repos" / repo_id)
                        with _PeakRSS() as rss:
                            times[label].append(_time(fn))
                        if label == "nbmodels":
                            growth.append(rss.growth_mib)
                    shutil.rmtree(cache, ignore_errors=True)
                if name == "one file":  # what parallel ranges could gain, and the hash floor
                    (path, size) = files[0]
                    source = work / "repos" / repo_id / path
                    _level_the_disk(source.parent)
                    url = f"{hub.url}/{repo_id}/resolve/{commit}/{path}"
                    extra["one file: curl, 8 parallel ranges s"] = _time(
                        functools.partial(_curl_ranges, url, size, work / "ranges")
                    )
                    shutil.rmtree(work / "ranges", ignore_errors=True)
                    extra["one file: sha256 in Python (the floor of a verified stream) s"] = _time(
                        functools.partial(_sha256_file, source)
                    )
                rows.append(
                    Row(
                        name,
                        statistics.median(times["nbmodels"]),
                        statistics.median(times["hub"]),
                        statistics.median(times["curl"]),
                        sum(size for _, size in files),
                        max(growth),
                    )
                )
        finally:
            server.terminate()
            server.wait(30)
        with HubServer(work / "repos") as local:  # these two read the request log
            extra.update(_throttle(local, work))
            extra.update(_kill_resume(local, work))
        return rows, extra
    finally:
        shutil.rmtree(work, ignore_errors=True)


@dataclass
class _Remote:
    url: str


def _serve(repos: Path) -> tuple[subprocess.Popen[str], str]:
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "nbmodels.demo.hub",
            "--repos",
            str(repos),
            "--port",
            "0",
            "--no-tiny-models",
            "--quiet",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    for line in server.stdout:
        if line.startswith("Local hub at "):
            return server, line.split()[3]
    raise RuntimeError("the hub did not start")


def _throttle(hub, work: Path) -> dict[str, float]:  # type: ignore[no-untyped-def]
    from nbmodels import Settings
    from nbmodels.downloader.core import Downloader

    rate = 50e6
    cache = work / "throttle"
    d = Downloader(
        Settings(home=work / "home", hf_endpoint=hub.url, hf_cache=cache), max_bytes_per_second=rate
    )
    os.sync()
    task = d.download(
        "bench/8-shards",
        allow_patterns=[f"shard-{i}.safetensors" for i in range(4)],  # half the volume
    )
    task.wait()  # type: ignore[union-attr]
    p = task.progress  # type: ignore[union-attr]
    # the rate over the transfer itself: from the task's start to its last byte
    seconds = (p.last_update - p.start_time).total_seconds()  # type: ignore[operator]
    shutil.rmtree(cache, ignore_errors=True)
    return {
        "throttle limit MB/s": rate / 1e6,
        "throttle measured MB/s": task.plan.total_bytes / seconds / 1e6,
    }  # type: ignore[union-attr]


_CHILD = """
import sys
from nbmodels import Settings
from nbmodels.downloader.core import Downloader
d = Downloader(Settings(home=sys.argv[2] + "/home", hf_endpoint=sys.argv[1], hf_cache=sys.argv[2]),
               max_bytes_per_second=float(sys.argv[3]))
d.download("bench/one-file").wait()
"""


def _kill_resume(hub, work: Path) -> dict[str, float]:  # type: ignore[no-untyped-def]
    from nbmodels import Settings
    from nbmodels.downloader.core import PARTIAL_SUFFIX, Downloader

    cache = work / "kill"
    size = next((work / "repos" / "bench" / "one-file").glob("model.bin")).stat().st_size
    child = subprocess.Popen([sys.executable, "-c", _CHILD, hub.url, str(cache), str(200e6)])
    partial: Path | None = None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = list(cache.glob(f"models--*/blobs/*{PARTIAL_SUFFIX}"))
        if found and found[0].stat().st_size >= size // 2:
            partial = found[0]
            break
        time.sleep(0.01)
    child.send_signal(signal.SIGKILL)
    child.wait()
    kept = partial.stat().st_size if partial else 0
    start = len(hub.requests)
    Downloader(Settings(home=work / "home", hf_endpoint=hub.url, hf_cache=cache)).download(
        "bench/one-file"
    ).wait()  # type: ignore[union-attr]
    ranges = [r.range for r in hub.requests[start:] if r.method == "GET" and "model.bin" in r.path]
    refetched = size - int(ranges[0].split("=")[1].rstrip("-")) if ranges and ranges[0] else size
    missing = size - kept
    shutil.rmtree(cache, ignore_errors=True)
    return {
        "kill at %": 100 * kept / size,
        "resume fetched / missing": refetched / missing if missing else 0.0,
    }


def interleaved(shards: int = 8, mib: int = 64, rounds: int = 7) -> dict[str, Any]:
    """``shards`` x ``mib`` MiB fetched by nbmodels and by ``snapshot_download`` in turns
    (nbmodels, hub, hub, nbmodels, ...: each goes first as often), ``rounds`` times each, into
    a fresh cache, the page cache levelled before every run. Wall and CPU time (this process:
    the client; the hub serves from its own process) per side: medians, spreads, ratios."""
    import resource

    from huggingface_hub import HfApi

    from nbmodels import Settings
    from nbmodels.downloader.core import Downloader

    work = Path(tempfile.mkdtemp(prefix="nbmodels-bench-il-"))
    repo_id = f"{ORG}/shards"
    try:
        folder = work / "repos" / repo_id
        folder.mkdir(parents=True)
        block = os.urandom(1 << 20)
        for i in range(shards):
            with (folder / f"shard-{i}.safetensors").open("wb") as fh:
                fh.write(f"shard {i}".encode())
                for _ in range(mib):
                    fh.write(block)
        server, url = _serve(work / "repos")
        try:
            api = HfApi(endpoint=url, token=False)
            api.model_info(repo_id, files_metadata=True)  # the server hashes on first listing
            cache = work / "cache"

            def ours() -> None:
                settings = Settings(home=work / "home", hf_endpoint=url, hf_cache=cache)
                Downloader(settings).download(repo_id).wait()  # type: ignore[union-attr]

            def theirs() -> None:
                api.snapshot_download(repo_id, cache_dir=cache)

            wall: dict[str, list[float]] = {"nbmodels": [], "snapshot_download": []}
            cpu: dict[str, list[float]] = {"nbmodels": [], "snapshot_download": []}
            sides = [("nbmodels", ours), ("snapshot_download", theirs)]
            for r in range(rounds):
                for label, fn in sides if r % 2 == 0 else sides[::-1]:
                    shutil.rmtree(cache, ignore_errors=True)
                    _level_the_disk(folder)
                    before = resource.getrusage(resource.RUSAGE_SELF)
                    wall[label].append(_time(fn))
                    after = resource.getrusage(resource.RUSAGE_SELF)
                    cpu[label].append(
                        after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
                    )
            shutil.rmtree(cache, ignore_errors=True)
        finally:
            server.terminate()
            server.wait(30)
        med = {k: statistics.median(v) for k, v in wall.items()}
        med_cpu = {k: statistics.median(v) for k, v in cpu.items()}
        return {
            "case": f"{shards} x {mib} MiB, {rounds} rounds interleaved",
            "wall_s": wall,
            "cpu_s": cpu,
            "median_wall_s": med,
            "median_cpu_s": med_cpu,
            "speedup": med["snapshot_download"] / med["nbmodels"],
            "cpu_ratio": med_cpu["nbmodels"] / med_cpu["snapshot_download"],
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
