"""Shared state, measured: the registry against a plain JSON file and raw SQLite (and a DuckDB
file, the other engine considered), with 1 and 4 writing processes; and adding one model to a
1,000,000-row catalog (deltas) against rewriting the Parquet file (what it did before).

python benchmarks/bench_registry.py [--entries 100000] [--writers 4] [--ops 250]

Latencies are p50 / p95 over ``--samples`` operations each, in one process; the contention
run starts ``--writers`` processes that each register ``--ops`` new models at once, and
counts what survived.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nbmodels.storage.registry import Registry
from nbmodels.types import ModelMetadata, ModelSource, SupportedTask

WORDS = ["llama", "qwen", "mistral", "phi", "gemma", "bert", "coder", "chat", "vision", "tiny"]
TASKS = [SupportedTask.CHAT, SupportedTask.TEXT_GENERATION, SupportedTask.EMBEDDING]


def fake(i: int) -> ModelMetadata:
    rng = random.Random(i)
    word = rng.choice(WORDS)
    return ModelMetadata(
        id=f"org{i % 997}/{word}-{i}",
        source=ModelSource.HUGGING_FACE,
        tasks=(rng.choice(TASKS),),
        license=rng.choice(["mit", "apache-2.0", "llama3"]),
        size_bytes=rng.randrange(10**6, 10**10),
        downloads=rng.randrange(10**6),
    )


def pct(xs: list[float]) -> str:
    xs = sorted(xs)
    return f"{1000 * statistics.median(xs):.2f} / {1000 * xs[int(0.95 * (len(xs) - 1))]:.2f}"


def timed(fn, samples: int) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for i in range(samples):
        t = time.perf_counter()
        fn(i)
        out.append(time.perf_counter() - t)
    return out


# -- the three stores -----------------------------------------------------------------------------
class JsonStore:
    """What a notebook author writes first: one JSON file, read and rewritten whole."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict:
        try:
            return json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}

    def save(self, data: dict) -> None:
        tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data))
        os.replace(tmp, self.path)

    def register(self, m: ModelMetadata) -> None:
        data = self.load()
        data[m.key] = {"id": m.id, "license": m.license, "tasks": [t.value for t in m.tasks]}
        self.save(data)

    def get(self, key: str) -> dict:
        return self.load()[key]

    def search(self, word: str) -> list:
        return [v for k, v in self.load().items() if word in k][:100]


class RawSQLite:
    """sqlite3 as the standard library gives it: default journal, default 5 s timeout."""

    def __init__(self, path: Path) -> None:
        self.con = sqlite3.connect(path, isolation_level=None)
        self.con.execute("CREATE TABLE IF NOT EXISTS m (key TEXT PRIMARY KEY, id TEXT, license TEXT, tasks TEXT)")  # fmt: skip

    def register(self, m: ModelMetadata) -> None:
        self.con.execute("INSERT OR REPLACE INTO m VALUES (?, ?, ?, ?)",
                         [m.key, m.id, m.license, json.dumps([t.value for t in m.tasks])])  # fmt: skip

    def register_many(self, ms: list[ModelMetadata]) -> None:
        self.con.execute("BEGIN")
        self.con.executemany("INSERT OR REPLACE INTO m VALUES (?, ?, ?, ?)",
                             [(m.key, m.id, m.license, json.dumps([t.value for t in m.tasks])) for m in ms])  # fmt: skip
        self.con.execute("COMMIT")

    def get(self, key: str) -> tuple:
        return self.con.execute("SELECT * FROM m WHERE key = ?", [key]).fetchone()

    def search(self, word: str) -> list:
        return self.con.execute("SELECT * FROM m WHERE key LIKE ? LIMIT 100", [f"%{word}%"]).fetchall()  # fmt: skip


# -- contention -----------------------------------------------------------------------------------
_WRITER = textwrap.dedent(
    """
    import json, os, sqlite3, sys, time
    sys.path.insert(0, sys.argv[5])
    kind, path, worker, ops = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    from bench_registry import JsonStore, RawSQLite, fake
    from nbmodels.storage.registry import Registry
    errors = 0
    lat = []
    if kind == "nbmodels":
        store = Registry(path)
    elif kind == "json":
        store = JsonStore(__import__("pathlib").Path(path))
    elif kind == "sqlite":
        store = RawSQLite(path)
    for i in range(ops):
        m = fake(10_000_000 + worker * 100_000 + i)
        t = time.perf_counter()
        try:
            if kind == "duckdb":  # DuckDB's documented pattern: a short connection, retried
                import duckdb
                for attempt in range(200):
                    try:
                        con = duckdb.connect(path)
                        con.execute("INSERT OR REPLACE INTO m VALUES (?, ?, ?, ?)", [m.key, m.id, m.license, "[]"])
                        con.close()
                        break
                    except duckdb.IOException:
                        time.sleep(0.005 * (attempt + 1))
                else:
                    errors += 1
            else:
                store.register(m)
        except Exception:
            errors += 1
        lat.append(time.perf_counter() - t)
    print(json.dumps({"errors": errors, "lat": lat}))
    """
)


def contention(kind: str, path: Path, writers: int, ops: int) -> dict:
    bench_dir = str(Path(__file__).resolve().parent)
    t = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, kind, str(path), str(w), str(ops), bench_dir],
                              stdout=subprocess.PIPE, text=True) for w in range(writers)]  # fmt: skip
    results = [json.loads(p.communicate()[0]) for p in procs]
    wall = time.perf_counter() - t
    lat = [x for r in results for x in r["lat"]]
    return {"errors": sum(r["errors"] for r in results), "lat": lat, "wall": wall}


