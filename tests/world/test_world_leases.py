"""coordination.k8s.io/v1 Leases, served as a real API server does: discovery, get / list /
watch / create / update / patch / delete over plain HTTP, the 409s and 422s a lock client
relies on, the forbidden mode (403, for an RBAC fallback), and real kubectl."""
from __future__ import annotations

import http.client
import json
import re
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from cockpit.errors import ConfigError
from cockpit.world.process import WorldProcess
from cockpit.world.world import World
from tests.fixtures.world import Kubectl

LEASES = "/apis/coordination.k8s.io/v1/namespaces/shop/leases"
NAME = "cockpit-incident-checkout"


def call(w: World | str, method: str, path: str, body: Any = None, ctype: str = "application/json",
         accept: str = "application/json", conn: http.client.HTTPConnection | None = None) -> tuple[int, Any]:
    url = w.url if isinstance(w, World) else w
    u = urlsplit(url)
    c = conn or http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    data = json.dumps(body).encode() if body is not None else None
    c.request(method, path, body=data, headers={"Content-Type": ctype, "Accept": accept})
    resp = c.getresponse()
    raw = resp.read()
    if conn is None:
        c.close()
    return resp.status, (json.loads(raw) if raw else None)


def lease(name: str = NAME, holder: str | None = "alice@bastion-1", **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                            "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "cockpit"}},
                            "spec": {"leaseDurationSeconds": 30, "acquireTime": "2026-12-02T07:42:03.123456Z",
                                     "renewTime": "2026-12-02T07:42:03.123456Z", "leaseTransitions": 0, **spec}}
    if holder is not None:
        body["spec"]["holderIdentity"] = holder
    return body


@pytest.fixture
def shop(world) -> World:
    return world("bad-image", speed=50)


def test_discovery_legacy_and_aggregated(shop: World) -> None:
    code, groups = call(shop, "GET", "/apis")
    assert code == 200
    coord = next(g for g in groups["groups"] if g["name"] == "coordination.k8s.io")
    assert coord["preferredVersion"] == {"groupVersion": "coordination.k8s.io/v1", "version": "v1"}
    code, group = call(shop, "GET", "/apis/coordination.k8s.io")
    assert (code, group["kind"], group["name"]) == (200, "APIGroup", "coordination.k8s.io")
    code, res = call(shop, "GET", "/apis/coordination.k8s.io/v1")
    assert code == 200 and res["groupVersion"] == "coordination.k8s.io/v1"
    (leases,) = res["resources"]
    assert (leases["name"], leases["kind"], leases["namespaced"], leases["singularName"]) == (
        "leases", "Lease", True, "lease")
    assert sorted(leases["verbs"]) == ["create", "delete", "deletecollection", "get", "list", "patch", "update",
                                       "watch"]
    assert "shortNames" not in leases  # Leases have none; the server omits the empty list

    accept = ("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json")
    code, agg = call(shop, "GET", "/apis", accept=accept)
    items = {i["metadata"]["name"]: i for i in agg["items"]}
    assert set(items) == {"apps", "coordination.k8s.io", "rbac.authorization.k8s.io", "gateway.networking.k8s.io"}
    (entry,) = items["coordination.k8s.io"]["versions"][0]["resources"]
    assert entry["resource"] == "leases" and entry["scope"] == "Namespaced"
    assert entry["responseKind"] == {"group": "coordination.k8s.io", "version": "v1", "kind": "Lease"}
    code, index = call(shop, "GET", "/openapi/v3")
    assert "apis/coordination.k8s.io/v1" in index["paths"]


