"""The command line's measuring and handing-on commands: ``bench``, ``compare``, ``export``,
``pack`` and ``unpack`` (``nbmodels.cli`` adds them with :func:`add_commands`; they live here
to keep each module readable in one sitting).

    nbmodels bench org/name --quantization nf4 --json
    nbmodels compare org/name org/name@quantization=8bit org/name@quantization=nf4
    nbmodels export org/name vllm ./serve
    nbmodels pack org/name ollama:llama3.2 -o models.nbpack
    nbmodels unpack models.nbpack
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

__all__ = ["add_commands", "parse_candidate"]


def _value(text: str) -> Any:
    """A command-line setting's value: JSON where it parses (numbers, true, null), else text."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_candidate(text: str) -> Any:
    """``MODEL`` or ``MODEL@key=value,key=value`` (settings on top of the model's stored
    configuration), as :func:`nbmodels.compare` takes a candidate."""
    from .errors import ConfigurationError

    model, sep, rest = text.partition("@")
    if not sep:
        return model
    settings: dict[str, Any] = {}
    for pair in filter(None, rest.split(",")):
        key, eq, value = pair.partition("=")
        if not eq or not key.strip():
            raise ConfigurationError(
                f"{text!r}: write a candidate as MODEL@key=value,key=value "
                "(e.g. org/name@quantization=nf4)."
            )
        settings[key.strip()] = _value(value.strip())
    return (model, settings)


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in args.set or []:
        key, eq, value = pair.partition("=")
        if not eq:
            from .errors import ConfigurationError

            raise ConfigurationError(f"--set {pair!r}: write it as key=value (e.g. --set dtype=float32).")  # fmt: skip
        out[key.strip()] = _value(value.strip())
    if getattr(args, "quantization", None):
        out["quantization"] = args.quantization
    return out


def _progress(args: argparse.Namespace, line: Callable[[Any], str]) -> Callable[[Any], None]:
    """A progress callback printing ``line(event)`` (nothing with --json: stdout is the JSON)."""

    def progress(event: Any) -> None:
        if not args.json:
            print(f"  {line(event)}", flush=True)

    return progress


def cmd_bench(args: argparse.Namespace) -> int:
    from .bench.run import benchmark

    progress = _progress(args, lambda e: f"{e.stage:<11} {e.done}/{e.total}  {e.message}")
    card = benchmark(
        args.model,
        repeats=args.repeats,
        prompt_tokens=args.prompt_tokens,
        generate_tokens=args.generate_tokens,
        perplexity_tokens=args.perplexity_tokens,
        save=not args.no_save,
        progress=progress,
        **_overrides(args),
    )
    if args.json:
        print(card.to_json())
    else:
        print(repr(card))
        for figure, why in (card.not_measured or {}).items():
            print(f"  not measured: {figure}: {why}")
        if card.details.get("perplexity_note"):  # fewer tokens than asked: the text ran out
            print(f"  perplexity: {card.details['perplexity_note']}")
    return 0 if card.complete else 1


