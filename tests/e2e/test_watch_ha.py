"""The in-cluster watcher, highly available: ``python -m cockpit watch … --auto-rollback
--leader-elect`` replicas as separate PROCESSES against the simulated world over HTTP.

Each replica has its own state directory (as each pod has its own ``emptyDir``); they share
nothing but the API server. Rollback PATCHes are counted at the world (``request_log``), so
"exactly one" is what reached the API server, whoever sent it.

Robust on a slow, loaded machine: the Lease timings are the watcher's own (15 s / 10 s / 0.5 s:
a stall shorter than 10 s never moves the Lease) except where a takeover is what is measured,
and a replica that must not act (or not yet) is given triggers it cannot reach or a countdown
long enough, rather than a race against the test's own pace.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml

from cockpit.world.world import World

ROOT = Path(__file__).resolve().parents[2]
FAST = ["--interval", "0.5", "--window", "2", "--countdown", "1", "--stabilization", "3"]
DEPLOY = "/apis/apps/v1/namespaces/shop/deployments/checkout"
LEADER_LEASE = "/apis/coordination.k8s.io/v1/namespaces/shop/leases/cockpit-watch-checkout"


def le(duration: int = 15, deadline: float = 10, retry: float = 0.5) -> list[str]:
    """``--leader-elect`` with these Lease timings; the defaults are the watcher's own."""
    return ["--leader-elect", "--lease-duration", str(duration), "--renew-deadline", str(deadline),
            "--retry-period", str(retry)]


# Settings under which a replica never triggers by itself (the thresholds are out of reach).
NO_TRIGGERS = {f"COCKPIT_DECISION__TRIGGERS__{k}": "1000"
               for k in ("ERROR_CONSECUTIVE", "SUCCESS_MIN_CHECKS", "HEALTH_FAILURES", "P95_CONSECUTIVE")}