def test_create_get_list_and_microtime(shop: World) -> None:
    code, out = call(shop, "POST", LEASES, lease(renewTime="2026-12-02T09:42:04.000001+02:00"))
    assert code == 201, out
    assert (out["kind"], out["apiVersion"]) == ("Lease", "coordination.k8s.io/v1")
    assert out["metadata"]["namespace"] == "shop" and out["metadata"]["uid"] and out["metadata"]["resourceVersion"]
    assert out["spec"] == {"holderIdentity": "alice@bastion-1", "leaseDurationSeconds": 30,
                           "acquireTime": "2026-12-02T07:42:03.123456Z",
                           "renewTime": "2026-12-02T07:42:04.000001Z",  # re-encoded in UTC, microseconds kept
                           "leaseTransitions": 0}
    code, got = call(shop, "GET", f"{LEASES}/{NAME}")
    assert code == 200 and got == out

    call(shop, "POST", LEASES, lease("other", holder=None))
    code, lst = call(shop, "GET", LEASES)
    assert lst["kind"] == "LeaseList" and [i["metadata"]["name"] for i in lst["items"]] == [NAME, "other"]
    code, lst = call(shop, "GET", f"{LEASES}?fieldSelector=metadata.name%3D{NAME}")
    assert code == 200 and [i["metadata"]["name"] for i in lst["items"]] == [NAME]
    code, lst = call(shop, "GET", f"{LEASES}?labelSelector=app.kubernetes.io%2Fmanaged-by%3Dcockpit")
    assert len(lst["items"]) == 2
    code, lst = call(shop, "GET", f"{LEASES}?labelSelector=app.kubernetes.io%2Fmanaged-by%3Dsomeone-else")
    assert lst["items"] == []
    code, lst = call(shop, "GET", "/apis/coordination.k8s.io/v1/leases")  # all namespaces
    assert code == 200 and len(lst["items"]) == 2
    code, err = call(shop, "GET", f"{LEASES}?fieldSelector=spec.holderIdentity%3Dx")
    assert (code, err["reason"], err["message"]) == (400, "BadRequest", "field label not supported: spec.holderIdentity")

    code, table = call(shop, "GET", LEASES, accept="application/json;as=Table;v=v1;g=meta.k8s.io")
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Holder", "Age"]
    assert [r["cells"][:2] for r in table["rows"]] == [[NAME, "alice@bastion-1"], ["other", ""]]


def test_create_of_an_existing_name_is_409_already_exists(shop: World) -> None:
    assert call(shop, "POST", LEASES, lease())[0] == 201
    code, err = call(shop, "POST", LEASES, lease(holder="bob@bastion-2"))
    assert code == 409 and err["kind"] == "Status" and err["reason"] == "AlreadyExists"
    assert err["message"] == f'leases.coordination.k8s.io "{NAME}" already exists'
    assert err["details"] == {"name": NAME, "group": "coordination.k8s.io", "kind": "leases"}
    assert call(shop, "GET", f"{LEASES}/{NAME}")[1]["spec"]["holderIdentity"] == "alice@bastion-1"


def test_update_with_a_stale_resource_version_is_409_conflict(shop: World) -> None:
    _, first = call(shop, "POST", LEASES, lease())
    # The holder renews (resourceVersion moves on) ...
    renew = dict(first, spec=dict(first["spec"], renewTime="2026-12-02T07:42:13.000000Z"))
    code, renewed = call(shop, "PUT", f"{LEASES}/{NAME}", renew)
    assert code == 200 and renewed["spec"]["renewTime"] == "2026-12-02T07:42:13.000000Z"
    assert int(renewed["metadata"]["resourceVersion"]) > int(first["metadata"]["resourceVersion"])
    # ... so a take-over computed from the first version loses.
    takeover = dict(first, spec=dict(first["spec"], holderIdentity="bob@bastion-2", leaseTransitions=1))
    code, err = call(shop, "PUT", f"{LEASES}/{NAME}", takeover)
    assert code == 409 and err["reason"] == "Conflict"
    assert err["message"] == (f'Operation cannot be fulfilled on leases.coordination.k8s.io "{NAME}": the object '
                              "has been modified; please apply your changes to the latest version and try again")
    # The same through a merge patch carrying the stale resourceVersion as a precondition.
    code, err = call(shop, "PATCH", f"{LEASES}/{NAME}", {"metadata": {"resourceVersion": first["metadata"][
        "resourceVersion"]}, "spec": {"holderIdentity": "bob@bastion-2"}}, ctype="application/merge-patch+json")
    assert (code, err["reason"]) == (409, "Conflict")
    assert call(shop, "GET", f"{LEASES}/{NAME}")[1]["spec"]["holderIdentity"] == "alice@bastion-1"
    # A Lease is never updated unconditionally (its strategy refuses it).
    blind = {"metadata": {"name": NAME}, "spec": {"holderIdentity": "bob@bastion-2"}}
    code, err = call(shop, "PUT", f"{LEASES}/{NAME}", blind)
    assert code == 422 and err["reason"] == "Invalid"
    assert err["message"] == (f'leases.coordination.k8s.io "{NAME}" is invalid: metadata.resourceVersion: '
                              "Invalid value: 0x0: must be specified for an update")


