"""Prove the Binder setup here: a fresh virtual environment built only from ``binder/``
runs every tutorial, each notebook's peak memory measured.

    python binder/prove_locally.py [--keep]

What it does, as repo2docker would: copies the repository's tracked files to a folder with
no ``shared/`` above it (the demo must not lean on the real records), creates a venv,
``pip install -r binder/requirements.txt``, runs ``binder/postBuild``, then executes each
notebook in ``notebooks/`` top to bottom in a fresh kernel with the homes (HF, nbmodels,
Ollama) in a temp dir, sampling the resident memory of the runner and its kernel every
50 ms. Binder gives about 2 GB; the report says each notebook's peak against that.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIMIT = 2 * 2**30

RUNNER = r"""
import json, sys, threading, time
from pathlib import Path
import nbformat, psutil
from nbclient import NotebookClient

path = Path(sys.argv[1])
me = psutil.Process()
peak = [0]
stop = threading.Event()
def sample():
    while not stop.wait(0.05):
        try:
            rss = me.memory_info().rss + sum(c.memory_info().rss for c in me.children(recursive=True))
        except psutil.Error:
            continue
        peak[0] = max(peak[0], rss)
threading.Thread(target=sample, daemon=True).start()
nb = nbformat.read(path, as_version=4)
started = time.perf_counter()
error = None
try:
    NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
except Exception as exc:  # the cell that failed, said in the report
    error = f"{type(exc).__name__}: {str(exc)[-400:]}"
stop.set()
print(json.dumps({"notebook": path.name, "seconds": round(time.perf_counter() - started, 1),
                  "peak_mib": round(peak[0] / 2**20), "error": error}))
"""


def run(cmd: list[str], **kw: object) -> None:
    print("$", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, **kw)  # type: ignore[call-overload]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="nbmodels-binder-proof-"))
    repo = work / "repo"
    files = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    for name in filter(None, files):
        src = ROOT / name.decode()
        if src.is_file():
            (repo / name.decode()).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, repo / name.decode())
    venv = work / "venv"
    started = time.perf_counter()
    run([sys.executable, "-m", "venv", str(venv)])
    py = str(venv / "bin" / "python")
    env = {**os.environ, "PATH": f"{venv / 'bin'}:{os.environ['PATH']}", "VIRTUAL_ENV": str(venv)}
    env.pop("PYTHONPATH", None)
    # pip here cannot reach download.pytorch.org: fail fast on it and take the local CPU build
    run(
        [
            py,
            "-m",
            "pip",
            "install",
            "-q",
            "--retries",
            "0",
            "--timeout",
            "3",
            "-r",
            "binder/requirements.txt",
        ],
        cwd=repo,
        env=env,
    )
    run(["bash", "binder/postBuild"], cwd=repo, env=env)
    setup_s = time.perf_counter() - started
    homes = work / "homes"
    results = []
    for nb in sorted((repo / "notebooks").glob("*.ipynb")):
        nb_env = {**env, "NBMODELS_DEMO": "1"}
        for name in ("NBMODELS_HOME", "HF_HOME", "OLLAMA_MODELS"):
            nb_env[name] = str(homes / nb.stem / name.lower())
        out = subprocess.run(
            [py, "-c", RUNNER, str(nb)],
            cwd=repo / "notebooks",
            env=nb_env,
            capture_output=True,
            text=True,
        )
        line = (
            out.stdout.strip().splitlines()[-1]
            if out.stdout.strip()
            else json.dumps({"notebook": nb.name, "error": out.stderr[-400:]})
        )
        results.append(json.loads(line))
        print(results[-1], flush=True)
    print(f"\nfresh venv from binder/ only, in {setup_s:.0f} s; no shared/ above {repo}\n")
    print("| notebook | ran | seconds | peak memory (runner + kernel) | of Binder's 2 GB |")
    print("|---|---|---:|---:|---:|")
    for r in results:
        ok = "yes" if not r.get("error") else f"no: {r['error'][:80]}"
        peak = r.get("peak_mib", 0)
        print(
            f"| {r['notebook']} | {ok} | {r.get('seconds', 0)} | {peak} MiB | {100 * peak * 2**20 / LIMIT:.0f} % |"
        )
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if all(not r.get("error") for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
