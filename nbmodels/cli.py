"""Command line: ``python -m nbmodels`` (or ``nbmodels``).

nbmodels demo [--headless] [--offline] [--notebook PATH]   the main job (see README)
nbmodels hub  [...]                                         a local Hub server (python -m nbmodels.demo.hub)
nbmodels search [QUERY] [--source S] [--task T] [--limit N] a quick search, printed as a table
nbmodels sql "SELECT ..."                                   SQL over the catalog gathered so far
nbmodels download MODEL [--include PAT] [--dry-run] ...     download with a progress bar
nbmodels verify MODEL [--repair]                            recheck files by their hashes
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

DEFAULT_NOTEBOOK = "notebooks/01-discover.ipynb"


def _repo_root() -> Path | None:
    """The checkout this package runs from (the folder holding ``notebooks/``), if any."""
    here = Path(__file__).resolve().parent.parent
    return here if (here / "notebooks").is_dir() else None


def _find_notebook(path: str) -> Path:
    candidates = [Path(path)]
    root = _repo_root()
    if root is not None and not Path(path).is_absolute():
        candidates.append(root / path)
    for candidate in candidates:
        if candidate.is_file():
            return candidate.resolve()
    raise SystemExit(
        f"nbmodels demo: notebook {path!r} not found; run from the repository root "
        "or pass --notebook PATH."
    )


def run_notebook(path: Path, *, timeout: int = 900) -> int:
    """Execute a notebook top to bottom in a fresh kernel; 0 on success (headless main job)."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    try:
        client.execute()
    except CellExecutionError as exc:
        print(f"FAILED: {path.name}\n{exc}", file=sys.stderr)
        return 1
    n = sum(1 for c in nb.cells if c.cell_type == "code")
    print(f"OK: {path.name}: {n} code cells ran without error")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import hub_reachable, settings_environ, start_demo_servers
    from .settings import Settings

    notebook = _find_notebook(args.notebook)
    settings = Settings.from_env()
    env = dict(os.environ)
    if args.offline or not hub_reachable():
        demo = start_demo_servers(settings, port=args.port)
        print(f"nbmodels demo: the real Hub is not used; notebooks search {demo.description}")
        env.update(settings_environ(demo.settings))
    else:
        demo = None
        print("nbmodels demo: the Hugging Face Hub is reachable; notebooks will use it")
    os.environ.update(env)
    try:
        if args.headless:
            return run_notebook(notebook)
        with tempfile.TemporaryDirectory(prefix="nbmodels-demo-lab-") as state:
            cmd, url = lab_command(notebook, Path(state), env, no_browser=args.no_browser)
            print("nbmodels demo: starting JupyterLab (Ctrl-C to stop)")
            print(f"nbmodels demo: open {url}", flush=True)
            try:
                return subprocess.call(cmd, env=env)
            except KeyboardInterrupt:
                return 0
    finally:
        if demo is not None:
            demo.close()


def lab_command(
    notebook: Path, state: Path, env: dict[str, str], *, no_browser: bool = False
) -> tuple[list[str], str]:
    """The JupyterLab command that opens ``notebook`` itself (not the Launcher), with no news
    or update toasts over it, and the URL to print. ``env`` gains the settings folder: a
    copy of the user's JupyterLab settings in ``state`` (theme kept) with the news off."""
    import secrets
    import shutil
    import socket

    root = notebook.parent.parent if notebook.parent.name == "notebooks" else notebook.parent
    relative = notebook.relative_to(root).as_posix()
    with socket.socket() as s:  # a free port, so the printed URL is the one that works
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    token = secrets.token_hex(16)
    settings = state / "lab-settings"
    user = Path(
        env.get("JUPYTERLAB_SETTINGS_DIR")
        or Path(env.get("JUPYTER_CONFIG_DIR") or Path.home() / ".jupyter") / "lab" / "user-settings"
    )
    if user.is_dir():
        shutil.copytree(user, settings, dirs_exist_ok=True)
    notification = settings / "@jupyterlab" / "apputils-extension"
    notification.mkdir(parents=True, exist_ok=True)
    (notification / "notification.jupyterlab-settings").write_text(
        '{"fetchNews": "false", "checkForUpdates": false}\n'
    )
    env["JUPYTERLAB_SETTINGS_DIR"] = str(settings)
    path = f"/lab/tree/{relative}"
    cmd = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        f"--ServerApp.root_dir={root}",
        f"--IdentityProvider.token={token}",
        f"--LabApp.default_url={path}",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    if no_browser:
        cmd.append("--no-browser")
    return cmd, f"http://127.0.0.1:{port}{path}?token={token}"


def cmd_hub(rest: list[str]) -> int:
    from .demo.hub.__main__ import main as hub_main

    return hub_main(rest) or 0


