"""Benchmark: what the journal's mirror costs the operator, and how soon an observer sees a record.

    python bench/mirror.py [--appends 5000] [--block 250] [--lag-records 500] [--rate 50]

Starts a throwaway PostgreSQL and Redis on loopback (as the test suite does) and, for each:

1. **Append p99, with and without the mirror, side by side.** Two journals in one run: one
   plain, one mirrored. Appends alternate in blocks of ``--block`` (plain block, mirrored
   block, ...) paced 1 ms apart — far faster than a session writes — and every fifth is a
   durable (fsynced) intent, as the executor writes them. Between blocks the mirror is let
   catch up, so the plain blocks never share the machine with the mirror's thread. Prints
   p50/p99/max of each and the p99 difference: what the mirror adds to an append.
2. **Observer lag p99.** An observer in another process follows the incident from the store
   (``cockpit.mirror.StoreFollower``, readonly: LISTEN/NOTIFY, blocking XREAD) and stamps when
   each record arrives; the writer stamps when each append returned. ``--lag-records``
   records at ``--rate`` per second. Prints p50/p99/max of arrival − write.

Never asserts on time.
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

OBSERVER = """
import json, sys, threading, time
sys.path.insert(0, {root!r})
from backends.mirror import open_store
from cockpit.mirror import StoreFollower
store = open_store({url!r}, True)
follower = StoreFollower(store, {incident!r}, wait_s=1.0)
stop = threading.Event()
print("ready", flush=True)
for record in follower.records(stop):
    print(json.dumps([record["seq"], time.time()]), flush=True)
    if record.get("type") == "incident_resolved":
        break
"""


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def fmt(values: list[float]) -> str:
    return f"p50 {pct(values, 50) * 1000:7.3f} ms   p99 {pct(values, 99) * 1000:7.3f} ms   max {max(values) * 1000:7.2f} ms"


def append_one(journal, i: int) -> float:
    t0 = time.perf_counter()
    if i % 5 == 0:
        journal.intent("exec", argv=["true"], n=i)
    else:
        journal.append("log", step=0, line=f"Waiting for deployment rollout to finish: {i} replicas updated...")
    return time.perf_counter() - t0


def append_side_by_side(url: str, appends: int, block: int, tmp: Path) -> tuple[list[float], list[float]]:
    from backends.mirror import build_mirror
    from cockpit.journal import Journal

    plain = Journal.open(tmp / "20260101T000000Z-plain.jsonl")
    mirrored = Journal.open(tmp / f"20260101T000000Z-mirrored-{time.time_ns()}.jsonl")
    mirror = build_mirror(url, mirrored, False, capacity=10_000)
    for j in (plain, mirrored):
        j.append("incident_opened", target="shop/checkout", reason="bench")
    deadline = time.monotonic() + 30
    while mirror.status().state != "live" and time.monotonic() < deadline:
        time.sleep(0.01)
    without: list[float] = []
    with_mirror: list[float] = []
    i = 0
    while i < appends:
        for journal, out in ((plain, without), (mirrored, with_mirror)):
            for k in range(block):
                out.append(append_one(journal, i + k))
                time.sleep(0.001)
            if journal is mirrored:
                mirror.wait_caught_up(30)
        i += block
    status = mirror.status()
    plain.close()
    mirrored.close()
    if status.state != "live":
        print(f"  (the mirror ended {status.state}: {status.error})")
    return without, with_mirror


def observer_lag(url: str, records: int, rate: float, tmp: Path) -> list[float]:
    from backends.mirror import build_mirror
    from cockpit.journal import Journal
    from cockpit.mirror import incident_id

    path = tmp / f"20260101T000000Z-lag-{time.time_ns()}.jsonl"
    journal = Journal.open(path)
    mirror = build_mirror(url, journal, False)
    journal.append("incident_opened", target="shop/checkout", reason="bench")
    mirror.wait_caught_up(30)
    observer = subprocess.Popen([sys.executable, "-c", OBSERVER.format(root=str(ROOT), url=url, incident=incident_id(path))],
                                stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert observer.stdout is not None and observer.stdout.readline().strip() == "ready"
    time.sleep(1.0)  # the observer has read the backlog and waits on the store
    written: dict[int, float] = {}
    gap = 1.0 / rate
    for i in range(records):
        record = journal.append("log", line=f"line {i}") if i < records - 1 else \
            journal.append("incident_resolved", summary="bench done")
        written[record["seq"]] = time.time()
        time.sleep(gap)
    seen: dict[int, float] = {}
    for line in observer.stdout:
        seq, at = json.loads(line)
        seen[seq] = at
    observer.wait(timeout=30)
    journal.close()
    missing = [s for s in written if s not in seen]
    if missing:
        print(f"  (the observer missed {len(missing)} records)")
    return [seen[s] - written[s] for s in written if s in seen]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--appends", type=int, default=5000, help="appends per variant (default 5000)")
    ap.add_argument("--block", type=int, default=250, help="appends per alternating block (default 250)")
    ap.add_argument("--lag-records", type=int, default=500, help="records the observer follows (default 500)")
    ap.add_argument("--rate", type=float, default=50.0, help="records per second for the lag run (default 50)")
    args = ap.parse_args()

    from tests.fixtures.postgres import running_postgres
    from tests.fixtures.redis import running_redis

    print(f"append: {args.appends} per variant in blocks of {args.block}, 1 ms apart, every fifth fsynced;"
          f" lag: {args.lag_records} records at {args.rate:g}/s, observer in another process")
    with running_postgres() as pg, running_redis() as rd, tempfile.TemporaryDirectory() as tmp:
        for name, url in (("PostgreSQL", f"postgresql://postgres@127.0.0.1:{pg.port}/postgres"), ("Redis", rd.url)):
            folder = Path(tmp) / name
            folder.mkdir()
            without, with_mirror = append_side_by_side(url, args.appends, args.block, folder)
            print(f"\n{name} (loopback)")
            print(f"  append without mirror   {fmt(without)}")
            print(f"  append with mirror      {fmt(with_mirror)}")
            print(f"  the mirror adds at p99  {(pct(with_mirror, 99) - pct(without, 99)) * 1000:+.3f} ms"
                  f"   (median of the blocks' p99s: {(statistics.median(block_p99s(with_mirror, args.block)) - statistics.median(block_p99s(without, args.block))) * 1000:+.3f} ms)")
            plain_w, plain_m = unsynced(without), unsynced(with_mirror)
            print(f"  unsynced appends only   without p99 {pct(plain_w, 99) * 1000:.3f} ms, with {pct(plain_m, 99) * 1000:.3f} ms"
                  f" ({(pct(plain_m, 99) - pct(plain_w, 99)) * 1000:+.3f} ms; no fsync to hide the mirror's own cost)")
            lag = observer_lag(url, args.lag_records, args.rate, folder)
            print(f"  observer lag            {fmt(lag)}")
    return 0


def unsynced(values: list[float]) -> list[float]:
    """The appends that were not fsynced intents (every fifth is: see :func:`append_one`)."""
    return [v for i, v in enumerate(values) if i % 5 != 0]


def block_p99s(values: list[float], block: int) -> list[float]:
    return [pct(values[i:i + block], 99) for i in range(0, len(values), block) if values[i:i + block]]


if __name__ == "__main__":
    raise SystemExit(main())
