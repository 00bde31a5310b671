"""A team's registry, measured: the registry on one PostgreSQL server beside the SQLite file
it is by default.

python benchmarks/bench_team_registry.py [--entries 100000] [--writers 4] [--ops 250]
                                         [--samples 200] [--url postgresql://...]

1. Contention: ``--writers`` processes at once, each registering ``--ops`` new models and
   recording a use of each and of one shared model (a read-modify-write of its usage JSON).
   Afterwards every registration must be there and every use counted, exactly.
2. At ``--entries`` entries (bulk-registered): p50 / p95 of ``get``, ``search`` (a word,
   top 100), ``register`` (one new model), ``record_usage`` and a warm ``sql()``.

Without ``--url`` the server is a throwaway PostgreSQL (``initdb`` + ``pg_ctl`` from
``/usr/lib/postgresql/*/bin``, as ``tests/fixtures_postgres.py`` starts it) with
``synchronous_commit = off`` and ``fsync`` on: commits are not flushed one by one, as the
SQLite store's WAL with ``synchronous = NORMAL``. With ``--url`` the database must be empty.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import textwrap
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from bench_registry import WORDS, fake, pct, timed  # noqa: E402

from nbmodels.storage.registry import Registry  # noqa: E402
from nbmodels.storage.transfer import registry_counts  # noqa: E402
from nbmodels.types import ModelMetadata, ModelSource  # noqa: E402

_WORKER = textwrap.dedent(
    """
    import json, sys, time
    sys.path.insert(0, sys.argv[4])
    from bench_registry import fake
    from nbmodels.storage.registry import Registry
    from nbmodels.storage.versions import record_version
    location, worker, ops = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    reg = Registry(location)
    lat, errors = [], 0
    for i in range(ops):
        m = fake(10_000_000 + worker * 100_000 + i)
        t = time.perf_counter()
        try:
            reg.register(m, tags=[f"w{worker}"])
            reg.record_usage(m.key, tokens_in=i, tokens_out=2 * i, seconds=0.25)
            reg.record_usage("org/shared", tokens_out=1, task=f"w{worker}")
            # a version of the shared model each time: numbered by the database, never twice
            record_version(reg, "org/shared", commit=f"{worker:02x}{i:038x}", files=())
        except Exception as exc:
            errors += 1
            print(repr(exc), file=sys.stderr)
        lat.append(time.perf_counter() - t)
    print(json.dumps({"lat": lat, "errors": errors}))
    """
)


def contention(location: str, writers: int, ops: int) -> dict[str, object]:
    """``writers`` processes at once on ``location``; what they left, checked exactly."""
    reg = Registry(location)
    reg.register(ModelMetadata(id="org/shared", source=ModelSource.HUGGING_FACE))
    before = registry_counts(reg)
    t = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-c", _WORKER, location, str(w), str(ops), str(HERE)],
                              stdout=subprocess.PIPE, text=True) for w in range(writers)]  # fmt: skip
    results = [json.loads(p.communicate()[0]) for p in procs]
    wall = time.perf_counter() - t
    after = registry_counts(reg)
    n = writers * ops
    shared = reg.stats("org/shared")
    mine = reg.sql(
        "SELECT count(*) AS n, sum(use_count) AS uses, sum(tokens_in) AS tin, "
        "sum(tokens_out) AS tout FROM entries WHERE key IN (SELECT key FROM tags WHERE tag LIKE 'w%')"
    ).iloc[0]
    exact = (
        after["entries"] - before["entries"] == n
        and int(mine["n"]) == n
        and int(mine["uses"]) == n
        and int(mine["tin"]) == writers * sum(range(ops))
        and int(mine["tout"]) == 2 * writers * sum(range(ops))
        and shared["use_count"] == n
        and shared["by_task"] == {f"w{w}": ops for w in range(writers)}
    )
    from nbmodels.storage.versions import versions

    numbers = [ver.number for ver in versions(reg, "org/shared")]
    lat = [x for r in results for x in r["lat"]]
    return {"kept": after["entries"] - before["entries"], "uses": int(mine["uses"]) + shared["use_count"],
            "exact": exact, "errors": sum(r["errors"] for r in results), "lat": lat, "wall": wall,
            "versions 1..N": numbers == list(range(1, n + 1))}  # fmt: skip


def latencies(reg: Registry, entries: int, samples: int) -> dict[str, str]:
    """p50 / p95 (ms) of the everyday operations at ``entries`` entries."""
    rng = random.Random(0)
    keys = [fake(i).key for i in range(entries)]
    new = iter(fake(5_000_000 + i) for i in range(10 * samples))
    sql = "SELECT license, count(*) AS n, sum(use_count) AS uses FROM entries GROUP BY 1"
    reg.sql(sql)
    with warnings.catch_warnings():  # a word matches more than 100: the warning says so
        warnings.simplefilter("ignore")
        return {
            "get (by id)": pct(timed(lambda i: reg.get(rng.choice(keys)), samples)),
            "search (a word, top 100)": pct(
                timed(lambda i: reg.search(rng.choice(WORDS)), samples)
            ),
            "register (one new model)": pct(timed(lambda i: reg.register(next(new)), samples)),
            "record_usage": pct(
                timed(lambda i: reg.record_usage(rng.choice(keys), tokens_out=5), samples)
            ),
            "`sql()` GROUP BY, nothing written since": pct(timed(lambda i: reg.sql(sql), 20)),
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)  # fmt: skip
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--ops", type=int, default=250)
    parser.add_argument("--url", help="an empty PostgreSQL database (default: start one)")
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="nbm-bench-team-"))
    server = None
    started = time.perf_counter()
    if args.url:
        url = args.url
    else:
        sys.path.insert(0, str(HERE.parent / "tests"))
        from fixtures_postgres import PostgresServer, find_postgres_bin

        bin_dir = find_postgres_bin()
        if bin_dir is None:
            print("No PostgreSQL server binaries: run `make postgres-deps`, or pass --url.")
            return 1
        server = PostgresServer(bin_dir, conf={"fsync": "on", "full_page_writes": "on"}).start()
        url = server.url(server.new_database("bench"))
    try:
        stores = {"SQLite file": str(root / "registry.db"), "PostgreSQL": url}
        setup = f"server started in {time.perf_counter() - started:.1f} s; " if server else ""
        print(f"{os.cpu_count()} CPU cores; {setup}PostgreSQL: synchronous_commit=off, fsync=on.\n")  # fmt: skip

        # -- contention ------------------------------------------------------------------------
        n = args.writers * args.ops
        print(f"{args.writers} processes at once, each registering {args.ops} new models and recording "
              f"a use of each and of one shared model, and a version of the shared model ({n:,} "
              f"registrations, {2 * n:,} usage records, {n:,} versions):\n")  # fmt: skip
        print(
            "| store | kept | uses counted | exact | versions 1..N | errors | p50 / p95 ms per model | wall s |"
        )
        print("|---|---:|---:|---|---|---:|---:|---:|")
        for name, location in stores.items():
            r = contention(location, args.writers, args.ops)
            print(f"| {name} | {r['kept']:,} | {r['uses']:,} | {'yes' if r['exact'] else 'NO'} | "
                  f"{'yes' if r['versions 1..N'] else 'NO'} | "
                  f"{r['errors']} | {pct(r['lat'])} | {r['wall']:.1f} |")  # fmt: skip

        # -- at N entries ----------------------------------------------------------------------
        models = [fake(i) for i in range(args.entries)]
        regs = {name: Registry(location) for name, location in stores.items()}
        loads = {}
        for name, reg in regs.items():
            t = time.perf_counter()
            reg.register_many(models)
            loads[name] = time.perf_counter() - t
        total = len(regs["PostgreSQL"])
        figures = {name: latencies(reg, args.entries, args.samples) for name, reg in regs.items()}
        print(f"\nAt {total:,} entries (bulk register of {args.entries:,}: "
              + ", ".join(f"{k} {v:.1f} s" for k, v in loads.items())
              + f"). p50 / p95 in ms, {args.samples} samples each:\n")  # fmt: skip
        print("| operation | SQLite file | PostgreSQL |\n|---|---:|---:|")
        for op in figures["SQLite file"]:
            print(f"| {op} | {figures['SQLite file'][op]} | {figures['PostgreSQL'][op]} |")
        for reg in regs.values():
            reg.close()
        print(f"\ntotal {time.perf_counter() - started:.0f} s")
    finally:
        if server is not None:
            server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
