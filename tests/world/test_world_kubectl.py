"""Real kubectl against the simulated world: every build on this machine must drive it.

Parametrised over ``kubectl_binaries()``: the gcloud dispatcher (/usr/bin/kubectl, which picks
a kubectl.1.xx by the server's /version), kubectl.1.27, kubectl.1.33 and Debian's 1.20
(``kubernetes-client``, unpacked without installing).
"""
from __future__ import annotations

import json
import re
import time

import pytest
import yaml

from tests.fixtures.world import Kubectl, kubectl_binaries

pytestmark = [pytest.mark.kubectl, pytest.mark.xdist_group("kubectl")]  # one worker downloads Debian's kubectl once

BINARIES = kubectl_binaries()


@pytest.fixture(params=[b for _, b in BINARIES], ids=[i for i, _ in BINARIES])
def binary(request: pytest.FixtureRequest) -> str:
    return request.param


def wait_for(fn, timeout: float = 20.0, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def table(text: str) -> list[list[str]]:
    return [re.split(r"\s{2,}", line.strip()) for line in text.strip().splitlines()]


def test_get_tables_yaml_json_and_describe(world, kubectl, binary: str) -> None:
    w = world("healthy", speed=100)
    k: Kubectl = kubectl(w, binary)
    rows = table(k.ok("get", "deployments"))
    assert rows[0] == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert ["web", "3/3", "3", "3"] == rows[[r[0] for r in rows].index("web")][:4]
    rows = table(k.ok("get", "deploy", "-o", "wide"))
    assert rows[0][:8] == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"]
    assert "registry.example/web:2.4.0" in rows[[r[0] for r in rows].index("web")]
    rows = table(k.ok("get", "rs", "-l", "app=web"))
    assert rows[0] == ["NAME", "DESIRED", "CURRENT", "READY", "AGE"]
    assert sorted(r[1:4] for r in rows[1:]) == [["0", "0", "0"], ["3", "3", "3"]]
    rows = table(k.ok("get", "pods", "-l", "app=web"))
    assert rows[0] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert len(rows) == 4 and all(r[1:4] == ["1/1", "Running", "0"] for r in rows[1:])
    rows = table(k.ok("get", "deploy", "-A"))
    assert rows[0][:2] == ["NAMESPACE", "NAME"]
    assert k.ok("get", "deploy", "web", "-o", "name").strip() == "deployment.apps/web"

    dep = yaml.safe_load(k.ok("get", "deploy", "web", "-o", "yaml"))
    assert dep["kind"] == "Deployment" and dep["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
    lst = json.loads(k.ok("get", "rs", "-o", "json", "-l", "app=web"))
    assert lst["kind"] == "List" and len(lst["items"]) == 2
    assert {i["metadata"]["annotations"]["deployment.kubernetes.io/revision"] for i in lst["items"]} == {"1", "2"}
    pods = json.loads(k.ok("get", "pods", "-o", "json", "--field-selector", "status.phase=Running"))
    assert len(pods["items"]) == 5

    out = k.ok("describe", "deployment", "web")
    assert re.search(r"Replicas:\s+3 desired \| 3 updated \| 3 total \| 3 available \| 0 unavailable", out)
    assert re.search(r"RollingUpdateStrategy:\s+25% max unavailable, 25% max surge", out)
    assert re.search(r"NewReplicaSet:\s+web-\w+ \(3/3 replicas created\)", out)
    assert re.search(r"Progressing\s+True\s+NewReplicaSetAvailable", out)
    assert "ScalingReplicaSet" in out and "deployment-controller" in out
    out = k.ok("get", "events", "--field-selector", "involvedObject.kind=Deployment,involvedObject.name=web")
    assert "ScalingReplicaSet" in out and "deployment/web" in out
    err = k.run("get", "deploy", "nope")
    assert err.returncode != 0 and 'deployments.apps "nope" not found' in err.stderr


def test_create_set_image_annotate_scale_history(world, kubectl, binary: str) -> None:
    w = world("healthy", speed=100)
    k: Kubectl = kubectl(w, binary)
    assert k.ok("create", "deployment", "demo", "--image=demo:1", "--replicas=2").strip() == "deployment.apps/demo created"
    assert 'deployment "demo" successfully rolled out' in k.ok("rollout", "status", "deployment/demo", "--timeout=30s")
    # (kubectl 1.27 prints "annotate", the others "annotated")
    assert re.fullmatch(r"deployment.apps/demo annotated?", k.ok("annotate", "deploy/demo", "kubernetes.io/change-cause=first").strip())
    assert k.ok("set", "image", "deployment/demo", "demo=demo:2").strip() == "deployment.apps/demo image updated"
    k.ok("annotate", "deploy/demo", "kubernetes.io/change-cause=second", "--overwrite")
    assert k.ok("rollout", "status", "deploy/demo", "--timeout=30s").rstrip().endswith(
        'deployment "demo" successfully rolled out')
    history = k.ok("rollout", "history", "deployment/demo")
    assert history.splitlines()[0].strip() == "deployment.apps/demo"
    assert [line.split(None, 1) for line in history.splitlines()[2:] if line.strip()] == [
        ["1", "first"], ["2", "second"]]
    rev1 = k.ok("rollout", "history", "deployment/demo", "--revision=1")
    assert "deployment.apps/demo with revision #1" in rev1 and "demo:1" in rev1
    assert k.ok("scale", "deploy/demo", "--replicas=4").strip() == "deployment.apps/demo scaled"
    assert k.ok("get", "deploy", "demo", "-o", "jsonpath={.spec.replicas}") == "4"
    assert wait_for(lambda: k.ok("get", "deploy", "demo", "-o", "jsonpath={.status.readyReplicas}") == "4")
    k.ok("delete", "deployment", "demo")
    assert k.ok("get", "rs", "-l", "app=demo", "-o", "name").strip() == ""


def test_rollout_undo_history_and_skipped(world, kubectl, binary: str) -> None:
    w = world("bad-image", speed=100)
    k: Kubectl = kubectl(w, binary)
    ns = ("-n", "shop")
    hist = k.ok(*ns, "rollout", "history", "deploy/checkout")
    assert "release 1.5.0: new payment client (PR #4502)" in hist
    assert k.ok(*ns, "rollout", "undo", "deploy/checkout").strip() == "deployment.apps/checkout rolled back"
    status = k.run(*ns, "rollout", "status", "deploy/checkout", "--timeout=60s")
    assert status.returncode == 0 and 'deployment "checkout" successfully rolled out' in status.stdout
    hist = k.ok(*ns, "rollout", "history", "deploy/checkout")
    revs = [line.split(None, 1) for line in hist.splitlines()[2:] if line.strip()]
    assert [r[0] for r in revs] == ["1", "3", "4"]
    assert revs[-1][1] == "release 1.4.2: retry budget (PR #4470)"
    assert k.ok(*ns, "get", "deploy", "checkout", "-o",
                "jsonpath={.spec.template.spec.containers[0].image}") == "registry.example/shop/checkout:1.4.2"
    skipped = k.ok(*ns, "rollout", "undo", "deploy/checkout", "--to-revision=4")
    assert skipped.strip() == "deployment.apps/checkout skipped rollback (current template already matches revision 4)"
    assert k.ok(*ns, "rollout", "undo", "deploy/checkout", "--to-revision=1").strip() == \
        "deployment.apps/checkout rolled back"
    k.ok(*ns, "rollout", "status", "deploy/checkout", "--timeout=60s")
    hist = k.ok(*ns, "rollout", "history", "deploy/checkout")
    assert [line.split(None, 1)[0] for line in hist.splitlines()[2:] if line.strip()] == ["3", "4", "5"]
    missing = k.fails(*ns, "rollout", "undo", "deploy/checkout", "--to-revision=99")
    assert "unable to find specified revision 99 in history" in missing.stderr


def test_pause_blocks_rollout_and_undo(world, kubectl, binary: str) -> None:
    w = world("healthy", speed=100)
    k: Kubectl = kubectl(w, binary)
    assert k.ok("rollout", "pause", "deploy/web").strip() == "deployment.apps/web paused"
    k.ok("set", "image", "deploy/web", "web=registry.example/web:9.9.9")
    time.sleep(0.3)
    assert len(k.ok("get", "rs", "-l", "app=web", "-o", "name").split()) == 2
    refused = k.fails("rollout", "undo", "deploy/web")
    assert "you cannot rollback a paused deployment; resume it first with 'kubectl rollout resume" in refused.stderr
    assert k.ok("rollout", "resume", "deploy/web").strip() == "deployment.apps/web resumed"
    k.ok("rollout", "status", "deploy/web", "--timeout=60s")
    assert len(k.ok("get", "rs", "-l", "app=web", "-o", "name").split()) == 3


def test_rollout_status_fails_on_progress_deadline(world, kubectl, binary: str) -> None:
    w = world("crashloop", speed=300)
    k: Kubectl = kubectl(w, binary)
    p = k.run("-n", "payments", "rollout", "status", "deploy/payments", "--timeout=60s")
    assert p.returncode != 0
    assert 'deployment "payments" exceeded its progress deadline' in p.stderr
    rows = table(k.ok("-n", "payments", "get", "pods"))
    crashing = [r for r in rows[1:] if r[2] == "CrashLoopBackOff"]
    assert crashing and all(r[1] == "0/1" and int(r[3].split()[0]) >= 1 for r in crashing)


def test_rollout_undo_on_a_world_idle_past_the_deadline_completes(world, kubectl, binary: str) -> None:
    """Issue 13: a rollback on a world idle for longer than progressDeadlineSeconds failed at
    once with 'exceeded its progress deadline' while the rollout completed seconds later."""
    w = world("healthy", speed=50)
    timed_out: list[str] = []  # every version of web the store ever held, not just what kubectl saw

    def listen(etype: str, resource: str, obj: dict) -> None:
        if resource == "deployments" and obj["metadata"]["name"] == "web":
            timed_out.extend(c["reason"] for c in (obj.get("status") or {}).get("conditions", [])
                             if c["reason"] == "ProgressDeadlineExceeded")

    w.store.add_listener(listen)
    w.clock.fast_forward(3600)  # an hour since web's last rollout completed (the deadline is 600 s)
    k: Kubectl = kubectl(w, binary)
    k.ok("rollout", "undo", "deploy/web")
    k.ok("rollout", "status", "deploy/web", "--timeout=60s")
    dep = w.store.require("deployments", "default", "web")
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.example/web:2.3.0"
    assert timed_out == []


def test_patch_with_a_lone_surrogate_leaves_the_deployment_readable(world, kubectl, binary: str) -> None:
    """Issue 13: the patch was accepted and every later `kubectl get deploy` was a 500."""
    w = world("healthy", speed=100)
    k: Kubectl = kubectl(w, binary)
    k.ok("patch", "deploy/api", "--type=merge", "-p", '{"metadata":{"annotations":{"x":"\\ud800"}}}')
    assert "api" in k.ok("get", "deploy")
    dep = json.loads(k.ok("get", "deploy", "api", "-o", "json"))
    assert dep["metadata"]["annotations"]["x"] == "\ufffd"


def test_dry_run_server_does_not_persist(world, kubectl, binary: str) -> None:
    if binary.endswith("debian-1.20") or "1.20" in binary:
        pytest.skip("kubectl 1.20 checks dry-run support in the protobuf /openapi/v2, which the world does not serve")
    w = world("healthy", speed=100)
    k: Kubectl = kubectl(w, binary)
    k.ok("create", "deployment", "ghost", "--image=ghost:1", "--dry-run=server")
    assert k.run("get", "deploy", "ghost").returncode != 0
    k.ok("scale", "deploy/web", "--replicas=7", "--dry-run=server")
    assert k.ok("get", "deploy", "web", "-o", "jsonpath={.spec.replicas}") == "3"


def test_client_side_apply(world, kubectl, binary: str, tmp_path) -> None:
    if "1.20" in binary or binary.endswith("kubectl.1.27"):
        pytest.skip("kubectl < 1.30 needs the protobuf /openapi/v2 for apply, which the world does not serve")
    w = world("healthy", speed=100)
    k: Kubectl = kubectl(w, binary)
    manifest = tmp_path / "app.yaml"
    doc = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "applied", "namespace": "default"},
           "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "applied"}},
                    "template": {"metadata": {"labels": {"app": "applied"}},
                                 "spec": {"containers": [{"name": "a", "image": "img:1"}]}}}}
    manifest.write_text(yaml.safe_dump(doc))
    assert k.ok("apply", "-f", str(manifest)).strip() == "deployment.apps/applied created"
    doc["spec"]["template"]["spec"]["containers"][0]["image"] = "img:2"
    manifest.write_text(yaml.safe_dump(doc))
    assert k.ok("apply", "-f", str(manifest)).strip() == "deployment.apps/applied configured"
    k.ok("rollout", "status", "deploy/applied", "--timeout=30s")
    hist = k.ok("rollout", "history", "deploy/applied")
    assert [line.split()[0] for line in hist.splitlines()[2:] if line.strip()] == ["1", "2"]