def test_patches_put_create_and_delete(shop: World) -> None:
    _, first = call(shop, "POST", LEASES, lease())
    path = f"{LEASES}/{NAME}"
    code, out = call(shop, "PATCH", path, {"spec": {"renewTime": "2026-12-02T07:42:20.500000Z"}},
                     ctype="application/merge-patch+json")
    assert code == 200 and out["spec"]["renewTime"] == "2026-12-02T07:42:20.500000Z"
    code, out = call(shop, "PATCH", path, {"spec": {"holderIdentity": "bob@bastion-2"}},
                     ctype="application/strategic-merge-patch+json")
    assert code == 200 and out["spec"]["holderIdentity"] == "bob@bastion-2"
    code, out = call(shop, "PATCH", path, [
        {"op": "test", "path": "/metadata/resourceVersion", "value": out["metadata"]["resourceVersion"]},
        {"op": "replace", "path": "/spec/leaseTransitions", "value": 1}], ctype="application/json-patch+json")
    assert code == 200 and out["spec"]["leaseTransitions"] == 1 and out["metadata"]["uid"] == first["metadata"]["uid"]
    code, out = call(shop, "PATCH", path, {"spec": {"holderIdentity": None}}, ctype="application/merge-patch+json")
    assert code == 200 and "holderIdentity" not in out["spec"]  # released

    code, gone = call(shop, "DELETE", path)
    assert code == 200 and gone["metadata"]["name"] == NAME
    code, err = call(shop, "GET", path)
    assert code == 404 and err["message"] == f'leases.coordination.k8s.io "{NAME}" not found'
    # A Lease may be created by PUT (its strategy allows create-on-update).
    code, out = call(shop, "PUT", path, lease())
    assert code == 201 and out["spec"]["holderIdentity"] == "alice@bastion-1"


@pytest.mark.parametrize("spec, code, message", [
    ({"renewTime": "2026-12-02T07:42:03Z"}, 400,
     'Lease in version "v1" cannot be handled as a Lease: parsing time "2026-12-02T07:42:03Z" as '
     '"2006-01-02T15:04:05.000000Z07:00"'),
    ({"leaseDurationSeconds": "30"}, 400, "cannot unmarshal string into Go struct field LeaseSpec.spec."
                                          "leaseDurationSeconds of type int32"),
    ({"leaseDurationSeconds": 0}, 422, 'Lease.coordination.k8s.io "bad" is invalid: spec.leaseDurationSeconds: '
                                       "Invalid value: 0: must be greater than 0"),
    ({"leaseTransitions": -1}, 422, "spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0"),
])
def test_invalid_leases_are_refused(shop: World, spec: dict[str, Any], code: int, message: str) -> None:
    got, err = call(shop, "POST", LEASES, lease("bad", **spec))
    assert got == code and err["kind"] == "Status" and message in err["message"]
    assert call(shop, "GET", f"{LEASES}/bad")[0] == 404


def test_lease_in_a_missing_namespace_is_404(shop: World) -> None:
    code, err = call(shop, "POST", "/apis/coordination.k8s.io/v1/namespaces/nope/leases", lease())
    assert code == 404 and err["message"] == 'namespaces "nope" not found'


