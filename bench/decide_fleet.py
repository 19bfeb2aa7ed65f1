"""CPU time per tick of the decision engine for a fleet of watched services at 1 Hz.

    python bench/decide_fleet.py [--services 50] [--ticks 600]

Each service gets three readings per tick (metrics, probe, pod restarts) drawn from a mix of
healthy, degraded, bad and flapping services, with one source failing now and then; the
engine folds them (freshness, merge, matrix, tree, triggers). Simulated time advances 1 s per
tick; only CPU time is measured (``time.process_time_ns``). Prints figures, asserts nothing.
"""
from __future__ import annotations

import argparse
import random
import statistics
import time

from cockpit.decision import Engine, Policy, Reading


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--services", type=int, default=50)
    ap.add_argument("--ticks", type=int, default=600)
    ap.add_argument("--seed", type=int, default=4)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    policy = Policy()
    engines = [Engine(policy) for _ in range(a.services)]
    kinds = [rng.choice(["healthy", "healthy", "degraded", "bad", "flapping"]) for _ in range(a.services)]
    base = time.time()
    per_tick: list[float] = []
    fired = 0
    for t in range(a.ticks):
        now = base + t
        batch = []
        for i, kind in enumerate(kinds):
            err = {"healthy": 0.002, "degraded": 0.03, "bad": 0.3, "flapping": 0.3 if (t // 7) % 2 else 0.0}[kind]
            if rng.random() < 0.02:
                m = Reading("prometheus", at=now, ok=False, error="timed out")
            else:
                m = Reading("prometheus", at=now, window_s=60, error_rate=err * rng.uniform(0.8, 1.2),
                            p95_ms=rng.uniform(80, 3000 if kind == "bad" else 600), request_rate=30.0)
            batch.append((i, [m, Reading("probe", at=now, health_ok=rng.random() > 0.01, probe_ms=5.0),
                              Reading("pods", at=now, crashes=0 if kind != "bad" else rng.randint(0, 5), crash_window_s=300)]))
        t0 = time.process_time_ns()
        for i, readings in batch:
            d = engines[i].tick(readings, now)
            fired += d.trigger is not None
        per_tick.append((time.process_time_ns() - t0) / 1e6)
    per_tick.sort()
    print(f"services={a.services} ticks={a.ticks} (1 Hz simulated) triggers fired={fired}")
    print(f"CPU ms/tick: median {statistics.median(per_tick):.3f}  p95 {per_tick[int(0.95 * len(per_tick)) - 1]:.3f}  "
          f"max {per_tick[-1]:.3f}  → {statistics.median(per_tick) / 10:.3f}% of one core at 1 Hz")
    print(f"per service per tick: median {statistics.median(per_tick) / a.services * 1000:.1f} µs")


if __name__ == "__main__":
    main()
