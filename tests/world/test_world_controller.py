"""The deployment controller's laws (revisions, history, pause, rolling bounds, conditions)."""
from __future__ import annotations

import pytest

from cockpit.world import kube

from .helpers import bare_world, create_deployment, kubectl_style_rollback, revisions, rs_for


def test_new_template_gets_max_plus_one() -> None:
    w = bare_world()
    create_deployment(w, image="web:1")
    w.settle()
    assert revisions(w) == {1: "web:1"}
    w.apply_template("default", "web", "web:2", "release 2")
    w.settle()
    w.apply_template("default", "web", "web:3", "release 3")
    w.settle()
    assert revisions(w) == {1: "web:1", 2: "web:2", 3: "web:3"}
    dep = w.store.require("deployments", "default", "web")
    assert dep["metadata"]["annotations"][kube.REVISION] == "3"
    assert rs_for(w, "web:3")["metadata"]["annotations"][kube.CHANGE_CAUSE] == "release 3"
    assert rs_for(w, "web:2")["metadata"]["annotations"][kube.CHANGE_CAUSE] == "release 2"


def test_rollback_renumbers_and_old_number_leaves_history() -> None:
    w = bare_world()
    create_deployment(w, image="web:1")
    w.settle()
    for i in (2, 3):
        w.apply_template("default", "web", f"web:{i}")
        w.settle()
    kubectl_style_rollback(w, 1)
    w.settle()
    assert revisions(w) == {2: "web:2", 3: "web:3", 4: "web:1"}
    ann = rs_for(w, "web:1")["metadata"]["annotations"]
    assert ann[kube.REVISION_HISTORY] == "1"
    # and again: 2 becomes 5, history of web:1 keeps growing when it comes back
    kubectl_style_rollback(w, 2)
    w.settle()
    kubectl_style_rollback(w, 4)
    w.settle()
    assert revisions(w) == {3: "web:3", 5: "web:2", 6: "web:1"}
    assert rs_for(w, "web:1")["metadata"]["annotations"][kube.REVISION_HISTORY] == "1,4"
    dep = w.store.require("deployments", "default", "web")
    assert dep["metadata"]["annotations"][kube.REVISION] == "6"
    assert dep["status"]["updatedReplicas"] == 4


def test_rollback_by_json_patch_restores_change_cause() -> None:
    w = bare_world()
    create_deployment(w, image="web:1")
    w.apply_template("default", "web", "web:1", "first")
    w.settle()
    w.apply_template("default", "web", "web:2", "second")
    w.settle()
    kubectl_style_rollback(w, 1)
    w.settle()
    dep = w.store.require("deployments", "default", "web")
    assert dep["metadata"]["annotations"][kube.CHANGE_CAUSE] == "first"
    assert rs_for(w, "web:1")["metadata"]["annotations"][kube.CHANGE_CAUSE] == "first"


def test_template_only_rollback_copies_current_change_cause() -> None:
    """As on a real cluster: the deployment's annotations are copied onto the re-used RS."""
    w = bare_world()
    create_deployment(w, image="web:1")
    w.apply_template("default", "web", "web:1", "first")
    w.settle()
    w.apply_template("default", "web", "web:2", "second")
    w.settle()
    w.apply_template("default", "web", "web:1", "second")
    w.settle()
    assert rs_for(w, "web:1")["metadata"]["annotations"][kube.CHANGE_CAUSE] == "second"
    assert revisions(w) == {2: "web:2", 3: "web:1"}


def test_history_limit_prunes_oldest() -> None:
    w = bare_world()
    create_deployment(w, image="web:1", revisionHistoryLimit=2)
    w.settle()
    for i in range(2, 7):
        w.apply_template("default", "web", f"web:{i}")
        w.settle()
    assert revisions(w) == {4: "web:4", 5: "web:5", 6: "web:6"}


def test_history_limit_zero_keeps_only_current() -> None:
    w = bare_world()
    create_deployment(w, image="web:1", revisionHistoryLimit=0)
    w.settle()
    w.apply_template("default", "web", "web:2")
    w.settle()
    assert revisions(w) == {2: "web:2"}


def test_paused_means_no_new_replicaset() -> None:
    w = bare_world()
    create_deployment(w, image="web:1")
    w.settle()
    dep = w.store.require("deployments", "default", "web")
    from cockpit.world.resources import RESOURCES

    w.api.patch(RESOURCES["deployments"], "default", "web", None, {"spec": {"paused": True}},
                "application/strategic-merge-patch+json", dry_run=False)
    w.apply_template("default", "web", "web:2")
    w.settle()
    assert revisions(w) == {1: "web:1"}
    dep = w.store.require("deployments", "default", "web")
    prog = next(c for c in dep["status"]["conditions"] if c["type"] == "Progressing")
    assert (prog["status"], prog["reason"]) == ("Unknown", "DeploymentPaused")
    assert dep["status"]["observedGeneration"] == dep["metadata"]["generation"]
    w.api.patch(RESOURCES["deployments"], "default", "web", None, {"spec": {"paused": None}},
                "application/merge-patch+json", dry_run=False)
    w.settle()
    assert revisions(w) == {1: "web:1", 2: "web:2"}
    dep = w.store.require("deployments", "default", "web")
    prog = next(c for c in dep["status"]["conditions"] if c["type"] == "Progressing")
    assert prog["reason"] == "NewReplicaSetAvailable"


