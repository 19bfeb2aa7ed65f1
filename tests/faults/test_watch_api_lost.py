"""A watcher that loses the API server stays up, says INCONCLUSIVE (never a rollback on missing
data), stops leading after its renew deadline, and resumes when the API answers again: it
leads again and rolls back once. The API "goes away" behind the fault proxy (every request
answered 503, as an API server that is restarting), then comes back.

The metrics come through the API server's proxy (``--source apiproxy``), so losing the API
loses them too; PATCHes are counted at the world.

Only the error-rate trigger may act, after 20 consecutive checks over 5 % (about 10 s): the
API is cut well before it can fire however slowly this test runs, and after the API is back
the counter starts again from zero (a gap is no evidence), so the one rollback comes from
fresh checks. The Lease timings are longer than the short ones of the takeover tests (a renew
deadline of 4 s): a loaded machine's stall does not cost the watcher its Lease before the cut,
which the count of "is the leader" lines checks.
"""
from __future__ import annotations

import time

from tests.e2e.test_watch_ha import FAST, le, patches
from tests.e2e.test_watch_ha import replicas  # noqa: F401 — a fixture


def test_watcher_that_loses_the_api_stays_up_inconclusive_and_resumes(world, fault_proxy, replicas, tmp_path):
    w = world("bad-image", speed=10, services=True)
    proxy = fault_proxy(w)
    w.kubeconfig_path = proxy.write_kubeconfig(w, tmp_path / "via-proxy", namespace="shop")
    slow = {"COCKPIT_DECISION__TRIGGERS__ERROR_CONSECUTIVE": "20", "COCKPIT_DECISION__TRIGGERS__SUCCESS_MIN_CHECKS": "1000",
            "COCKPIT_DECISION__TRIGGERS__HEALTH_FAILURES": "1000", "COCKPIT_DECISION__TRIGGERS__P95_CONSECUTIVE": "1000",
            "COCKPIT_KUBE_TIMEOUT": "2"}
    r = replicas(w, "W", ["checkout", "-n", "shop", "--auto-rollback", "--source", "apiproxy", "--no-probe", *FAST,
                          *le(duration=6, deadline=4, retry=0.25), "--duration", "180"], env=slow)
    r.wait_for(r"W is the leader")
    r.wait_for(r"ROLLBACK_NOW shop/checkout — error rate", timeout=30)
    assert "TRIGGER" not in r.out
    proxy.add("status", method="*", path=".", status=503, times=None)  # the API server goes away
    cut = len(r.lines)
    r.wait_for(r"leader election: lost Lease shop/cockpit-watch-checkout", timeout=20, since=cut)
    r.wait_for(r"INCONCLUSIVE shop/checkout — .*apiproxy stale since", timeout=30, since=cut)
    time.sleep(3)  # it stays up, judging nothing, sending nothing
    assert r.proc.poll() is None, r.out
    after_cut = r.lines[cut:]
    assert not any("TRIGGER" in line or "AUTO-ROLLBACK" in line for line in after_cut), r.out
    assert not patches(w)
    proxy.clear()  # the API answers again
    back = len(r.lines)
    r.wait_for(r"W is the leader", timeout=20, since=back)
    r.wait_for(r"rolled back shop/checkout: revision 3 → 2", timeout=60, since=back)
    assert r.out.count("W is the leader") == 2  # led, lost it with the API, led again
    assert r.stop() == 0
    assert len(patches(w)) == 1