def stamp(microtime: str) -> float:
    """A Lease MicroTime as epoch seconds."""
    return datetime.strptime(microtime, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp()


class Replica:
    """One watcher process; its output is collected line by line as it comes."""

    def __init__(self, world: World, tmp: Path, identity: str, args: list[str], env: dict[str, str] | None = None):
        self.identity = identity
        self.lines: list[str] = []
        self.state = tmp / f"state-{identity}"
        e = dict(os.environ, XDG_STATE_HOME=str(self.state), XDG_CONFIG_HOME=str(tmp / "cfg"),
                 NO_COLOR="1", PYTHONPATH=os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]),
                 COCKPIT_LOCK_DIR=str(tmp / "locks"), **(env or {}))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cockpit", "--kubeconfig", str(world.kubeconfig_path), "watch", *args,
             "--identity", identity],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=e, cwd=str(tmp))
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def out(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, pattern: str, timeout: float = 30.0, since: int = 0) -> str:
        """The first line (from line ``since`` on) matching ``pattern``; fails after ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines)[since:]:
                if re.search(pattern, line):
                    return line
            if self.proc.poll() is not None and not self._reader.is_alive():
                break
            time.sleep(0.02)
        raise AssertionError(f"{self.identity}: no line matching {pattern!r} within {timeout}s:\n{self.out}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=5)
        return code


@pytest.fixture
def replicas(tmp_path):
    started: list[Replica] = []

    def start(world: World, identity: str, args: list[str], **kw) -> Replica:
        r = Replica(world, tmp_path, identity, args, **kw)
        started.append(r)
        return r

    yield start
    for r in started:
        if r.proc.poll() is None:
            r.proc.kill()
            r.proc.wait(timeout=10)


@pytest.fixture
def bad_world(world):
    return world("bad-image", speed=10, services=True)


def patches(world: World, path: str = DEPLOY) -> list[tuple[str, str]]:
    return [r for r in world.request_log if r == ("PATCH", path)]


def lease(world: World, name: str = "cockpit-watch-checkout") -> dict:
    obj = world.store.get("leases", "shop", name)
    assert obj is not None, f"no Lease shop/{name}"
    return obj


def live_image(world: World) -> str:
    dep = world.store.get("deployments", "shop", "checkout")
    return dep["spec"]["template"]["spec"]["containers"][0]["image"]


def watch_args(*extra: str) -> list[str]:
    return ["checkout", "-n", "shop", "--auto-rollback", *FAST, *extra]


def test_two_replicas_on_bad_image_send_exactly_one_rollback(bad_world, replicas) -> None:
    # A's long countdown: B (started later, so a few checks behind) sees the trigger fire as a
    # standby before A's rollback lands, however slowly B started
    a = replicas(bad_world, "A", watch_args(*le(), "--countdown", "15", "--duration", "120"))
    a.wait_for(r"A is the leader")
    b = replicas(bad_world, "B", watch_args(*le(), "--duration", "120"))
    b.wait_for(r"A leads .*B stands by")
    b.wait_for(r"\(standby\) TRIGGER .* — A leads and acts", timeout=40)
    a.wait_for(r"rolled back shop/checkout: revision 3 → 2", timeout=60)
    a.wait_for(r"VERIFIED shop/checkout", timeout=30)
    b.wait_for(r"revision changed: 3 → 4", timeout=20)  # the standby saw it happen
    assert b.stop() == 0 and a.stop() == 0
    assert len(patches(bad_world)) == 1, bad_world.request_log
    assert live_image(bad_world) == "registry.example/shop/checkout:1.4.2"
    assert a.out.count("AUTO-ROLLBACK in") == 1 and "AUTO-ROLLBACK in" not in b.out
    assert "(standby) TRIGGER" in b.out and "A leads and acts" in b.out
    # the incident is recorded on the leader's Lease, done, by A
    incidents = json.loads(lease(bad_world)["metadata"]["annotations"]["cockpit.io/watch-incidents"])
    rec = incidents["shop/checkout"]
    assert rec["state"] == "done" and rec["by"] == "A" and rec["from_revision"] == 3 and rec["to_revision"] == 2
    assert rec["incident"].startswith("shop/checkout@3:")
    # only the leader journaled (the incident, its trigger and the rollback); the standby nothing
    (journal,) = a.state.rglob("*.jsonl")
    types = [json.loads(line)["type"] for line in journal.read_text().splitlines()]
    assert types.count("trigger") == 1 and types.count("intent") == 1 and "outcome" in types
    assert not list(b.state.rglob("*.jsonl"))
    # the target's incident Lease was taken while acting and released after
    assert ("POST", "/apis/coordination.k8s.io/v1/namespaces/shop/leases") in bad_world.request_log
    assert bad_world.store.get("leases", "shop", "cockpit-incident-checkout") is None


def test_kill_9_of_the_leader_before_the_trigger_the_standby_takes_over_and_rolls_back_once(bad_world, replicas):
    # A can never trigger, so it is always killed before its trigger; B keeps the default triggers
    # and must roll back, once. Short Lease timings: the takeover is what is measured.
    duration, retry = 3, 0.25
    short = le(duration=duration, deadline=2, retry=retry)
    a = replicas(bad_world, "A", watch_args(*short, "--duration", "90"), env=NO_TRIGGERS)
    a.wait_for(r"A is the leader")
    b = replicas(bad_world, "B", watch_args(*short, "--duration", "90"))
    b.wait_for(r"A leads .*B stands by")
    a.proc.kill()  # SIGKILL: no release, the Lease must expire
    a.proc.wait(timeout=10)
    left = lease(bad_world)["spec"]  # as A left it: its last renewal
    assert left["holderIdentity"] == "A", left
    assert "TRIGGER" not in a.out and not patches(bad_world)
    b.wait_for(r"B is the leader", timeout=20)
    took = lease(bad_world)["spec"]
    assert took["holderIdentity"] == "B" and took["leaseTransitions"] == left["leaseTransitions"] + 1, took
    b.wait_for(r"rolled back shop/checkout: revision 3 → 2", timeout=40)
    b.wait_for(r"VERIFIED shop/checkout", timeout=30)
    assert b.stop() == 0
    # When B took the Lease, by the Lease's own stamps (B's acquireTime, A's last renewTime; one
    # machine, one wall clock), not by when this test got to see it: after the lease expired
    # (less B's one GET in flight), and within the documented bound — B sees A's last renewal
    # within 1.2 retries and checks every 1.2 retries: lease + 2 × 1.2 × retry — plus 1.5 s for
    # a loaded machine's scheduling.
    after = stamp(took["acquireTime"]) - stamp(left["renewTime"])
    assert duration - 1 <= after <= duration + 2 * 1.2 * retry + 1.5, \
        f"the standby took the Lease {after:.2f}s after the leader's last renewal (lease {duration}s)"
    assert len(patches(bad_world)) == 1
    spec = lease(bad_world)["spec"]
    assert spec["leaseTransitions"] >= 1
    assert live_image(bad_world) == "registry.example/shop/checkout:1.4.2"


def test_sigterm_releases_the_lease_at_once(bad_world, replicas) -> None:
    # a 30 s lease, renewed by A until SIGTERM: if B took over within 15 s it was released, not
    # expired (half the lease leaves a loaded machine room and still rules the expiry out)
    a = replicas(bad_world, "A", watch_args(*le(duration=30, deadline=20, retry=0.25), "--duration", "60"),
                 env=NO_TRIGGERS)
    a.wait_for(r"A is the leader")
    b = replicas(bad_world, "B", watch_args(*le(duration=30, deadline=20, retry=0.25), "--duration", "60"),
                 env=NO_TRIGGERS)
    b.wait_for(r"A leads .*B stands by")
    sent = time.monotonic()
    assert a.stop(signal.SIGTERM) == 0
    exited = time.monotonic() - sent
    assert "leader election: released Lease shop/cockpit-watch-checkout" in a.out
    assert "stopped (SIGTERM)" in a.out
    b.wait_for(r"B is the leader", timeout=20)
    took_over = time.monotonic() - sent
    assert exited < 15 and took_over < 15, (exited, took_over)
    assert lease(bad_world)["spec"]["holderIdentity"] == "B"
    b.stop()
    assert "leader election: released" in b.out
    spec = lease(bad_world)["spec"]
    assert "holderIdentity" not in spec and spec["leaseDurationSeconds"] == 1
    assert not patches(bad_world)


FLEET = """\
name: fleet
description: three web deployments; pay 2.0 went bad
namespaces: [shop]
deployments:
  - name: {name}
    namespace: shop
    replicas: 2
    port: 8080
    labels: {{tier: web}}
    revisions:
      - {{image: registry.example/shop/{name}:1.0, error_rate: 0.002, latency_ms: {{p50: 20, p95: 60}}, age: 2d}}
      - {{image: registry.example/shop/{name}:2.0, error_rate: {bad}, latency_ms: {{p50: 20, p95: 60}}, age: 10m}}