def count(kind: str, path: Path) -> int:
    if kind == "nbmodels":
        return len(Registry(path))
    if kind == "json":
        return len(JsonStore(path).load())
    if kind == "sqlite":
        return sqlite3.connect(path).execute("SELECT count(*) FROM m").fetchone()[0]
    import duckdb

    con = duckdb.connect(path)
    try:
        return con.execute("SELECT count(*) FROM m").fetchone()[0]
    finally:
        con.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)  # fmt: skip
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--ops", type=int, default=250)
    parser.add_argument("--catalog-rows", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="nbm-bench-registry-"))
    models = [fake(i) for i in range(args.entries)]
    rng = random.Random(0)

    # -- one process, at N entries --------------------------------------------------------------
    reg = Registry(root / "nbm.db")
    t = time.perf_counter()
    reg.register_many(models)
    setup_nbm = time.perf_counter() - t
    js = JsonStore(root / "models.json")
    js.save({m.key: {"id": m.id, "license": m.license, "tasks": [t.value for t in m.tasks]} for m in models})  # fmt: skip
    raw = RawSQLite(root / "raw.db")
    raw.register_many(models)
    keys = [m.key for m in models]
    print(f"{args.entries:,} entries (nbmodels bulk register: {setup_nbm:.1f} s). p50 / p95 in ms, {args.samples} samples each:\n")  # fmt: skip
    print("| operation | nbmodels | plain JSON file | raw SQLite |\n|---|---:|---:|---:|")
    new = iter(fake(5_000_000 + i) for i in range(10 * args.samples))
    rows = {
        "register (one new model)": (
            lambda i: reg.register(next(new)),
            lambda i: js.register(next(new)),
            lambda i: raw.register(next(new)),
        ),
        "get (by id)": (
            lambda i: reg.get(rng.choice(keys)),
            lambda i: js.get(rng.choice(keys)),
            lambda i: raw.get(rng.choice(keys)),
        ),
        "search (a word, top 100)": (
            lambda i: reg.search(rng.choice(WORDS)),
            lambda i: js.search(rng.choice(WORDS)),
            lambda i: raw.search(rng.choice(WORDS)),
        ),
    }
    for name, (a, b, c) in rows.items():  # the JSON file is slow: a tenth of the samples
        n = args.samples
        print(
            f"| {name} | {pct(timed(a, n))} | {pct(timed(b, max(10, n // 10)))} | {pct(timed(c, n))} |"
        )
    sql = "SELECT license, count(*) AS n, sum(use_count) AS uses FROM entries GROUP BY 1"
    reg.sql(sql)
    warm = timed(lambda i: reg.sql(sql), 20)
    reg.record_usage(keys[0])
    cold = timed(lambda i: (reg.record_usage(keys[i]), reg.sql(sql)), 3)
    rawsql = timed(lambda i: raw.con.execute("SELECT license, count(*) FROM m GROUP BY 1").fetchall(), 20)  # fmt: skip
    print(f"| `sql()` GROUP BY, nothing written since | {pct(warm)} | | {pct(rawsql)} |")
    print(f"| `sql()` GROUP BY, after a write (DuckDB copy rebuilt) | {pct(cold)} | | |")

    # -- contention ---------------------------------------------------------------------------
    print(f"\n{args.writers} processes registering {args.ops} new models each, at once, on a store of {args.entries:,}:\n")  # fmt: skip
    print(
        "| store | lost writes | errors | p50 / p95 ms per write | wall s |\n|---|---:|---:|---:|---:|"
    )
    import duckdb

    dpath = root / "duck.db"
    con = duckdb.connect(str(dpath))
    con.execute("CREATE TABLE m (key TEXT PRIMARY KEY, id TEXT, license TEXT, tasks TEXT)")
    con.close()
    for kind, path in (("nbmodels", root / "nbm.db"), ("json", root / "models.json"),
                       ("sqlite", root / "raw.db"), ("duckdb", dpath)):  # fmt: skip
        before = count(kind, path)
        r = contention(kind, path, args.writers, args.ops)
        after = count(kind, path)
        lost = args.writers * args.ops - (after - before) - r["errors"]
        print(f"| {kind} | {lost} | {r['errors']} | {pct(r['lat'])} | {r['wall']:.1f} |")

    # -- the catalog ----------------------------------------------------------------------------
    import pyarrow.parquet as pq

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import bench_catalog

    cat, _, _ = bench_catalog.build(args.catalog_rows, root / "home")
    cat.compact()
    adds = timed(lambda i: cat.add([fake(20_000_000 + i)]), 30)
    table = cat._connection().sql("SELECT * FROM models").to_arrow_table()
    rewrite = timed(lambda i: pq.write_table(table, root / "rewrite.parquet"), 3)
    print(f"\nCatalog of {len(cat):,} rows, adding one model (p50 / p95 ms): nbmodels (a delta) {pct(adds)}; "
          f"rewriting models.parquet (before) {pct(rewrite)}; {statistics.median(rewrite) / statistics.median(adds):.0f}x")  # fmt: skip
    filt = timed(lambda i: cat.search(task="chat", sort="downloads", limit=50, online=False), 20)
    print(f"Catalog filter query after those adds (search task=chat, top 50): {pct(filt)} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