def cmd_compare(args: argparse.Namespace) -> int:
    from .bench.compare import compare

    progress = _progress(args, str)
    candidates = [parse_candidate(c) for c in args.candidates]
    result = compare(
        candidates,
        args.prompt or None,
        max_new_tokens=args.max_new_tokens,
        repeats=args.repeats,
        perplexity_tokens=args.perplexity_tokens,
        save=not args.no_save,
        progress=progress,
    )
    if args.json:
        print(result.to_json())
        return 0
    import pandas as pd

    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.max_colwidth", 60):  # fmt: skip
        print(result.summary().to_string())
        print()
        print(result.outputs.to_string())
    for label, why in {**result.skipped, **result.failed}.items():
        print(f"  {label}: {why}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from .exporter import export

    e = export(
        args.model,
        args.target,
        args.path,
        name=args.name,
        gguf_type=args.gguf_type,
        gpu_memory=args.gpu_memory,
        date_string=args.date_string,
        create=args.create,
    )
    if args.json:
        print(json.dumps({"target": e.target, "model": e.model, "folder": str(e.folder),
                          "files": [str(f) for f in e.files], "command": list(e.command),
                          "command_line": e.command_line, "unsupported": dict(e.unsupported),
                          "notes": list(e.notes), "created": e.created,
                          "create_error": e.create_error}, indent=2))  # fmt: skip
        return 0
    print(repr(e))
    for f in e.files:
        print(f"  wrote {f}")
    print(f"  run: {e.command_line}")
    for setting, why in e.unsupported.items():
        print(f"  not expressed: {setting}: {why}")
    for note in e.notes:
        print(f"  note: {note}")
    if e.create_error:
        print(f"  not created: {e.create_error}")
    return 0


def _pack_progress(args: argparse.Namespace) -> Any:
    """One line per file (a pack reports every chunk it hashes)."""
    said: set[tuple[str, str]] = set()

    def progress(event: Any) -> None:
        if not args.json and (event.stage, event.file) not in said:
            said.add((event.stage, event.file))
            print(f"  {event.stage} {event.file}", flush=True)

    return progress


def cmd_pack(args: argparse.Namespace) -> int:
    from .packing import pack

    report = pack(args.models, args.output, progress=_pack_progress(args))
    if args.json:
        print(json.dumps({"path": str(report.path), "models": list(report.models),
                          "files": report.files, "blobs": report.blobs, "bytes": report.bytes,
                          "seconds": report.seconds}, indent=2))  # fmt: skip
        return 0
    print(repr(report))
    return 0


def cmd_unpack(args: argparse.Namespace) -> int:
    from .packing import unpack

    report = unpack(args.path, lockfile=args.lockfile, progress=_pack_progress(args))
    if args.json:
        print(json.dumps({"path": str(report.path), "models": dict(report.models),
                          "files_checked": report.files_checked, "bytes_checked": report.bytes_checked,
                          "bytes_written": report.bytes_written, "blobs_present": report.blobs_present,
                          "lockfile": str(report.lockfile) if report.lockfile else None,
                          "registered": list(report.registered), "notes": list(report.notes),
                          "seconds": report.seconds}, indent=2))  # fmt: skip
        return 0
    print(repr(report))
    for note in report.notes:
        print(f"  note: {note}")
    return 0


def add_commands(sub: Any) -> None:
    """Add ``bench``, ``compare``, ``export``, ``pack`` and ``unpack`` to the CLI."""
    bench = sub.add_parser("bench", help="a benchmark card: speed, memory, perplexity (stored in the registry)")  # fmt: skip
    bench.add_argument("model", help="a Hub id, folder, .gguf or ollama:<name>")
    bench.add_argument("--quantization", help="none, 8bit, 4bit or nf4 (default: the stored configuration's)")  # fmt: skip
    bench.add_argument("--set", action="append", metavar="KEY=VALUE", help="any configuration setting (repeatable)")  # fmt: skip
    bench.add_argument("--repeats", type=int, default=3)
    bench.add_argument("--prompt-tokens", type=int, default=512)
    bench.add_argument("--generate-tokens", type=int, default=128)
    bench.add_argument("--perplexity-tokens", type=int, default=32768, help="0: skip perplexity")
    bench.add_argument("--no-save", action="store_true", help="do not store the card in the registry")  # fmt: skip
    bench.add_argument("--json", action="store_true")
    bench.set_defaults(func=cmd_bench)
    cmp = sub.add_parser("compare", help="the same prompts through several models/configurations, side by side")  # fmt: skip
    cmp.add_argument("candidates", nargs="+", metavar="MODEL[@key=value,...]")
    cmp.add_argument("--prompt", action="append", help="a prompt (repeatable; default: a few short ones)")  # fmt: skip
    cmp.add_argument("--max-new-tokens", type=int, default=64)
    cmp.add_argument("--repeats", type=int, default=2)
    cmp.add_argument("--perplexity-tokens", type=int, default=4096, help="0: skip perplexity")
    cmp.add_argument("--no-save", action="store_true", help="do not store the cards in the registry")  # fmt: skip
    cmp.add_argument("--json", action="store_true")
    cmp.set_defaults(func=cmd_compare)
    ex = sub.add_parser("export", help="hand a registered model to vLLM, llama.cpp or Ollama (files + command)")  # fmt: skip
    ex.add_argument("model", help="a registered model (id, key or alias)")
    ex.add_argument("target", help="vllm, llama.cpp or ollama")
    ex.add_argument("path", nargs="?", help="the folder to write (default: $NBMODELS_HOME/exports/<target>/<name>)")  # fmt: skip
    ex.add_argument("--name", help="the served / created model's name")
    ex.add_argument("--gguf-type", help="llama.cpp: F32, F16, BF16 or Q8_0")
    ex.add_argument("--gpu-memory", help="vLLM: the GPU's memory (e.g. 80GB) for --gpu-memory-utilization")  # fmt: skip
    ex.add_argument("--date-string", help="the date a Llama 3.1 template writes (default: today)")
    ex.add_argument("--create", action="store_true", help="ollama: run `ollama create` when an Ollama answers")  # fmt: skip
    ex.add_argument("--json", action="store_true")
    ex.set_defaults(func=cmd_export)
    pk = sub.add_parser("pack", help="one archive of models (files by hash, lockfile, configurations) for a machine without internet")  # fmt: skip
    pk.add_argument("models", nargs="+", help="registered models, org/name[@rev] in the cache, ollama:<name>")  # fmt: skip
    pk.add_argument("-o", "--output", required=True, help="the archive to write")
    pk.add_argument("--json", action="store_true")
    pk.set_defaults(func=cmd_pack)
    up = sub.add_parser("unpack", help="install a pack into this home's caches, every file checked (no network)")  # fmt: skip
    up.add_argument("path", help="the archive nbmodels pack wrote")
    up.add_argument("--lockfile", help="where to write the models' lockfile")
    up.add_argument("--json", action="store_true")
    up.set_defaults(func=cmd_unpack)