@pytest.mark.parametrize(
    ("replicas", "surge", "unavailable"),
    [(4, "25%", "25%"), (10, "25%", "25%"), (3, 1, 0), (5, 0, 1), (6, "50%", "0%"), (10, 3, 2), (1, "25%", "25%")],
)
def test_rolling_update_respects_surge_and_unavailable(replicas: int, surge: object, unavailable: object) -> None:
    w = bare_world()
    create_deployment(w, image="web:1", replicas=replicas,
                      strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}})
    w.settle()
    dep = w.store.require("deployments", "default", "web")
    max_surge, max_unavail = kube.surge_and_unavailable(dep)
    w.apply_template("default", "web", "web:2")
    steps = 0
    while w.controller.active and steps < 500:
        w.controller.step()
        dep = w.store.require("deployments", "default", "web")
        rss = w.controller.owned_replicasets(dep)
        pods = w.store.list("pods", "default")
        total_spec = sum(r["spec"]["replicas"] for r in rss)
        assert total_spec <= replicas + max_surge
        assert len(pods) <= replicas + max_surge
        ready = sum(1 for p in pods if any(c["type"] == "Ready" and c["status"] == "True"
                                            for c in p["status"]["conditions"]))
        assert ready >= replicas - max_unavail
        w.clock.fast_forward(0.5)
        steps += 1
    assert not w.controller.active
    assert revisions(w) == {1: "web:1", 2: "web:2"}
    assert rs_for(w, "web:2")["status"]["availableReplicas"] == replicas
    assert rs_for(w, "web:1")["spec"]["replicas"] == 0


def test_recreate_scales_old_to_zero_first() -> None:
    w = bare_world()
    create_deployment(w, image="web:1", replicas=3, strategy={"type": "Recreate"})
    w.settle()
    w.apply_template("default", "web", "web:2")
    seen_overlap = False
    for _ in range(200):
        w.controller.step()
        images = {p["spec"]["containers"][0]["image"] for p in w.store.list("pods", "default")}
        seen_overlap |= images == {"web:1", "web:2"}
        if not w.controller.active:
            break
        w.clock.fast_forward(0.5)
    assert not seen_overlap
    assert revisions(w) == {1: "web:1", 2: "web:2"}
    assert rs_for(w, "web:2")["status"]["readyReplicas"] == 3


def test_status_counters_and_conditions_when_complete() -> None:
    w = bare_world()
    create_deployment(w, image="web:1", replicas=3)
    w.settle()
    dep = w.store.require("deployments", "default", "web")
    st = dep["status"]
    assert (st["replicas"], st["updatedReplicas"], st["readyReplicas"], st["availableReplicas"]) == (3, 3, 3, 3)
    assert "unavailableReplicas" not in st
    assert st["observedGeneration"] == dep["metadata"]["generation"]
    conds = {c["type"]: c for c in st["conditions"]}
    assert conds["Available"]["reason"] == "MinimumReplicasAvailable"
    assert conds["Progressing"]["reason"] == "NewReplicaSetAvailable"
    rs = rs_for(w, "web:1")
    assert conds["Progressing"]["message"] == f'ReplicaSet "{rs["metadata"]["name"]}" has successfully progressed.'
    assert rs["metadata"]["name"] == f"web-{rs['metadata']['labels'][kube.HASH_LABEL]}"
    owner = rs["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["uid"], owner["controller"]) == ("Deployment", "web", dep["metadata"]["uid"], True)
    for pod in w.store.list("pods", "default"):
        assert pod["metadata"]["name"].startswith(rs["metadata"]["name"] + "-")
        assert pod["metadata"]["labels"][kube.HASH_LABEL] == rs["metadata"]["labels"][kube.HASH_LABEL]
        assert pod["status"]["phase"] == "Running"


def test_crashing_image_never_ready_and_exceeds_deadline() -> None:
    w = bare_world(deployments=[{"name": "pay", "revisions": [
        {"image": "pay:1"}, {"image": "pay:2", "crash": True}]}])
    create_deployment(w, name="pay", image="pay:1", replicas=4, progressDeadlineSeconds=60)
    w.settle()
    w.apply_template("default", "pay", "pay:2")
    w.settle(max_seconds=200)
    dep = w.store.require("deployments", "default", "pay")
    prog = next(c for c in dep["status"]["conditions"] if c["type"] == "Progressing")
    assert (prog["status"], prog["reason"]) == ("False", "ProgressDeadlineExceeded")
    crashing = [p for p in w.store.list("pods", "default") if p["spec"]["containers"][0]["image"] == "pay:2"]
    assert crashing
    for p in crashing:
        cs = p["status"]["containerStatuses"][0]
        assert cs["state"]["waiting"]["reason"] == "CrashLoopBackOff"
        assert cs["restartCount"] >= 3
        assert not cs["ready"]
    # rolling back recovers
    from .helpers import kubectl_style_rollback

    kubectl_style_rollback(w, 1, name="pay")
    w.settle()
    dep = w.store.require("deployments", "default", "pay")
    prog = next(c for c in dep["status"]["conditions"] if c["type"] == "Progressing")
    assert prog["reason"] == "NewReplicaSetAvailable"
    assert dep["status"]["availableReplicas"] == 4


def test_template_hash_is_stable_and_ignores_hash_label() -> None:
    t = {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "x", "image": "x:1"}]}}
    h = kube.template_hash(t)
    assert h == kube.template_hash({"metadata": {"labels": {"app": "x", kube.HASH_LABEL: "zzz"}},
                                    "spec": {"containers": [{"name": "x", "image": "x:1"}]}})
    assert h != kube.template_hash(t, collision_count=1)
    assert all(c in "bcdfghjklmnpqrstvwxz2456789" for c in h)