def test_watch_sees_a_lease_change_hands(shop: World) -> None:
    _, first = call(shop, "POST", LEASES, lease())
    rv = first["metadata"]["resourceVersion"]
    call(shop, "PATCH", f"{LEASES}/{NAME}", {"spec": {"holderIdentity": "bob@bastion-2"}},
         ctype="application/merge-patch+json")
    call(shop, "DELETE", f"{LEASES}/{NAME}")
    u = urlsplit(shop.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    conn.request("GET", f"{LEASES}?watch=true&resourceVersion={rv}&timeoutSeconds=1")
    events = [json.loads(x) for x in conn.getresponse().read().splitlines() if x.strip()]
    assert [(e["type"], e["object"]["spec"].get("holderIdentity")) for e in events] == [
        ("MODIFIED", "bob@bastion-2"), ("DELETED", "bob@bastion-2")]


def test_forbidden_mode_answers_403_status(world) -> None:
    w: World = world("bad-image", speed=50, forbid=["leases"])
    code, err = call(w, "POST", LEASES, lease())
    assert code == 403 and err["kind"] == "Status" and err["status"] == "Failure" and err["reason"] == "Forbidden"
    # POST names no object: the server's message has no name (RequestInfo has none for a create)
    assert err["message"] == ('leases.coordination.k8s.io is forbidden: User "system:anonymous" cannot create '
                              'resource "leases" in API group "coordination.k8s.io" in the namespace "shop"')
    assert err["details"] == {"group": "coordination.k8s.io", "kind": "leases"}
    code, err = call(w, "GET", f"{LEASES}/x")
    assert code == 403 and err["message"] == (
        'leases.coordination.k8s.io "x" is forbidden: User "system:anonymous" cannot get resource "leases" in API '
        'group "coordination.k8s.io" in the namespace "shop"')
    assert err["details"] == {"group": "coordination.k8s.io", "kind": "leases", "name": "x"}
    code, err = call(w, "GET", "/apis/coordination.k8s.io/v1/leases")
    assert code == 403 and err["message"].endswith('cannot list resource "leases" in API group "coordination.k8s.io" '
                                                   "at the cluster scope")
    assert call(w, "GET", "/apis/coordination.k8s.io/v1")[0] == 200  # discovery still lists them
    assert call(w, "GET", "/apis/apps/v1/namespaces/shop/deployments")[0] == 200  # nothing else is refused
    assert w.store.list("leases") == []

    w.allow("leases")
    assert call(w, "POST", LEASES, lease())[0] == 201
    w.forbid("leases", verbs=["update", "patch"])  # read-only on Leases
    assert call(w, "GET", f"{LEASES}/{NAME}")[0] == 200
    code, err = call(w, "PATCH", f"{LEASES}/{NAME}", {"spec": {"holderIdentity": "bob"}},
                     ctype="application/merge-patch+json")
    assert code == 403 and f'"{NAME}" is forbidden: User "system:anonymous" cannot patch resource' in err["message"]
    with pytest.raises(ValueError, match="unknown resource"):
        w.forbid("lease")


def test_errors_before_the_body_is_read_keep_the_connection_usable(world) -> None:
    w: World = world("bad-image", speed=50, forbid=["leases"])
    u = urlsplit(w.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    assert call(w, "POST", LEASES, lease(), conn=conn)[0] == 403
    assert call(w, "POST", "/apis/nope.example/v1/namespaces/shop/things", lease(), conn=conn)[0] == 404
    code, version = call(w, "GET", "/version", conn=conn)  # the same kept-alive connection
    assert code == 200 and version["gitVersion"] == "v1.30.0"
    conn.close()


@pytest.mark.kubectl
@pytest.mark.xdist_group("kubectl")
def test_kubectl_get_lease_shows_the_holder(world, kubectl) -> None:
    w: World = world("bad-image", speed=50)
    call(w, "POST", LEASES, lease())
    call(w, "POST", LEASES, lease("unheld", holder=None))
    k: Kubectl = kubectl(w)  # the gcloud dispatcher, /usr/bin/kubectl
    rows = [re.split(r"\s{2,}", line.strip()) for line in k.ok("get", "lease", "-n", "shop").strip().splitlines()]
    assert rows[0] == ["NAME", "HOLDER", "AGE"]
    assert rows[1][:2] == [NAME, "alice@bastion-1"] and re.fullmatch(r"\d+s", rows[1][2])
    assert rows[2][0] == "unheld" and len(rows[2]) == 2  # an empty HOLDER cell
    got = yaml.safe_load(k.ok("get", "lease", NAME, "-n", "shop", "-o", "yaml"))
    assert (got["kind"], got["apiVersion"]) == ("Lease", "coordination.k8s.io/v1")
    assert got["spec"]["holderIdentity"] == "alice@bastion-1" and got["spec"]["leaseDurationSeconds"] == 30
    assert got["spec"]["renewTime"] == "2026-12-02T07:42:03.123456Z"
    assert k.ok("get", "leases", "-n", "shop", "-o", "name").split() == [
        f"lease.coordination.k8s.io/{NAME}", "lease.coordination.k8s.io/unheld"]
    assert "unheld" in k.ok("delete", "lease", "unheld", "-n", "shop")

    w.forbid("leases")
    err = k.fails("get", "lease", "-n", "shop")
    assert ('Error from server (Forbidden): leases.coordination.k8s.io is forbidden: User "system:anonymous" cannot '
            'list resource "leases" in API group "coordination.k8s.io" in the namespace "shop"') in err.stderr


def test_world_serve_forbid_flag() -> None:
    proc = WorldProcess("bad-image", speed=5.0, forbid=("leases",)).start()
    try:
        proc.wait_ready()
        code, err = call(proc.url, "POST", LEASES, lease())
        assert code == 403 and err["reason"] == "Forbidden"
        assert call(proc.url, "GET", "/apis/apps/v1/namespaces/shop/deployments/checkout")[0] == 200
    finally:
        proc.stop()
    bad = WorldProcess("bad-image", forbid=("lease",)).start()
    try:
        with pytest.raises(ConfigError, match="cannot forbid lease"):
            bad.wait_ready()
    finally:
        bad.stop()
