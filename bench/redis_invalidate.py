"""Benchmark: ``cockpit redis invalidate 'moshimoshi:*'`` against the runbooks' own pipeline.

    python bench/redis_invalidate.py [--runs 5] [--keys 400000] [--url redis://host:port/0]

400,000 keys, 200,000 of them matching ``moshimoshi:*``, on one redis-server (started here on
a free port unless ``--url``), re-seeded before every run. Each round times, as whole
processes, ours — the installed ``cockpit`` console script (falls back to
``python -m cockpit``) with ``--yes``, which includes its verification pass — and the
pipeline ``redis-cli --scan --pattern 'moshimoshi:*' | xargs redis-cli DEL`` run by ``sh``.
After each run it checks that no ``moshimoshi:*`` key is left and that the 200,000 others
all survive. Prints both medians and the ratio. Never asserts on time.
"""
from __future__ import annotations

import argparse
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PATTERN = "moshimoshi:*"


def cockpit_argv() -> list[str]:
    script = Path(sys.executable).parent / "cockpit"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "cockpit"]


def seed(r, total: int) -> None:
    r.flushall()
    half = total // 2
    pipe = r.pipeline(transaction=False)
    for start in range(0, half, 10_000):
        end = min(half, start + 10_000)
        pipe.mset({f"moshimoshi:{i}": b"cached-response" for i in range(start, end)})
        pipe.mset({f"other:{i}": b"keep-me" for i in range(start, end)})
    pipe.execute()
    assert r.dbsize() == 2 * half


def check(r, total: int) -> tuple[int, int]:
    left = sum(1 for _ in r.scan_iter(match=PATTERN, count=10_000))
    others = sum(1 for _ in r.scan_iter(match="other:*", count=10_000))
    if left or others != total // 2:
        raise SystemExit(f"WRONG RESULT: {left} matching keys left, {others} of {total // 2} others survive")
    return left, others


def server_usec(r) -> int:
    stats = r.info("commandstats")
    return sum(v["usec"] for k, v in stats.items() if k.split("_", 1)[1] in ("scan", "unlink", "del", "keys"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--keys", type=int, default=400_000)
    ap.add_argument("--url", help="use this server (it is FLUSHALLed!) instead of starting one")
    args = ap.parse_args()
    import redis

    from tests.fixtures.redis import running_redis

    with running_redis() if not args.url else _nullserver(args.url) as server:
        url = args.url or server.url
        r = redis.Redis.from_url(url)
        host = r.connection_pool.connection_kwargs.get("host", "127.0.0.1")
        port = r.connection_pool.connection_kwargs.get("port", 6379)
        cli = shutil.which("redis-cli") or "redis-cli"
        pipeline = (f"{cli} -h {host} -p {port} --scan --pattern {shlex.quote(PATTERN)} "
                    f"| xargs {cli} -h {host} -p {port} DEL > /dev/null")
        ours_argv = [*cockpit_argv(), "redis", "invalidate", PATTERN, "--url", url, "--yes"]
        print(f"redis-server {r.info('server')['redis_version']} at {host}:{port}; {args.keys:,} keys, "
              f"{args.keys // 2:,} match {PATTERN!r}; {args.runs} runs each, interleaved")
        print(f"ours:     {' '.join(ours_argv)}")
        print(f"pipeline: sh -c {shlex.quote(pipeline)}")
        try:
            import hiredis  # noqa: F401

            print("hiredis: installed (fast path)")
        except ImportError:
            print("hiredis: NOT installed (redis-py connection; slower)")
        ours: list[float] = []
        theirs: list[float] = []
        ours_srv: list[float] = []
        theirs_srv: list[float] = []
        for i in range(args.runs):
            seed(r, args.keys)
            r.config_resetstat()
            t = time.perf_counter()
            proc = subprocess.run(ours_argv, capture_output=True, text=True)
            ours.append(time.perf_counter() - t)
            ours_srv.append(server_usec(r) / 1e6)
            if proc.returncode != 0:
                raise SystemExit(f"cockpit failed ({proc.returncode}): {proc.stderr.strip()}")
            check(r, args.keys)
            seed(r, args.keys)
            r.config_resetstat()
            t = time.perf_counter()
            subprocess.run(["sh", "-c", pipeline], check=True)
            theirs.append(time.perf_counter() - t)
            theirs_srv.append(server_usec(r) / 1e6)
            check(r, args.keys)
            print(f"run {i + 1}: ours {ours[-1]:.3f}s (server {ours_srv[-1]:.3f}s)   "
                  f"pipeline {theirs[-1]:.3f}s (server {theirs_srv[-1]:.3f}s)")
        mo, mt = statistics.median(ours), statistics.median(theirs)
        print(f"median ours:     {mo:.3f} s   (server-side SCAN/UNLINK/KEYS time {statistics.median(ours_srv):.3f} s)")
        print(f"median pipeline: {mt:.3f} s   (server-side SCAN/DEL time {statistics.median(theirs_srv):.3f} s)")
        print(f"ratio: ours is {mt / mo:.2f}x faster (goal: 3x)")
        print(f"verified every run: 0 '{PATTERN}' keys left, all {args.keys // 2:,} others survive")
    return 0


class _nullserver:
    def __init__(self, url: str) -> None:
        self.url = url

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "0")
    sys.exit(main())
