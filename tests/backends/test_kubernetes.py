"""The Kubernetes backend against the simulated world over real HTTP, over both transports.

Nothing is mocked: the world is a real HTTP server; ``kubectl`` cross-checks agree with us.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from backends.kubernetes import revisions as rv
from backends.kubernetes.backend import KubeBackend, connect
from cockpit.world.world import World
from cockpit.errors import ConflictError, NotFoundError, ReadonlyError, UnreachableError
from cockpit.model import RollbackResult, Target

CHECKOUT = Target("checkout", "shop")
KUBECTL = shutil.which("kubectl")


@pytest.fixture
def bad_image(tmp_path: Path) -> Iterator[tuple[World, Path]]:
    with World("bad-image", speed=60.0) as world:
        yield world, world.write_kubeconfig(tmp_path / "kubeconfig")


@pytest.fixture(params=["light", "official"])
def kube(request: pytest.FixtureRequest, bad_image: tuple[World, Path], monkeypatch: pytest.MonkeyPatch) -> Iterator[KubeBackend]:
    if request.param == "official":
        monkeypatch.setenv("COCKPIT_KUBE_CLIENT", "official")
    backend = connect(str(bad_image[1]))
    assert type(backend.t).__name__ == ("OfficialTransport" if request.param == "official" else "HttpTransport")
    yield backend
    backend.close()


def live(history: list) -> int:
    return next(r.number for r in history if r.live)


def test_history_lists_revisions_live_marked(kube: KubeBackend) -> None:
    hist = kube.history(CHECKOUT)
    assert [r.number for r in hist] == [1, 2, 3]
    assert live(hist) == 3
    assert hist[2].images[0].endswith(":1.5.0") and hist[1].images[0].endswith(":1.4.2")
    assert all(r.change_cause and r.replicaset.startswith("checkout-") and r.template_hash for r in hist)


def test_rollback_renumbers_like_the_controller_and_completes(kube: KubeBackend) -> None:
    out = kube.rollback(CHECKOUT)
    assert (out.result, out.from_revision, out.to_revision) == (RollbackResult.ROLLED_BACK, 3, 2)
    progress = list(kube.watch_progress(CHECKOUT, timeout=60))
    assert progress[-1].complete and not any(p.failed for p in progress)
    hist = kube.history(CHECKOUT)
    # revision 2's ReplicaSet became revision 4; number 2 left the history
    assert [r.number for r in hist] == [1, 3, 4] and live(hist) == 4
    assert hist[-1].images[0].endswith(":1.4.2")
    d = kube.get_deployment(CHECKOUT)
    assert d["metadata"]["annotations"][rv.CHANGE_CAUSE].startswith("release 1.4.2")
    # rolling back to the live template again is kubectl's "skipped rollback"
    again = kube.rollback(CHECKOUT, 4)
    assert again.result is RollbackResult.SKIPPED and "already matches revision 4" in again.message


def test_unknown_revision_lists_existing(kube: KubeBackend) -> None:
    with pytest.raises(NotFoundError, match="revisions that exist: 1, 2, 3"):
        kube.rollback(CHECKOUT, 9)
    with pytest.raises(NotFoundError, match="deployment nope not found in namespace shop"):
        kube.history(Target("nope", "shop"))


def test_paused_deployment_is_refused_then_resumed(kube: KubeBackend) -> None:
    kube.pause(CHECKOUT)
    assert kube.deployment(CHECKOUT).paused
    with pytest.raises(ConflictError, match="paused"):
        kube.rollback(CHECKOUT, 1)
    kube.resume(CHECKOUT)
    assert not kube.deployment(CHECKOUT).paused
    assert kube.rollback(CHECKOUT, 1).result is RollbackResult.ROLLED_BACK


def test_diff_pods_events_scale_set_image(kube: KubeBackend) -> None:
    diff = kube.diff(CHECKOUT, 2)
    assert any(line.startswith("-") and "1.5.0" in line for line in diff.lines)
    assert any(line.startswith("+") and "1.4.2" in line for line in diff.lines)
    assert kube.diff(CHECKOUT, 3).empty
    pods = kube.pods(CHECKOUT)
    assert pods and all(p.ready and p.phase == "Running" for p in pods)
    assert any(e.reason == "ScalingReplicaSet" for e in kube.events(CHECKOUT))
    kube.scale(CHECKOUT, 2)
    assert kube.deployment(CHECKOUT).replicas == 2
    kube.set_image(CHECKOUT, "checkout", "registry.example/shop/checkout:1.5.1")
    assert kube.deployment(CHECKOUT).images == ("registry.example/shop/checkout:1.5.1",)
    with pytest.raises(NotFoundError, match="containers: checkout"):
        kube.set_image(CHECKOUT, "sidecar", "x:1")
    assert any(d.name == "checkout" and d.namespace == "shop" for d in kube.list_deployments())


def test_readonly_sends_zero_writes(bad_image: tuple[World, Path]) -> None:
    world, kubeconfig = bad_image
    for client in ("light", "official"):
        os.environ["COCKPIT_KUBE_CLIENT"] = client
        try:
            ro = connect(str(kubeconfig), readonly=True)
        finally:
            os.environ.pop("COCKPIT_KUBE_CLIENT", None)
        world.clear_request_log()
        attempts = [
            lambda: ro.rollback(CHECKOUT), lambda: ro.rollback(CHECKOUT, 1), lambda: ro.scale(CHECKOUT, 0),
            lambda: ro.set_image(CHECKOUT, "checkout", "evil:1"), lambda: ro.pause(CHECKOUT),
            lambda: ro.resume(CHECKOUT), lambda: ro.switch_selector("shop", "checkout", {"app": "x"}),
            # below the backend's own checks, the transport refuses too
            lambda: ro.t.request("PATCH", "/apis/apps/v1/namespaces/shop/deployments/checkout", body={}),
            lambda: ro.t.request("DELETE", "/apis/apps/v1/namespaces/shop/deployments/checkout"),
        ]
        for attempt in attempts:
            with pytest.raises(ReadonlyError):
                attempt()
        assert ro.history(CHECKOUT)  # reads still work
        methods = {m for m, _ in world.request_log}
        assert methods == {"GET"}, f"{client}: {world.request_log}"
        assert set(world.request_counts) == {"GET"}
        ro.close()


def test_unreachable_api_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    kc = tmp_path / "kc"
    kc.write_text(f"current-context: c\nclusters:\n- name: k\n  cluster: {{server: 'http://127.0.0.1:{port}'}}\n"
                  "contexts:\n- name: c\n  context: {cluster: k, user: u}\nusers:\n- name: u\n  user: {}\n")
    with pytest.raises(UnreachableError, match=f"127.0.0.1:{port} did not answer"):
        connect(str(kc), timeout=2).history(CHECKOUT)


@pytest.mark.kubectl
@pytest.mark.skipif(KUBECTL is None, reason="no kubectl on this machine")
def test_our_rollback_and_kubectls_agree(bad_image: tuple[World, Path]) -> None:
    world, kubeconfig = bad_image
    kube = connect(str(kubeconfig))

    def kubectl(*args: str) -> str:
        return subprocess.run([KUBECTL, "--kubeconfig", str(kubeconfig), "-n", "shop", *args],
                              capture_output=True, text=True, check=True, timeout=60).stdout

    kube.rollback(CHECKOUT, 1)
    list(kube.watch_progress(CHECKOUT, timeout=60))
    theirs = [line.split()[0] for line in kubectl("rollout", "history", "deploy/checkout").splitlines()[2:] if line.strip()]
    assert theirs == [str(r.number) for r in kube.history(CHECKOUT)] == ["2", "3", "4"]
    kubectl("rollout", "undo", "deploy/checkout")  # kubectl picks "previous" = second highest: 3
    kubectl("rollout", "status", "deploy/checkout", "--timeout=60s")
    hist = kube.history(CHECKOUT)
    assert [r.number for r in hist] == [2, 4, 5] and hist[-1].images[0].endswith(":1.5.0")
    # and our "previous" is the same revision kubectl would pick
    assert kube.rollback(CHECKOUT).to_revision == 4


def cockpit(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cockpit", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


def test_cli_history_rollback_and_errors(bad_image: tuple[World, Path], tmp_path: Path) -> None:
    _, kubeconfig = bad_image
    env = {"XDG_STATE_HOME": str(tmp_path / "state")}
    out = cockpit("history", "checkout", "--kubeconfig", str(kubeconfig), "-n", "shop", env=env)
    assert out.returncode == 0 and out.stdout.splitlines()[0].split() == ["REVISION", "AGE", "IMAGES", "CHANGE-CAUSE"]
    assert "3 *" in out.stdout
    # flags before the subcommand work too; an unknown revision lists those that exist
    bad = cockpit("--kubeconfig", str(kubeconfig), "-n", "shop", "rollback", "checkout", "--to-revision", "7", "--yes", env=env)
    assert bad.returncode == 3 and "revisions that exist: 1, 2, 3" in bad.stderr and "Traceback" not in bad.stderr
    missing = cockpit("status", "ghost", "--kubeconfig", str(kubeconfig), "-n", "shop", env=env)
    assert missing.returncode == 3 and missing.stderr.count("\n") == 1
    ro = cockpit("rollback", "checkout", "--readonly", "--yes", "--kubeconfig", str(kubeconfig), "-n", "shop", env=env)
    assert ro.returncode == 5 and "readonly" in ro.stderr
    journal = tmp_path / "j.jsonl"
    ok = cockpit("rollback", "checkout", "--yes", "--journal", str(journal), "-o", "json",
                 "--kubeconfig", str(kubeconfig), "-n", "shop", env=env)
    assert ok.returncode == 0, ok.stderr
    import json

    doc = json.loads(ok.stdout)
    assert doc["outcome"]["to_revision"] == 2 and doc["progress"]["complete"] is True
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    types = [r["type"] for r in records]
    # the one rollback path: plan → evidence → revision chosen → intent → patch → outcome → wait
    order = ["incident_opened", "runbook", "run_started", "evidence", "revision_chosen", "intent", "outcome",
             "step_finished", "run_finished"]
    assert [t for t in types if t in order] == order
    assert types[-1] == "incident_closed"
    chosen = next(r for r in records if r["type"] == "revision_chosen")
    assert chosen["images"] == ["registry.example/shop/checkout:1.4.2"] and chosen["from_revision"] == 3
    # the report names the images whole (never one letter each)
    rep = cockpit("report", str(journal), env=env)
    assert rep.returncode == 0, rep.stderr
    assert "3 → 2 (registry\\.example/shop/checkout:1.4.2)" in rep.stdout  # escaped for Markdown (no autolink)
    # evidence before the rollback: pod logs of the bad revision, events, history, a manifest that verifies
    from cockpit.evidence import verify

    ev = next(r for r in records if r["type"] == "evidence")
    names = [f["name"] for f in ev["files"]]
    assert ev["errors"] == [] and "events/events.json" in names and "rollout/history.json" in names
    assert sum(n.startswith("logs/checkout-") for n in names) == 4
    assert verify(ev["dir"]) == []


def test_cli_unreachable_and_bad_kubeconfig(tmp_path: Path) -> None:
    kc = tmp_path / "kc"
    kc.write_text("clusters: [\n")
    out = cockpit("history", "x", "--kubeconfig", str(kc))
    assert out.returncode == 2 and "not valid YAML" in out.stderr and "Traceback" not in out.stderr


def test_switch_selector_blue_green(kube: KubeBackend) -> None:
    before = kube.t.request("GET", "/api/v1/namespaces/shop/services/checkout")["spec"]["selector"]
    previous = kube.switch_selector("shop", "checkout", {"app": "checkout", "track": "green"})
    assert previous == before
    after = kube.t.request("GET", "/api/v1/namespaces/shop/services/checkout")["spec"]["selector"]
    assert after == {"app": "checkout", "track": "green"}
    with pytest.raises(NotFoundError):
        kube.switch_selector("shop", "no-such-service", {"app": "x"})
