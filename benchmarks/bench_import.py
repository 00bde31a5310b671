"""Import time of nbmodels against the libraries a user would otherwise import first.

Each import runs in a fresh interpreter (``python -X importtime`` is not needed: the
wall time of ``import X`` inside the child is measured with perf_counter), median of N.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys

CASES = {
    "import nbmodels": "import nbmodels",
    "import huggingface_hub": "import huggingface_hub",
    "import pandas": "import pandas",
    "import transformers": "import transformers",
}
HEAVY = ("torch", "transformers", "ipywidgets")


def _time_once(statement: str) -> tuple[float, list[str]]:
    code = (
        "import sys, time, json; t = time.perf_counter(); "
        f"{statement}; dt = time.perf_counter() - t; "
        f"print(json.dumps([dt, [m for m in {HEAVY!r} if m in sys.modules]]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    dt, heavy = json.loads(out.stdout.strip().splitlines()[-1])
    return dt * 1000, heavy


def run(repeat: int = 5) -> list[tuple[str, float, list[str]]]:
    """[(case, median ms, heavy modules it loaded)] — first run of each discarded (warm disk)."""
    results = []
    for case, statement in CASES.items():
        _time_once(statement)
        times, heavy = [], []
        for _ in range(repeat):
            ms, heavy = _time_once(statement)
            times.append(ms)
        results.append((case, statistics.median(times), heavy))
    return results
