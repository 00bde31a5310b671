"""Re-run the tutorials on the demo hub and keep the outputs of their checked cells.

A cell marked ``# NBVAL_CHECK_OUTPUT`` has output that must not change (nbval compares it in
``make test``); this script stores that output, and clears every other cell's output so the
notebooks carry no paths, timings or sizes from this machine. Run it after changing what a
checked cell prints: ``python tools/refresh_notebook_outputs.py [notebooks/NN-*.ipynb ...]``.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient

MARK = "# NBVAL_CHECK_OUTPUT"


def refresh(path: Path) -> int:
    nb = nbformat.read(path, as_version=4)
    NotebookClient(
        nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    ).execute()
    kept = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if MARK in cell.source:
            # what nbval compares: printed text and results, not stderr (warnings, bars)
            cell.outputs = [
                o
                for o in cell.outputs
                if o.get("output_type") in ("stream", "execute_result")
                and o.get("name") != "stderr"
            ]
            kept += 1  # nbval compares only cells that ran: keep the count
        else:
            cell.outputs = []
            cell.execution_count = None
        cell.metadata.pop("execution", None)
    nb.metadata.pop("widgets", None)  # widget state of this run: machine noise, and large
    nb.metadata["language_info"] = {"name": "python"}
    nbformat.write(nb, path)
    return kept


def main(argv: list[str]) -> int:
    paths = [Path(p) for p in argv] or sorted(Path("notebooks").glob("*.ipynb"))
    with tempfile.TemporaryDirectory() as tmp:  # the test command's isolated homes
        for name in ("NBMODELS_HOME", "HF_HOME", "OLLAMA_MODELS"):
            os.environ[name] = str(Path(tmp) / name.lower())
        os.environ["NBMODELS_DEMO"] = "1"
        for path in paths:
            print(f"{path}: {refresh(path)} checked cells stored", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