def test_scale_changes_replicas_without_new_revision() -> None:
    from cockpit.world.resources import RESOURCES

    w = bare_world()
    create_deployment(w, image="web:1", replicas=2)
    w.settle()
    w.api.patch(RESOURCES["deployments"], "default", "web", "scale", {"spec": {"replicas": 5}},
                "application/merge-patch+json", dry_run=False)
    w.settle()
    assert revisions(w) == {1: "web:1"}
    assert len(w.store.list("pods", "default")) == 5
    events = [e["message"] for e in w.store.list("events", "default") if e["reason"] == "ScalingReplicaSet"]
    assert any("from 2 to 5" in m for m in events)


def test_delete_deployment_cascades() -> None:
    from cockpit.world.resources import RESOURCES

    w = bare_world()
    create_deployment(w, image="web:1", replicas=2)
    w.settle()
    w.api.delete(RESOURCES["deployments"], "default", "web", dry_run=False, propagation=None)
    assert w.store.list("replicasets", "default") == []
    assert w.store.list("pods", "default") == []


def test_bulk_load_population() -> None:
    w = bare_world()
    w.bulk_load(deployments=5, replicasets_per=4, namespace="bench")
    assert len(w.store.list("deployments", "bench")) == 5
    assert len(w.store.list("replicasets", "bench")) == 20
    assert revisions(w, "app-0003", "bench") == {r: f"registry.example/app-0003:1.{r}.0" for r in range(1, 5)}
    dep = w.store.require("deployments", "bench", "app-0003")
    assert kube.equal_ignore_hash(dep["spec"]["template"], rs_for(w, "registry.example/app-0003:1.4.0", "app-0003",
                                                                  "bench")["spec"]["template"])


def _progressing(w, name: str = "web") -> dict:
    dep = w.store.require("deployments", "default", name)
    return next(c for c in dep["status"]["conditions"] if c["type"] == "Progressing")


def test_a_rollout_long_complete_is_never_timed_out_when_a_rollback_starts() -> None:
    """The real controller never times out a deployment whose Progressing condition says
    NewReplicaSetAvailable; the deadline counts from the condition's last progress, not from
    when the previous rollout finished (issue 13: a rollback on a world idle for longer than
    the deadline failed within a quarter of a second)."""
    w = bare_world()
    create_deployment(w, image="web:1", replicas=3, progressDeadlineSeconds=600)
    w.settle()
    w.apply_template("default", "web", "web:2")
    w.settle()
    w.clock.fast_forward(3 * 3600)  # three quiet hours, far past the 600 s deadline
    kubectl_style_rollback(w, 1)
    for _ in range(3):  # the first passes: the old ReplicaSet found again, its first scale-up
        w.controller.step()
        assert _progressing(w)["reason"] != "ProgressDeadlineExceeded"
    w.settle()
    assert (_progressing(w)["status"], _progressing(w)["reason"]) == ("True", "NewReplicaSetAvailable")
    assert w.store.require("deployments", "default", "web")["status"]["availableReplicas"] == 3


def test_a_stalled_rollout_still_times_out_from_its_last_progress() -> None:
    """The deadline still holds for a rollout that stops progressing after a rollback starts."""
    w = bare_world(deployments=[{"name": "pay", "revisions": [
        {"image": "pay:1"}, {"image": "pay:2", "crash": True}]}])
    create_deployment(w, name="pay", image="pay:1", replicas=2, progressDeadlineSeconds=60)
    w.settle()
    w.clock.fast_forward(3600)
    w.apply_template("default", "pay", "pay:2")
    w.controller.step()
    assert _progressing(w, "pay")["reason"] != "ProgressDeadlineExceeded"
    w.settle(max_seconds=200)
    prog = _progressing(w, "pay")
    assert (prog["status"], prog["reason"]) == ("False", "ProgressDeadlineExceeded")
