"""Issue 13: a deployment's events are matched by involved object, never by name prefix."""
from __future__ import annotations

from backends.kubernetes import revisions as rv
from tests.unit.test_revisions import deployment, rs


def pod(name: str, rs_uid: str, uid: str) -> dict:
    return {"metadata": {"name": name, "namespace": "default", "uid": uid,
                         "ownerReferences": [{"kind": "ReplicaSet", "uid": rs_uid, "controller": True}]}}


def event(kind: str, name: str, uid: str | None = None, ns: str = "default") -> dict:
    obj = {"kind": kind, "name": name, "namespace": ns}
    if uid is not None:
        obj["uid"] = uid
    return {"involvedObject": obj, "reason": f"{kind}:{name}"}


def with_uid(obj: dict, uid: str) -> dict:
    obj["metadata"]["uid"] = uid
    return obj


def test_events_of_a_longer_named_deployment_are_not_ours() -> None:
    d = deployment("web:3")  # name "web", uid "d-uid"
    rss = [with_uid(rs("web-cccc", 3, "web:3"), "rs-c"), with_uid(rs("webx-dddd", 1, "webx:1", owner="x-uid"), "rs-x")]
    pods = [pod("web-cccc-abcde", "rs-c", "p-1"), pod("webx-dddd-fghij", "rs-x", "p-2")]
    events = [
        event("Deployment", "web", "d-uid"),
        event("ReplicaSet", "web-cccc", "rs-c"),
        event("Pod", "web-cccc-abcde", "p-1"),
        event("Pod", "web-cccc-zzzzz", "p-gone"),  # replaced since: its name is one of our ReplicaSet's pods
        event("Deployment", "webx", "x-uid"),  # a longer name with our prefix
        event("ReplicaSet", "webx-dddd", "rs-x"),
        event("Pod", "webx-dddd-fghij", "p-2"),
        event("Deployment", "web", "old-uid"),  # an earlier deployment of the same name
        event("Deployment", "web", ns="other"),  # another namespace
        event("Deployment", "web"),  # no uid: by kind and name
        event("Service", "web", "svc-uid"),
    ]
    got = [e["reason"] for e in rv.related_events(d, rss, pods, events)]
    assert got == ["Deployment:web", "ReplicaSet:web-cccc", "Pod:web-cccc-abcde", "Pod:web-cccc-zzzzz",
                   "Deployment:web"]


def test_pods_of_another_replicaset_with_our_prefix_are_not_ours() -> None:
    d = deployment("web:3")
    rss = [with_uid(rs("web-cccc", 3, "web:3"), "rs-c")]
    events = [event("Pod", "web-cccc-x-abcde"), event("Pod", "web-cccc"), event("Pod", "web-ccccc-abcde")]
    assert rv.related_events(d, rss, [], events) == []
