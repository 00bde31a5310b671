"""``python -m nbmodels.demo.hub``: serve the tiny demo models and the real records locally.

    $ python -m nbmodels.demo.hub --port 8000
    Local hub at http://127.0.0.1:8000 (3 repos, 4167 records)
    export HF_ENDPOINT=http://127.0.0.1:8000

Builds the tiny models first (cached under ``$NBMODELS_HOME/demo-models`` unless ``--repos``
names another folder), then serves until Ctrl-C.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from nbmodels.errors import NBModelsError
from nbmodels.settings import Settings

from .records import find_shared_records
from .server import HubServer
from .tinymodels import build_tiny_models


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m nbmodels.demo.hub",
        description="Serve model repos (and real Hub records for search) as a local Hugging Face Hub.",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)"
    )
    parser.add_argument(
        "--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)"
    )
    parser.add_argument(
        "--repos",
        type=Path,
        help="folder of <org>/<name>/ repos (default: $NBMODELS_HOME/demo-models)",
    )
    parser.add_argument(
        "--records",
        type=Path,
        help="hub-models.parquet to serve from /api/models (default: found beside the project)",
    )
    parser.add_argument(
        "--no-tiny-models", action="store_true", help="do not build the tiny demo models"
    )
    parser.add_argument("--quiet", action="store_true", help="do not print each request")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    done = threading.Event()
    previous = None
    if threading.current_thread() is threading.main_thread():
        # before the URL is printed: whoever reads it may stop the server at once
        previous = signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        return _serve(args, done)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _serve(args: argparse.Namespace, done: threading.Event) -> int:
    repos = args.repos or Settings.from_env().home / "demo-models"
    try:
        if not args.no_tiny_models:
            print(f"Building the tiny models in {repos} (cached) ...", flush=True)
            build_tiny_models(repos)
        records = args.records or find_shared_records()
        hub = HubServer(
            repos, records=records, host=args.host, port=args.port, verbose=not args.quiet
        )
        hub.start()
    except (NBModelsError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    n_repos = len(hub.store.repo_ids())
    n_records = len(hub.all_records()) - n_repos
    print(f"Local hub at {hub.url} ({n_repos} repos, {n_records} records)")
    if records is None:
        print("(no hub-models.parquet found: pass --records or set NBMODELS_HUB_RECORDS)")
    print(f"export HF_ENDPOINT={hub.url}", flush=True)
    try:
        done.wait()
    except KeyboardInterrupt:
        pass
    finally:
        hub.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