"""


def fleet_scenario(tmp_path: Path) -> Path:
    docs = [yaml.safe_load(FLEET.format(name=n, bad=0.3 if n == "pay" else 0.002)) for n in ("cart", "pay", "search")]
    doc = dict(docs[0], deployments=[d["deployments"][0] for d in docs])
    doc["deployments"].append({"name": "admin", "namespace": "shop", "replicas": 1, "port": 8080, "labels": {"tier": "ops"},
                               "revisions": [{"image": "registry.example/shop/admin:1.0", "age": "2d"},
                                             {"image": "registry.example/shop/admin:2.0", "error_rate": 0.4, "age": "10m"}]})
    path = tmp_path / "fleet.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def test_watch_selector_rolls_back_only_the_target_whose_verdict_triggers(world, replicas, tmp_path) -> None:
    w = world(str(fleet_scenario(tmp_path)), speed=10, services=True)
    # Only the error-rate trigger (5 consecutive checks over 5 %) may act here: the success-rate
    # and health triggers count single probe blips, which a loaded CI machine can produce on a
    # healthy service; which target triggers is what this test is about.
    calm = {"COCKPIT_DECISION__TRIGGERS__SUCCESS_MIN_CHECKS": "1000", "COCKPIT_DECISION__TRIGGERS__HEALTH_FAILURES": "1000",
            "COCKPIT_DECISION__TRIGGERS__P95_CONSECUTIVE": "1000"}
    r = replicas(w, "F", ["-l", "tier=web", "-n", "shop", "--auto-rollback", *FAST, *le(), "--duration", "25"], env=calm)
    r.wait_for(r"watching 3 deployments: shop/cart, shop/pay, shop/search")
    r.wait_for(r"\[shop/pay\] .*rolled back shop/pay: revision 2 → 1", timeout=40)
    r.wait_for(r"\[shop/pay\] .*VERIFIED shop/pay", timeout=30)
    r.wait_for(r"\[shop/cart\] .*OK shop/cart")
    assert r.stop() == 0
    others = "\n".join(line for line in r.lines if not line.startswith("[shop/pay]"))
    assert "TRIGGER" not in others, r.out
    patched = [p for m, p in w.request_log if m == "PATCH" and "/deployments/" in p]
    assert patched == ["/apis/apps/v1/namespaces/shop/deployments/pay"], (patched, r.out)
    # admin (tier=ops, also bad) was never watched, so never touched
    assert "shop/admin" not in r.out
    for name in ("cart", "search", "admin"):
        dep = w.store.get("deployments", "shop", name)
        assert dep["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":2.0")
    from backends.kubernetes.leader import lease_name_for

    incidents = json.loads(lease(w, lease_name_for(selector="tier=web"))["metadata"]["annotations"]
                           ["cockpit.io/watch-incidents"])
    assert list(incidents) == ["shop/pay"] and incidents["shop/pay"]["state"] == "done"


def test_selector_that_matches_nothing_is_exit_3_naming_what_was_searched(bad_world, replicas) -> None:
    r = replicas(bad_world, "N", ["-l", "tier=nothing", "-n", "shop", "--auto-rollback"])
    assert r.proc.wait(timeout=30) == 3
    r._reader.join(timeout=5)
    assert r.lines == ["cockpit: Not found: no deployment matches -l tier=nothing in namespace shop "
                       "(kubectl get deploy --show-labels shows the labels there are)"]


def test_an_operator_holding_the_target_lease_keeps_the_watch_from_acting(bad_world, replicas) -> None:
    from backends.kubernetes.backend import connect
    from backends.kubernetes.lease import LeaseLocker
    from cockpit.model import Target

    operator = LeaseLocker(connect(str(bad_world.kubeconfig_path)), duration=30).acquire(
        Target("checkout", "shop"), actor="alice@bastion-1")
    try:
        r = replicas(bad_world, "W", watch_args(*le(), "--duration", "40"))
        r.wait_for(r"TRIGGER .* not rolling back: .*alice@bastion-1", timeout=30)
        time.sleep(2)  # several checks while the trigger stands: said once, nothing sent
        assert not patches(bad_world)
        assert sum("not rolling back" in line for line in r.lines) == 1
    finally:
        operator.release()
    r.wait_for(r"rolled back shop/checkout: revision 3 → 2", timeout=30)
    assert r.stop() == 0
    assert len(patches(bad_world)) == 1


def test_print_manifest_applies_against_the_world_with_real_kubectl(world, kubectl, tmp_path) -> None:
    from tests.fixtures.world import kubectl_binaries

    w = world("bad-image", speed=50)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    p = subprocess.run([sys.executable, "-m", "cockpit", "watch", "--print-manifest", "-n", "shop", "--image",
                        "registry.example/cockpit:0.1.0", "checkout", "--interval", "2"],
                       capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 0, p.stderr
    docs = [d for d in yaml.safe_load_all(p.stdout) if d]
    assert [d["kind"] for d in docs] == ["ServiceAccount", "Role", "RoleBinding", "Deployment"]
    manifest = tmp_path / "watch.yaml"
    manifest.write_text(p.stdout)
    binaries = [b for i, b in kubectl_binaries() if i in ("dispatcher", "1.33")]
    if not binaries:
        pytest.skip("no kubectl >= 1.30 on this machine (client-side apply needs /openapi/v3)")
    for binary in binaries:
        k = kubectl(w, binary)
        out = k.ok("apply", "-f", str(manifest))
        for kind in ("serviceaccount/cockpit-watch", "role.rbac.authorization.k8s.io/cockpit-watch",
                     "rolebinding.rbac.authorization.k8s.io/cockpit-watch", "deployment.apps/cockpit-watch"):
            assert re.search(rf"^{re.escape(kind)} (created|unchanged|configured)$", out, re.M), out
    k.ok("-n", "shop", "rollout", "status", "deploy/cockpit-watch", "--timeout=30s")
    role = w.store.get("roles", "shop", "cockpit-watch")
    verbs = {(g, r): set(rule["verbs"]) for rule in role["rules"] for g in rule["apiGroups"] for r in rule["resources"]}
    assert verbs[("apps", "deployments")] == {"get", "list", "watch", "patch"}
    assert verbs[("coordination.k8s.io", "leases")] >= {"get", "create", "update"}
    assert all("patch" not in v for (g, r), v in verbs.items() if (g, r) != ("apps", "deployments"))
    assert not any("*" in v or "*" in r for (g, r), v in verbs.items())
    dep = w.store.get("deployments", "shop", "cockpit-watch")
    c = dep["spec"]["template"]["spec"]["containers"][0]
    assert dep["spec"]["replicas"] == 2 and dep["spec"]["template"]["spec"]["serviceAccountName"] == "cockpit-watch"
    assert c["args"][:2] == ["watch", "checkout"] and "--leader-elect" in c["args"] and "--auto-rollback" in c["args"]
    assert c["args"][c["args"].index("--interval") + 1] == "2"
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz" and c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert c["resources"]["requests"] == {"cpu": "50m", "memory": "96Mi"}
    rb = w.store.get("rolebindings", "shop", "cockpit-watch")
    assert rb["roleRef"]["name"] == "cockpit-watch" and rb["subjects"][0]["name"] == "cockpit-watch"


def _seed_incident(world: World, state: str, by: str = "watch-0_dead", attempt: int | None = None) -> str:
    """The leader Lease as a dead leader left it: expired, with this incident recorded."""
    from backends.kubernetes.backend import connect
    from backends.kubernetes.lease import microtime
    from cockpit.model import Target

    kube = connect(str(world.kubeconfig_path))
    live = next(r for r in kube.history(Target("checkout", "shop")) if r.live)
    incident = f"shop/checkout@{live.number}:{live.template_hash}"
    record = {"shop/checkout": {"incident": incident, "state": state, "by": by, "at": "2026-12-02T06:41:00Z",
                                "from_revision": live.number, "to_revision": 2,
                                **({"attempt": attempt} if attempt is not None else {})}}
    kube.t.request("POST", "/apis/coordination.k8s.io/v1/namespaces/shop/leases", body={
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": "cockpit-watch-checkout", "namespace": "shop",
                     "annotations": {"cockpit.io/watch-incidents": json.dumps(record)}},
        "spec": {"holderIdentity": by, "leaseDurationSeconds": 1, "renewTime": microtime(time.time() - 60),
                 "leaseTransitions": 3}})
    return incident


def test_an_incident_the_lease_says_is_done_is_not_rolled_back_again(bad_world, replicas) -> None:
    _seed_incident(bad_world, "done")
    r = replicas(bad_world, "W", watch_args(*le(), "--duration", "16"))  # then it stops by itself
    r.wait_for(r"W is the leader")
    r.wait_for(r"TRIGGER .* — watch-0_dead already rolled back this incident at 2026-12-02T06:41:00Z "
               r"\(to revision 2\); not again", timeout=30)
    assert r.proc.wait(timeout=60) == 0
    assert not patches(bad_world) and "AUTO-ROLLBACK" not in r.out


def test_an_incident_a_dead_leader_was_acting_on_is_taken_over_once(bad_world, replicas) -> None:
    _seed_incident(bad_world, "acting")
    r = replicas(bad_world, "W", watch_args(*le(), "--duration", "40"))
    r.wait_for(r"watch-0_dead started the rollback of this incident at 2026-12-02T06:41:00Z and stopped; "
               r"revision 3 is still live, so this leader takes it over", timeout=30)
    r.wait_for(r"rolled back shop/checkout: revision 3 → 2", timeout=30)
    assert r.stop() == 0
    assert len(patches(bad_world)) == 1
    rec = json.loads(lease(bad_world)["metadata"]["annotations"]["cockpit.io/watch-incidents"])["shop/checkout"]
    assert rec["state"] == "done" and rec["by"] == "W" and rec["attempt"] == 2  # the second leader to start it
    spec = lease(bad_world)["spec"]
    assert spec["leaseTransitions"] == 4 and "holderIdentity" not in spec  # took it over (+1), then released


@pytest.mark.parametrize("last", ["watch-0_dead", "W"])  # "W": a crash-looping pod restarts with its name
def test_a_rollback_three_leaders_started_and_never_finished_is_left_to_a_person(bad_world, replicas, last) -> None:
    _seed_incident(bad_world, "acting", by=last, attempt=3)
    r = replicas(bad_world, "W", watch_args(*le(), "--duration", "16"))  # then it stops by itself
    r.wait_for(r"TRIGGER .* — 3 leaders started the rollback of this incident and stopped before it took effect "
               rf"\(the last: {last} at 2026-12-02T06:41:00Z\); not again — a person decides", timeout=30)
    assert r.proc.wait(timeout=60) == 0
    assert not patches(bad_world) and "AUTO-ROLLBACK" not in r.out
    assert r.out.count("leaders started the rollback") == 1


def test_probes_say_alive_ready_and_who_leads(bad_world, replicas) -> None:
    import socket
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = replicas(bad_world, "P", watch_args(*le(), "--health-port", str(port), "--duration", "60"), env=NO_TRIGGERS)
    r.wait_for(r"P is the leader")
    r.wait_for(r"ROLLBACK_NOW shop/checkout", timeout=20)

    def get(path: str) -> tuple[int, dict]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    import urllib.error

    code, doc = get("/readyz")
    assert code == 200 and doc["ok"] and doc["leader"] is True and doc["holder"] == "P" and doc["identity"] == "P"
    assert doc["targets"]["shop/checkout"] < 5
    code, doc = get("/healthz")
    assert code == 200 and doc["ok"]
    assert get("/nope")[0] == 404
    assert r.stop() == 0


@pytest.mark.parametrize("args, code, says", [
    (["-l", "tier in (web", "-n", "shop"], 2, "cockpit: Bad configuration: -l tier in (web: not a label selector the API accepts"),
    (["checkout", "-n", "shop", "--context", "nope"], 2,
     "cockpit: Bad configuration: context 'nope' is not in the kubeconfig; contexts: cockpit-drill"),
    (["nope", "-n", "shop"], 3, "cockpit: Not found: "),
])
def test_bad_targets_are_one_line_with_their_exit_code(bad_world, replicas, args, code, says) -> None:
    r = replicas(bad_world, "X", [*args, "--auto-rollback", "--leader-elect"])
    assert r.proc.wait(timeout=30) == code
    r._reader.join(timeout=5)
    assert len(r.lines) == 1 and r.lines[0].startswith(says), r.lines
    assert not [m for m, _ in bad_world.request_log if m in ("POST", "PUT", "PATCH", "DELETE")]  # nothing written
