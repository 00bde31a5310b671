"""Command line: ``nbmodels`` (or ``python -m nbmodels``), over the same API as the notebooks.

nbmodels demo [--headless] [--offline] [--notebook PATH]   the main job (see README)
nbmodels hub  [...]                                         a local Hub server (python -m nbmodels.demo.hub)
nbmodels search [QUERY] [--source S] [--task T] [--limit N] search every source, printed as a table
nbmodels info MODEL                                         one model's metadata
nbmodels sql "SELECT ..."                                   SQL over the catalog gathered so far
nbmodels download MODEL [--include PAT] [--dry-run] ...     download with a progress bar
nbmodels list                                               what is on disk (HF cache, Ollama, folders)
nbmodels verify MODEL [--repair]                            recheck files by their hashes
nbmodels configure MODEL [--template T] [--optimize G] [--set K=V] [--save]
nbmodels fit MODEL [--quantization Q] [--context N]         will it fit? (memory estimate)
nbmodels registry [list|stats|sql QUERY|backup PATH]        the registry
nbmodels chat MODEL [-m MESSAGE]                            chat (streams; no -m: a prompt loop)
nbmodels lock MODEL... [-o nbmodels.lock.yaml]              pin models: commit, files, sha256
nbmodels sync [LOCKFILE]                                    fetch exactly what a lockfile pins
nbmodels versions MODEL                                     a registered model's versions, alias moves
nbmodels rollback MODEL --to N|ALIAS                        back to a version: files, configuration

Every command but demo, hub and chat takes --json (one JSON document on stdout).
Exit codes: 0 done; 1 a check failed (verify found bad files); 2 an error (the message
says what to do); 3 fit: the model won't fit; 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

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

    from .discover import catalog

    df = catalog.search(args.query, source=args.source, task=args.task, limit=args.limit)
    if args.json:
        return _print_json(_records(df))
    cols = [
        c for c in ("id", "source", "tasks", "parameters", "size_bytes", "downloads") if c in df
    ]
    with pd.option_context("display.width", 160, "display.max_colwidth", 60):
        print(df[cols].to_string(index=False) if len(df) else "no models found")
    return 0


def cmd_sql(args: argparse.Namespace) -> int:
    import pandas as pd

    from .discover import catalog

    df = catalog.sql(args.query)
    if args.json:
        return _print_json(_records(df))
    with pd.option_context("display.width", 160, "display.max_colwidth", 60):
        print(df.to_string(index=False))
    return 0


def cmd_download(args: argparse.Namespace) -> int:
    from .downloader.core import Downloader, DownloadPlan
    from .units import parse_size

    rate = parse_size(args.max_rate) if args.max_rate else None
    downloader = Downloader(max_bytes_per_second=rate, mirrors=args.mirror or None)
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
        if args.json:
            return _print_json({"model": answer.model_id, "commit": answer.commit, "target": str(answer.target),
                                "files": [{"path": p.file.path, "size": p.file.size, "cached": p.cached} for p in answer.files]})  # fmt: skip
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
        answer.wait(progress=not args.json)
    except KeyboardInterrupt:
        print("nbmodels: cancelled; run the same command again to resume", file=sys.stderr)
        return 130
    if args.json:
        return _print_json({"model": args.model, "path": str(answer.result())})
    print(answer.result())
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from .downloader.core import verify

    report = verify(args.model, revision=args.revision, repair=args.repair)
    if args.json:
        _print_json({"model": report.model_id, "commit": report.commit, "ok": list(report.ok),
                     "bad": list(report.bad), "missing": list(report.missing)})  # fmt: skip
        return 0 if report.is_ok else 1
    print(repr(report))
    for path in report.bad:
        print(f"  bad      {path}" + ("  (removed)" if args.repair else ""))
    for path in report.missing:
        print(f"  missing  {path}")
    return 0 if report.is_ok else 1


def _default(value: object) -> object:
    if hasattr(value, "isoformat"):
        return value.isoformat()  # type: ignore[attr-defined]
    if hasattr(value, "tolist"):
        return value.tolist()  # type: ignore[attr-defined]
    if hasattr(value, "value"):
        return value.value  # enums
    return str(value)


def _print_json(data: object) -> int:
    print(json.dumps(data, default=_default, indent=2))
    return 0


def _records(df: Any) -> list[dict]:
    """A DataFrame as JSON records: pandas writes missing values as null, dates as ISO."""
    return list(json.loads(df.to_json(orient="records", date_format="iso", default_handler=str)))


def cmd_info(args: argparse.Namespace) -> int:
    import dataclasses

    from .discover.catalog import model_info

    meta = model_info(args.model, revision=args.revision)
    data = {f.name: getattr(meta, f.name) for f in dataclasses.fields(meta)}
    if args.json:
        return _print_json(data)
    for key, value in data.items():
        if value not in (None, "", (), [], {}):
            print(f"{key:<18} {value}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    import pandas as pd

    from .downloader.core import downloaded_models

    df = downloaded_models()
    if args.json:
        return _print_json(_records(df))
    cols = [c for c in ("id", "source", "size_bytes", "local_path") if c in df]
    with pd.option_context("display.width", 160, "display.max_colwidth", 70):
        print(df[cols].to_string(index=False) if len(df) else "nothing downloaded yet")
    return 0


def _parse_sets(pairs: list[str] | None) -> dict[str, Any]:
    import yaml

    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            from .errors import ConfigurationError

            raise ConfigurationError(
                f"--set takes KEY=VALUE, e.g. --set temperature=0.2; got {pair!r}."
            )
        out[key.strip()] = yaml.safe_load(value)  # 0.2 -> float, true -> bool, nf4 -> str
    return out


def cmd_configure(args: argparse.Namespace) -> int:
    from .config.configuration import configuration_dict, configure, save_configuration, validate

    cfg = configure(
        args.model, template=args.template, optimize=args.optimize, **_parse_sets(args.set)
    )
    problems = validate(cfg)
    saved = str(save_configuration(cfg)) if args.save else None
    if args.json:
        return _print_json({"configuration": configuration_dict(cfg), "saved": saved,
                            "problems": [str(p) for p in (getattr(problems, "errors", None) or [])]})  # fmt: skip
    for key, value in configuration_dict(cfg).items():
        if key != "custom_settings" and value not in (None, "", [], {}):
            print(f"{key:<24} {value}")
    for reason in cfg.custom_settings.get("reasons", []):
        print(f"  - {reason}")
    if saved:
        print(f"saved: {saved}")
    return 0


def cmd_fit(args: argparse.Namespace) -> int:
    from .config.memory import estimate_memory

    overrides = {
        k: v for k, v in {"quantization": args.quantization, "dtype": args.dtype}.items() if v
    }
    est = estimate_memory(args.model, context=args.context, batch=args.batch, **overrides)
    fits = est.verdict != "won't fit"
    if args.json:
        _print_json({"model": est.model_id, "verdict": est.verdict, "peak_bytes": est.peak_bytes,
                     "load_peak_bytes": est.load_peak_bytes, "steady_bytes": est.steady_bytes,
                     "generate_peak_bytes": est.generate_peak_bytes, "available_bytes": est.available_bytes,
                     "advice": list(est.advice), "notes": list(est.notes)})  # fmt: skip
    else:
        print(est)
        for line in (*est.advice, *est.notes):
            print(f"  - {line}")
    return 0 if fits else 3


def cmd_registry(args: argparse.Namespace) -> int:
    import pandas as pd

    from .storage.registry import default_registry

    reg = default_registry()
    if args.action == "stats":
        stats = reg.registry_stats()
        if args.json:
            return _print_json(stats)
        for key, value in stats.items():
            print(f"{key:<24} {value}")
        return 0
    if args.action == "sql":
        if not args.arg:
            from .errors import ConfigurationError

            raise ConfigurationError(
                'registry sql needs a query: nbmodels registry sql "SELECT id FROM registry"'
            )
        df = reg.sql(args.arg)
    elif args.action == "backup":
        from datetime import datetime

        target = reg.backup(args.arg or f"nbmodels-registry-{datetime.now():%Y%m%d-%H%M%S}.sqlite")
        return (
            _print_json({"backup": str(target)}) if args.json else (print(f"backup: {target}") or 0)
        )
    else:
        df = reg.frame()
    if args.json:
        return _print_json(_records(df))
    with pd.option_context("display.width", 160, "display.max_colwidth", 50):
        print(df.to_string(index=False) if len(df) else "the registry is empty")
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    from .engine.handle import load

    overrides = {"max_tokens": args.max_tokens} if args.max_tokens else {}
    if args.temperature is not None:
        overrides["temperature"] = args.temperature
    handle = load(args.model)
    messages = [args.message] if args.message else None

    def say(message: str) -> None:
        try:
            for chunk in handle.chat(message, stream=True, **overrides):
                print(chunk, end="", flush=True)
        except KeyboardInterrupt:
            handle.stop()
        r = handle.last_response
        print()
        if r is not None:
            print(
                f"[{r.completion_tokens} tokens, {r.tokens_per_second or 0:.1f} tok/s]",
                file=sys.stderr,
            )

    try:
        if messages:
            for message in messages:
                say(message)
            return 0
        print(f"chatting with {args.model}; an empty line or Ctrl-D ends", file=sys.stderr)
        while True:
            try:
                line = input("you> ")
            except EOFError:
                return 0
            if not line.strip():
                return 0
            say(line)
    except KeyboardInterrupt:
        return 130
    finally:
        handle.unload()


def cmd_lock(args: argparse.Namespace) -> int:
    from .downloader.lockfile import lock

    locked = lock(args.models, args.output, revision=args.revision, progress=not args.json)
    if args.json:
        return _print_json({"lockfile": str(locked.path), **locked.to_dict()})
    print(f"{locked!r}")
    for m in locked.models:
        print(f"  {m.id:<50} {m.commit[:12]}  {len(m.files)} files, {m.size:,} bytes")
    return 0


def cmd_sync(args: argparse.Namespace) -> int:
    from .downloader.lockfile import sync

    def said(model: str, state: str) -> None:
        if not args.json:
            print(f"  {model:<50} {state}")

    report = sync(args.lockfile, progress=not args.json, on_model=said)
    if args.json:
        return _print_json({"lockfile": str(report.lockfile), "models": report.models,
                            "files_checked": report.files_checked, "bytes_fetched": report.bytes_fetched,
                            "version_notes": report.version_notes})  # fmt: skip
    print(f"{report!r}")
    return 0


def cmd_versions(args: argparse.Namespace) -> int:
    import dataclasses

    from .storage.registry import default_registry
    from .storage.versions import alias_history, current_version, versions

    reg = default_registry()
    key = reg.get(args.model).metadata.key
    found, moves = versions(reg, key), alias_history(reg, key)
    if args.json:
        return _print_json({"model": key, "current": current_version(reg, key),
                            "versions": [v.to_dict() for v in found],
                            "alias_history": [dataclasses.asdict(m) for m in moves]})  # fmt: skip
    if not found:
        print(f"{key}: no versions recorded yet (nbmodels.storage.versions.record_version)")
        return 0
    print(f"{key}: {len(found)} version(s)")
    print(f"  {'#':>3}  {'kind':<13} {'pin':<12} {'files':>5} {'bytes':>14}  {'configured':<10} {'created (UTC)':<25} {'by':<12} aliases")  # fmt: skip
    for v in found:
        pin = (v.commit or v.digest or "")[:12]
        mark = "*" if v.is_current else " "
        aliases = ", ".join(f"@{a}" for a in v.aliases)
        note = f"  # {v.note}" if v.note else ""
        line = f"{mark} {v.number:>3}  {v.kind:<13} {pin:<12} {len(v.files):>5} {v.size:>14,}  {'yes' if v.configuration else 'no':<10} {v.created_at:<25} {v.created_by:<12} {aliases}{note}"  # fmt: skip
        print(line)
    if moves:
        print("alias moves:")
        for m in moves:
            was = "-" if m.from_number is None else str(m.from_number)
            print(f"  {m.at:<25} {m.who:<12} @{m.alias}: {was} -> {m.to_number}")
    return 0


def cmd_rollback(args: argparse.Namespace) -> int:
    from .storage.registry import default_registry
    from .storage.rollback import rollback

    report = rollback(default_registry(), args.model, to=args.to, progress=not args.json)
    if args.json:
        return _print_json(report.to_dict())
    print(repr(report))
    if report.local_path:
        print(f"  files in {report.local_path}")
    return 0


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
    search.add_argument("--json", action="store_true")
    search.set_defaults(func=cmd_search)
    info = sub.add_parser("info", help="one model's metadata (Hub id, ollama name, folder)")
    info.add_argument("model")
    info.add_argument("--revision")
    info.add_argument("--json", action="store_true")
    info.set_defaults(func=cmd_info)
    sql = sub.add_parser("sql", help="run a SELECT over the catalog")
    sql.add_argument("query")
    sql.add_argument("--json", action="store_true")
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
    dl.add_argument("--mirror", action="append", help="a Hub mirror URL or team cache folder to take bytes from first (repeatable; NBMODELS_MIRRORS)")  # fmt: skip
    dl.add_argument("--json", action="store_true")
    dl.set_defaults(func=cmd_download)
    ls = sub.add_parser("list", help="what is on disk: the HF cache, Ollama's store, local folders")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=cmd_list)
    ver = sub.add_parser("verify", help="recheck a downloaded model's files by their hashes")
    ver.add_argument("model")
    ver.add_argument("--revision")
    ver.add_argument(
        "--repair", action="store_true", help="remove bad files (fetched again next time)"
    )
    ver.add_argument("--json", action="store_true")
    ver.set_defaults(func=cmd_verify)
    conf = sub.add_parser("configure", help="a configuration from the model's own metadata")
    conf.add_argument("model")
    conf.add_argument("--template")
    conf.add_argument("--optimize", choices=["speed", "memory", "quality"])
    conf.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="a field, e.g. temperature=0.2 (repeatable)",
    )
    conf.add_argument(
        "--save", action="store_true", help="store it for the model ($NBMODELS_HOME/configs)"
    )
    conf.add_argument("--json", action="store_true")
    conf.set_defaults(func=cmd_configure)
    fit = sub.add_parser("fit", help="will it fit? the memory estimate (exit 3: it won't)")
    fit.add_argument("model")
    fit.add_argument("--quantization", choices=["none", "8bit", "nf4", "fp4"])
    fit.add_argument("--dtype", choices=["auto", "float32", "float16", "bfloat16"])
    fit.add_argument("--context", type=int)
    fit.add_argument("--batch", type=int, default=1)
    fit.add_argument("--json", action="store_true")
    fit.set_defaults(func=cmd_fit)
    reg = sub.add_parser("registry", help="the registry: list, stats, sql QUERY, backup [PATH]")
    reg.add_argument(
        "action", nargs="?", default="list", choices=["list", "stats", "sql", "backup"]
    )
    reg.add_argument("arg", nargs="?", help="the query (sql) or the file (backup)")
    reg.add_argument("--json", action="store_true")
    reg.set_defaults(func=cmd_registry)
    chat = sub.add_parser("chat", help="chat with a model in the terminal (streams)")
    chat.add_argument("model", help="a Hub id, a folder, a .gguf file or ollama:<name>")
    chat.add_argument("-m", "--message", help="one message, answered, then exit")
    chat.add_argument("--max-tokens", type=int)
    chat.add_argument("--temperature", type=float)
    chat.set_defaults(func=cmd_chat)
    lk = sub.add_parser(
        "lock", help="pin models in a lockfile: commit, every file's size and sha256"
    )
    lk.add_argument("models", nargs="+", help="Hub ids and ollama:<name>")
    lk.add_argument("-o", "--output", default="nbmodels.lock.yaml")
    lk.add_argument("--revision")
    lk.add_argument("--json", action="store_true")
    lk.set_defaults(func=cmd_lock)
    sy = sub.add_parser("sync", help="fetch exactly what a lockfile pins, checked by sha256")
    sy.add_argument("lockfile", nargs="?", default="nbmodels.lock.yaml")
    sy.add_argument("--json", action="store_true")
    sy.set_defaults(func=cmd_sync)
    vs = sub.add_parser("versions", help="a registered model's versions and alias moves")
    vs.add_argument("model", help="a registry reference: org/name, a key or @alias")
    vs.add_argument("--json", action="store_true")
    vs.set_defaults(func=cmd_versions)
    rb = sub.add_parser("rollback", help="bring a model back to a version: files, configuration")
    rb.add_argument("model", help="a registry reference: org/name, a key or @alias")
    rb.add_argument("--to", required=True, metavar="N|ALIAS", help="a version number or alias")
    rb.add_argument("--json", action="store_true")
    rb.set_defaults(func=cmd_rollback)
    from .cli_share import add_commands

    add_commands(sub)  # bench, compare, export, pack, unpack
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
