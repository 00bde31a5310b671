"""``python -m nbmodels.demo.ollama [--port 11434] [--models DIR] [--library PATH]``."""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from pathlib import Path

from ...settings import Settings
from . import OllamaServer, find_library, seed_demo_models


def main(argv: list[str] | None = None) -> int:
    settings = Settings.from_env()
    parser = argparse.ArgumentParser(
        prog="python -m nbmodels.demo.ollama",
        description="Serve Ollama's REST API over an Ollama store (pulled models are answered "
        "by a toy stand-in, and say so).",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=11434)
    parser.add_argument(
        "--models", type=Path, default=settings.ollama_models, help="$OLLAMA_MODELS folder"
    )
    parser.add_argument(
        "--library",
        type=Path,
        default=None,
        help="library snapshot JSON (default: $NBMODELS_OLLAMA_LIBRARY or shared/data/)",
    )
    parser.add_argument("--demo", action="store_true", help="add the tiny demo models first")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO)
    if not args.verbose:  # gguf's writer logs every file it writes at INFO
        logging.getLogger("gguf").setLevel(logging.WARNING)
    library = args.library or find_library()
    if args.demo:
        seed_demo_models(args.models)
    server = OllamaServer(args.models, library=library, host=args.host, port=args.port)
    try:
        server._bind()
    except OSError as exc:
        print(f"cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    print(
        f"Ollama API on {server.url} (models: {args.models}, library: {library or 'none'}); "
        "Ctrl-C stops it.",
        flush=True,
    )
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
