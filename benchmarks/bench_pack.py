"""nbmodels.pack / nbmodels.unpack against ``tar`` of the same files.

    python benchmarks/bench_pack.py                 # a 300 MiB model, median of 3
    python benchmarks/bench_pack.py --mib 100 --repeat 5

A random-weight model (``--mib`` MiB of float16 tensors in two safetensors shards, written
with ``safetensors``, plus its config.json and a tokenizer file) is served by the local hub
(``nbmodels.demo.hub.HubServer``) and downloaded into home A, so it sits in the HF cache
exactly as a real download puts it. Then, in one run, each case is timed ``--repeat`` times,
nbmodels and tar in turn (medians, and the median of each pair's ratio):

* ``pack``: ``nbmodels.pack([model], path)`` (every file hashed as it is written, the
  lockfile and the OCI layout's documents) against ``tar -chf`` of the snapshot folder (the
  same files, links followed), and against ``sha256sum`` of the files then ``tar -chf``;
* ``unpack``: ``nbmodels.unpack(path)`` into a fresh home B (every blob hashed, staged,
  published into the HF cache, snapshot links, refs, the registry, the lockfile) against
  ``tar -xf`` into a fresh folder, and ``tar -xf`` followed by ``sha256sum`` of what it
  extracted (extraction *with* a check, the fair comparison);
* the sha256 of every installed file against home A's (they must be equal).

The files are in the page cache for every run (written just before), so the figures are
of the CPU and memory copies more than of the disk: on a cold disk both sides wait on the
same reads and the ratios move towards 1.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

REPO = "bench/pack-model"
MiB = 2**20


def build(repos: Path, mib: int) -> None:
    """A random-weight model of about ``mib`` MiB in two shards."""
    import json

    import numpy as np
    from safetensors.numpy import save_file

    folder = repos / REPO
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    per_shard = mib * MiB // 2
    hidden = 1024
    rows = per_shard // (hidden * 2) // 4  # four float16 tensors per shard
    index = {"metadata": {"total_size": 0}, "weight_map": {}}
    for shard in (1, 2):
        name = f"model-0000{shard}-of-00002.safetensors"
        tensors = {
            f"model.layers.{shard}.w{i}": rng.standard_normal(
                (rows, hidden), dtype=np.float32
            ).astype(np.float16)
            for i in range(4)
        }
        save_file(tensors, str(folder / name))
        for key, value in tensors.items():
            index["weight_map"][key] = name
            index["metadata"]["total_size"] += value.nbytes
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    (folder / "config.json").write_text(json.dumps({"model_type": "llama", "hidden_size": hidden}))
    (folder / "tokenizer.json").write_text(
        json.dumps({"version": "1.0", "vocab": list(range(5000))})
    )


def _once(fn: Callable[[], object], before: Callable[[], object] | None) -> float:
    if before is not None:
        before()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def paired(
    ours: Callable[[], object],
    theirs: Callable[[], object],
    repeat: int,
    before_ours: Callable[[], object] | None = None,
    before_theirs: Callable[[], object] | None = None,
) -> tuple[float, float, float]:
    """Median seconds of ``ours`` and ``theirs``, run in turn ``repeat`` times (``before_*``
    untimed, each time), and the median of the ratios of each pair: the machine's load
    drifts (other jobs share its two cores), and a pair run back to back shares the drift."""
    a, b = [], []
    for _ in range(repeat):
        a.append(_once(ours, before_ours))
        b.append(_once(theirs, before_theirs))
    ratio = statistics.median(x / y for x, y in zip(a, b, strict=True))
    return statistics.median(a), statistics.median(b), ratio


def sha256s(folder: Path) -> dict[str, str]:
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h = hashlib.sha256()
            with open(p, "rb") as fh:
                while chunk := fh.read(8 * MiB):
                    h.update(chunk)
            out[p.relative_to(folder).as_posix()] = h.hexdigest()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=300, help="model size in MiB (default 300)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per case (median)")
    args = parser.parse_args()

    from nbmodels import Settings
    from nbmodels.demo.hub import HubServer
    from nbmodels.downloader.core import Downloader, DownloadTask, repo_folder
    from nbmodels.packing import pack, unpack

    work = Path(tempfile.mkdtemp(prefix="nbmodels-bench-pack-"))
    try:
        build(work / "repos", args.mib)
        with HubServer(work / "repos") as hub:
            a = Settings(home=work / "a" / "home", hf_cache=work / "a" / "hf", hf_endpoint=hub.url)
            task = Downloader(a).download(REPO)
            assert isinstance(task, DownloadTask)
            task.wait(600)
        commit = (repo_folder(a.hf_cache, REPO) / "refs" / "main").read_text()
        snapshot = repo_folder(a.hf_cache, REPO) / "snapshots" / commit
        size = sum(p.stat().st_size for p in snapshot.rglob("*") if p.is_file())
        dead = "http://127.0.0.1:9"
        b = Settings(home=work / "b" / "home", hf_cache=work / "b" / "hf", hf_endpoint=dead,
                     ollama_host=dead, ollama_models=work / "b" / "ollama", offline=True)  # fmt: skip
        archive, plain, out = work / "model.tar", work / "plain.tar", work / "out"

        def fresh_b() -> None:
            shutil.rmtree(work / "b", ignore_errors=True)

        def fresh_out() -> None:
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir()

        def tar_x_check() -> None:
            subprocess.run(["tar", "-xf", str(plain), "-C", str(out)], check=True)
            files = [str(p) for p in out.rglob("*") if p.is_file()]
            subprocess.run(["sha256sum", *files], check=True, capture_output=True)

        def tar_c() -> None:
            subprocess.run(["tar", "-chf", str(plain), "-C", str(snapshot), "."], check=True)

        def tar_c_check() -> None:
            files = [str(p) for p in snapshot.rglob("*") if p.is_file()]
            subprocess.run(["sha256sum", *files], check=True, capture_output=True)
            tar_c()

        def tar_x() -> None:
            subprocess.run(["tar", "-xf", str(plain), "-C", str(out)], check=True)

        rows = [
            (
                "pack vs tar -chf",
                *paired(lambda: pack([REPO], archive, settings=a), tar_c, args.repeat),
            ),
            (
                "pack vs sha256sum + tar -chf",
                *paired(lambda: pack([REPO], archive, settings=a), tar_c_check, args.repeat),
            ),
            (
                "unpack vs tar -xf",
                *paired(
                    lambda: unpack(archive, settings=b), tar_x, args.repeat, fresh_b, fresh_out
                ),
            ),
            (
                "unpack vs tar -xf + sha256sum",
                *paired(
                    lambda: unpack(archive, settings=b),
                    tar_x_check,
                    args.repeat,
                    fresh_b,
                    fresh_out,
                ),
            ),
        ]
        listing = subprocess.run(["tar", "-tf", str(archive)], check=True, capture_output=True, text=True)  # fmt: skip
        same = sha256s(repo_folder(b.hf_cache, REPO) / "snapshots" / commit) == sha256s(snapshot)
        print(f"model: {len(list(snapshot.rglob('*')))} files, {size / MiB:.0f} MiB; archive "
              f"{archive.stat().st_size / MiB:.0f} MiB (tar: {plain.stat().st_size / MiB:.0f} MiB); "
              f"median of {args.repeat}; files in the page cache\n")  # fmt: skip
        print("| case | nbmodels s | nbmodels MB/s | tar s | ratio nbmodels/tar (median of pairs) |")  # fmt: skip
        print("|---|---:|---:|---:|---:|")
        for name, ours, theirs, ratio in rows:
            print(f"| {name} | {ours:.2f} | {size / 1e6 / ours:.0f} | {theirs:.2f} | {ratio:.2f}x |")  # fmt: skip
        members = len(listing.stdout.split())
        print(f"\nGNU tar reads the pack: {members} members listed by tar -tf")
        print(f"identical sha256 of every file in home B: {'yes' if same else 'NO'}")
        return 0 if same else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
