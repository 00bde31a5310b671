"""Several kernels on one nbmodels home, as real processes: nothing written is lost, a process
killed mid-write leaves a home that opens, and what one process writes the others see."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from nbmodels.discover.catalog import Catalog
from nbmodels.settings import Settings

pytestmark = pytest.mark.slow

_CATALOG_WORKER = textwrap.dedent(
    """
    import random, sys
    from nbmodels.discover.catalog import Catalog
    from nbmodels.settings import Settings
    from nbmodels.types import ModelMetadata, ModelSource

    home, worker, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    cat = Catalog(Settings(home=home), sources=[])
    rng = random.Random(worker)
    for i in range(n):
        op = rng.random()
        if op < 0.6:  # add a model of this worker's own
            cat.add([ModelMetadata(id=f"w{worker}/m{i}", source=ModelSource.CUSTOM, downloads=i)])
        elif op < 0.8:  # update a shared model: the last writer's row stands, whole
            cat.add([ModelMetadata(id="shared/one", source=ModelSource.CUSTOM, downloads=worker)])
        else:  # read, as a notebook does between writes
            cat.sql("SELECT count(*) AS n FROM models")
    print(len(cat))
    """
)


def _run_workers(home: Path, workers: int, n: int, script: str) -> list[str]:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(home), str(w), str(n)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(workers)
    ]
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
        outs.append(out)
    return outs


def _expected_ids(workers: int, n: int) -> set[str]:
    import random

    ids = set()
    for w in range(workers):
        rng = random.Random(w)
        for i in range(n):
            op = rng.random()
            if op < 0.6:
                ids.add(f"w{w}/m{i}")
            elif op < 0.8:
                ids.add("shared/one")
    return ids


@pytest.mark.parametrize("workers", [2, 4])
def test_kernels_adding_to_one_catalog_lose_nothing(tmp_path: Path, workers: int) -> None:
    n = 1000
    _run_workers(tmp_path / "home", workers, n, _CATALOG_WORKER)
    cat = Catalog(Settings(home=tmp_path / "home"), sources=[])
    got = set(cat.sql("SELECT id FROM models")["id"])
    assert got == _expected_ids(workers, n)  # every model every process added, once
    shared = cat.sql("SELECT downloads FROM models WHERE id = 'shared/one'")["downloads"]
    assert len(shared) == 1 and int(shared[0]) in range(workers)
    # compaction ran along the way (many deltas) and left the table whole
    cat.compact()
    again = Catalog(Settings(home=tmp_path / "home"), sources=[])
    assert set(again.sql("SELECT id FROM models")["id"]) == got


def test_a_catalog_sees_what_another_process_added(tmp_path: Path) -> None:
    home = tmp_path / "home"
    mine = Catalog(Settings(home=home), sources=[])
    assert len(mine) == 0
    _run_workers(home, 1, 30, _CATALOG_WORKER)
    assert set(mine.sql("SELECT id FROM models")["id"]) == _expected_ids(1, 30)


def test_a_process_killed_while_writing_leaves_a_catalog_that_opens(tmp_path: Path) -> None:
    home = tmp_path / "home"
    script = textwrap.dedent(
        """
        import sys
        from nbmodels.discover.catalog import Catalog
        from nbmodels.settings import Settings
        from nbmodels.types import ModelMetadata, ModelSource
        cat = Catalog(Settings(home=sys.argv[1]), sources=[])
        i = 0
        while True:
            cat.add([ModelMetadata(id=f"k/m{i}", source=ModelSource.CUSTOM, downloads=i)])
            i += 1
            if i % 50 == 0:
                print(i, flush=True)
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(home)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    while int(proc.stdout.readline() or 0) < 300:  # well into the loop, compactions included
        pass
    time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    cat = Catalog(Settings(home=home), sources=[])
    ids = cat.sql("SELECT id FROM models ORDER BY downloads")["id"].tolist()
    assert len(ids) >= 300
    # what is there is a prefix of what was written: no hole, no half row
    assert ids == [f"k/m{i}" for i in range(len(ids))]
