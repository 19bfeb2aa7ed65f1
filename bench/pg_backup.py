"""Benchmark: backup evidence of a 1,000,000-row database (``cockpit pg backup``).

    python bench/pg_backup.py [--runs 3] [--rows 1000000]

Starts a throwaway PostgreSQL (as ``nobody`` when root), loads ``--rows`` rows (an ``events``
table with a primary key, a timestamp, a text payload and a secondary index, plus a small
``users`` table), then times whole ``cockpit pg backup --dsn ... --dir ...`` processes
(pg_dump custom format + sha256 + sidecars) and a checksum verification. Prints the medians
and the backup size. Never asserts on time.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def cockpit_argv() -> list[str]:
    script = Path(sys.executable).parent / "cockpit"
    return [str(script)] if script.exists() else [sys.executable, "-m", "cockpit"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--compress", type=int, action="append", default=None, metavar="N",
                    help="time pg_dump at this level (repeatable; default: 1, ours, and 6, pg_dump's)")
    args = ap.parse_args()
    import psycopg

    from backends.postgres.client import PostgresBackend
    from backends.postgres.dump import find_tool
    from tests.fixtures.postgres import running_postgres

    with running_postgres() as server, tempfile.TemporaryDirectory(prefix="cockpit-bench-") as tmp:
        with server.admin() as conn:
            conn.execute("CREATE DATABASE shop")
        dsn = server.dsn("shop")
        t = time.perf_counter()
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(
                "CREATE TABLE events AS SELECT g AS id, timestamptz '2026-01-01' + g * interval '1 second' AS at, "
                "(g %% 1000) AS user_id, md5(g::text) || ' ' || repeat('x', g %% 40) AS payload "
                "FROM generate_series(1, %s) g", (args.rows,))
            conn.execute("ALTER TABLE events ADD PRIMARY KEY (id)")
            conn.execute("CREATE INDEX events_user_at ON events (user_id, at)")
            conn.execute("CREATE TABLE users AS SELECT g AS id, 'user ' || g AS name FROM generate_series(1, 1000) g")
            conn.execute("VACUUM ANALYZE")
            db_size = conn.execute("SELECT pg_database_size('shop')").fetchone()[0]
        print(f"loaded {args.rows:,} rows in {time.perf_counter() - t:.1f}s; database size {db_size / 1e6:.1f} MB")
        print(f"pg_dump: {find_tool('pg_dump')}")
        argv = [*cockpit_argv(), "pg", "backup", "--dsn", dsn, "-o", "json"]
        print(f"command: {' '.join(argv)} --dir DIR [--compress N]")
        summary = []
        for level in args.compress or [1, 6]:
            times, verify_times, sizes = [], [], []
            extra = ["--compress", str(level)]
            name = str(level)
            for i in range(args.runs):
                out_dir = Path(tmp) / f"z{level}-run{i}"
                t = time.perf_counter()
                proc = subprocess.run([*argv, *extra, "--dir", str(out_dir)], capture_output=True, text=True)
                times.append(time.perf_counter() - t)
                if proc.returncode != 0:
                    raise SystemExit(f"backup failed: {proc.stderr.strip()}")
                info = json.loads(proc.stdout)
                sizes.append(info["size"])
                t = time.perf_counter()
                checked = PostgresBackend.verify_backup(Path(info["path"]))
                verify_times.append(time.perf_counter() - t)
                if not checked.verified:
                    raise SystemExit("WRONG: the backup does not match its recorded sha256")
                print(f"compress {name}, run {i + 1}: backup {times[-1]:.2f}s, {info['size'] / 1e6:.1f} MB, "
                      f"sha256 {info['sha256'][:16]}…; verify {verify_times[-1]:.2f}s")
            summary.append((name, statistics.median(times), statistics.median(sizes), statistics.median(verify_times)))
        # a restore check of the last one into a fresh database proves the evidence is usable
        with server.admin() as conn:
            conn.execute("CREATE DATABASE shop_restored")
        target = PostgresBackend(server.dsn("shop_restored"), statement_timeout=600)
        t = time.perf_counter()
        for _ in target.restore(info["path"], confirm="shop_restored"):
            pass
        restore_s = time.perf_counter() - t
        with psycopg.connect(server.dsn("shop_restored")) as conn:
            n = conn.execute("SELECT count(*) FROM events").fetchone()[0]
        if n != args.rows:
            raise SystemExit(f"WRONG: restored {n} rows, expected {args.rows}")
        for name, t, size, vt in summary:
            print(f"compress {name:12s} median backup (whole process) {t:.2f} s, size {size / 1e6:.1f} MB "
                  f"({size / db_size:.0%} of the database's {db_size / 1e6:.1f} MB), verify {vt:.2f} s")
        print(f"restore check:                 {restore_s:.2f} s, {n:,} rows back")
    return 0


if __name__ == "__main__":
    sys.exit(main())