def cmd_search(args: argparse.Namespace) -> int:
    import pandas as pd

    from . import catalog

    df = catalog.search(args.query, source=args.source, task=args.task, limit=args.limit)
    cols = [
        c for c in ("id", "source", "tasks", "parameters", "size_bytes", "downloads") if c in df
    ]
    with pd.option_context("display.width", 160, "display.max_colwidth", 60):
        print(df[cols].to_string(index=False) if len(df) else "no models found")
    return 0


def cmd_sql(args: argparse.Namespace) -> int:
    import pandas as pd

    from . import catalog

    with pd.option_context("display.width", 160, "display.max_colwidth", 60):
        print(catalog.sql(args.query).to_string(index=False))
    return 0


def cmd_download(args: argparse.Namespace) -> int:
    from .downloader import Downloader, DownloadPlan
    from .units import parse_size

    rate = parse_size(args.max_rate) if args.max_rate else None
    downloader = Downloader(max_bytes_per_second=rate)
    answer = downloader.download(
        args.model,
        source=args.source,
        revision=args.revision,
        allow_patterns=args.include or None,
        ignore_patterns=args.exclude or None,
        local_dir=args.local_dir,
        dry_run=args.dry_run,
    )
    if isinstance(answer, DownloadPlan):
        print(repr(answer))
        for planned in answer.files:
            state = (
                "cached"
                if planned.cached
                else f"partial {planned.partial_bytes}"
                if planned.partial_bytes
                else "to fetch"
            )
            print(f"  {planned.file.path:<60} {planned.file.size:>14,}  {state}")
        return 0
    try:
        answer.wait(progress=True)
    except KeyboardInterrupt:
        print("nbmodels: cancelled; run the same command again to resume", file=sys.stderr)
        return 130
    print(answer.result())
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from .downloader import verify

    report = verify(args.model, revision=args.revision, repair=args.repair)
    print(repr(report))
    for path in report.bad:
        print(f"  bad      {path}" + ("  (removed)" if args.repair else ""))
    for path in report.missing:
        print(f"  missing  {path}")
    return 0 if report.is_ok else 1


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["hub"]:
        return cmd_hub(argv[1:])
    parser = argparse.ArgumentParser(
        prog="nbmodels", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="open the discovery notebook (embedded demo hub if offline)")
    demo.add_argument(
        "--headless", action="store_true", help="run the notebook top to bottom and exit"
    )
    demo.add_argument(
        "--offline", action="store_true", help="use the embedded demo hub even if online"
    )
    demo.add_argument("--notebook", default=DEFAULT_NOTEBOOK)
    demo.add_argument(
        "--port", type=int, default=0, help="port of the demo hub (default: any free)"
    )
    demo.add_argument("--no-browser", action="store_true", help="don't open a web browser")
    demo.set_defaults(func=cmd_demo)
    sub.add_parser("hub", help="serve a local Hub (see python -m nbmodels.demo.hub --help)")
    search = sub.add_parser("search", help="search models and print a table")
    search.add_argument("query", nargs="?")
    search.add_argument("--source")
    search.add_argument("--task")
    search.add_argument("--limit", type=int, default=20)
    search.set_defaults(func=cmd_search)
    sql = sub.add_parser("sql", help="run a SELECT over the catalog")
    sql.add_argument("query")
    sql.set_defaults(func=cmd_sql)
    dl = sub.add_parser("download", help="download a model (resumable, verified) with a bar")
    dl.add_argument("model", help="org/name (Hugging Face) or name:tag with --source ollama")
    dl.add_argument("--source", choices=["huggingface", "ollama"])
    dl.add_argument("--revision")
    dl.add_argument("--include", action="append", help="a file pattern to fetch (repeatable)")
    dl.add_argument("--exclude", action="append", help="a file pattern to skip (repeatable)")
    dl.add_argument("--local-dir", help="plain folder instead of the Hugging Face cache")
    dl.add_argument("--max-rate", help="bandwidth limit, e.g. 20MB (per second)")
    dl.add_argument("--dry-run", action="store_true", help="list files and sizes, fetch nothing")
    dl.set_defaults(func=cmd_download)
    ver = sub.add_parser("verify", help="recheck a downloaded model's files by their hashes")
    ver.add_argument("model")
    ver.add_argument("--revision")
    ver.add_argument(
        "--repair", action="store_true", help="remove bad files (fetched again next time)"
    )
    ver.set_defaults(func=cmd_verify)
    args = parser.parse_args(argv)
    import warnings

    from .errors import NBModelsError

    # warnings (a source that did not answer) read as messages here, not as code locations
    warnings.formatwarning = lambda message, category, *_a, **_k: (
        f"nbmodels: {category.__name__}: {message}\n"
    )

    try:
        return int(args.func(args) or 0)
    except NBModelsError as exc:
        print(f"nbmodels: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
