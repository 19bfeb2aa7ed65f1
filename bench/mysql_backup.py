"""Benchmark: backup of a 1,000,000-row MariaDB table (``cockpit mysql backup``) against
``mariadb-dump`` alone. Goal: ≤ 1.1× including the checksum.

    python bench/mysql_backup.py [--runs 5] [--rows 1000000]

Starts a throwaway MariaDB (tests/fixtures/mariadb.py, as ``nobody`` when root), loads
``--rows`` rows (an ``events`` table with a primary key, a timestamp, a text payload and a
secondary index), then, interleaved run by run, times:

- ``mariadb-dump`` alone with the same options, stdout to a file (``> file``), and the same
  followed by an fsync of the file (a reference: the backend makes its evidence durable);
- the backend in-process (``MySQLBackend.backup_now``: the dump written by the tool to a temp
  name and hashed as it grows, fsync, rename, sidecars);
- the whole ``cockpit mysql backup`` process (adds the interpreter's start-up).

Prints the medians side by side and the ratios. Never asserts on time.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# ``cockpit mysql`` through the real CLI, registering the module if cockpit/cli.py does not yet.
RUN_CLI = ("import sys, cockpit.cli as c; c.COMMAND_MODULES.setdefault('mysql', 'backends.mysql.commands'); "
           "sys.exit(c.main(sys.argv[1:]))")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--rows", type=int, default=1_000_000)
    args = ap.parse_args()

    from backends.mysql.client import MySQLBackend
    from backends.mysql.dump import find_tool
    from tests.fixtures.mariadb import PASSWORD, PASSWORD_USER, running_mariadb

    with running_mariadb() as server, tempfile.TemporaryDirectory(prefix="cockpit-bench-") as tmp:
        server.sql(None, "CREATE DATABASE shop")
        t = time.perf_counter()
        server.sql(
            "shop",
            "CREATE TABLE events (id int PRIMARY KEY, at datetime NOT NULL, user_id int NOT NULL, "
            "payload varchar(100) NOT NULL, KEY events_user_at (user_id, at)) ENGINE=InnoDB",
            f"INSERT INTO events SELECT seq, '2026-01-01' + INTERVAL seq SECOND, seq % 1000, "
            f"CONCAT(MD5(seq), ' ', REPEAT('x', seq % 40)) FROM seq_1_to_{int(args.rows)}",
            "ANALYZE TABLE events",
        )
        size = server.sql(None, "SELECT data_length + index_length FROM information_schema.tables "
                                "WHERE table_schema = 'shop' AND table_name = 'events'")[0][0][0]
        print(f"loaded {args.rows:,} rows in {time.perf_counter() - t:.1f}s; table size {size / 1e6:.1f} MB")
        dsn = server.dsn("shop", user=PASSWORD_USER, password=PASSWORD)
        backend = MySQLBackend(dsn)
        tool = find_tool("mariadb-dump", "mysqldump")
        private = Path(tmp) / "private"
        private.mkdir(mode=0o700)
        conn_args, env = backend.tool_args(private)
        # the same options the backend passes (tool_args, then the dump options)
        dump_cmd = [tool, *conn_args, "--single-transaction", "--quick", "--routines", "--triggers", "--hex-blob",
                    "--default-character-set=utf8mb4", "--master-data=2", "--", "shop"]
        cli = [sys.executable, "-c", RUN_CLI, "mysql", "backup", "--dsn", dsn, "-o", "json"]
        print(f"{Path(tool).name}: {subprocess.run([tool, '--version'], capture_output=True, text=True).stdout.strip()}")
        alone, alone_sync, inproc, whole, sizes = [], [], [], [], []
        for i in range(args.runs):
            out = Path(tmp) / f"alone-{i}.sql"
            t = time.perf_counter()
            with open(out, "wb") as fh:
                subprocess.run(dump_cmd, stdout=fh, env=env, check=True)
                alone.append(time.perf_counter() - t)
                os.fsync(fh.fileno())
                alone_sync.append(time.perf_counter() - t)
            sizes.append(out.stat().st_size)
            out.unlink()

            d = Path(tmp) / f"inproc-{i}"
            t = time.perf_counter()
            info = backend.backup_now(d)
            inproc.append(time.perf_counter() - t)
            if info.size != sizes[-1] and abs(info.size - sizes[-1]) > 200:  # dump header times differ a little
                print(f"  note: sizes differ: alone {sizes[-1]} vs backend {info.size}")
            shutil.rmtree(d)

            d = Path(tmp) / f"cli-{i}"
            t = time.perf_counter()
            proc = subprocess.run([*cli, "--dir", str(d)], capture_output=True, text=True, cwd=ROOT,
                                  env={**env, "PYTHONPATH": str(ROOT)})
            whole.append(time.perf_counter() - t)
            if proc.returncode != 0:
                raise SystemExit(f"cockpit mysql backup failed: {proc.stderr.strip()}")
            json.loads(proc.stdout)
            shutil.rmtree(d)
            print(f"  run {i + 1}: alone {alone[-1]:.2f}s  backend {inproc[-1]:.2f}s  cockpit {whole[-1]:.2f}s")
        ma, mi, mw = statistics.median(alone), statistics.median(inproc), statistics.median(whole)
        print(f"dump size {statistics.median(sizes) / 1e6:.1f} MB; medians of {args.runs} runs:")
        print(f"  {'mariadb-dump alone (> file)':42s} {ma:6.2f}s  1.00x")
        ms = statistics.median(alone_sync)
        print(f"  {'mariadb-dump alone, then fsync (reference)':42s} {ms:6.2f}s  {ms / ma:.2f}x")
        print(f"  {'backend (dump + sha256 + fsync + rename)':42s} {mi:6.2f}s  {mi / ma:.2f}x")
        print(f"  {'cockpit mysql backup (whole process)':42s} {mw:6.2f}s  {mw / ma:.2f}x   goal <= 1.10x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
