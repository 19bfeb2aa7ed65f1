"""ServiceAccounts, Roles and RoleBindings in the world: stored, served and validated as the API
server does (so manifests apply), never enforced (authorization is ``World(forbid=...)``)."""
from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from cockpit.world.world import World

RBAC = "/apis/rbac.authorization.k8s.io/v1/namespaces/shop"


@pytest.fixture
def shop(world) -> World:
    return world("bad-image", speed=50)


def call(w: World, method: str, path: str, body=None, ctype: str = "application/json"):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(w.url + path, data=data, method=method, headers={"Content-Type": ctype})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


ROLE = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "reader"},
        "rules": [{"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list"]}]}
BINDING = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "reader"},
           "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"},
           "subjects": [{"kind": "ServiceAccount", "name": "watch", "namespace": "shop"},
                        {"kind": "User", "name": "alice"}]}


def test_discovery_serves_the_rbac_group_and_service_accounts(shop) -> None:
    code, groups = call(shop, "GET", "/apis")
    assert code == 200 and "rbac.authorization.k8s.io" in [g["name"] for g in groups["groups"]]
    code, res = call(shop, "GET", "/apis/rbac.authorization.k8s.io/v1")
    assert code == 200 and {r["name"]: r["kind"] for r in res["resources"]} == {"roles": "Role",
                                                                                "rolebindings": "RoleBinding"}
    code, core = call(shop, "GET", "/api/v1")
    sa = next(r for r in core["resources"] if r["name"] == "serviceaccounts")
    assert sa["kind"] == "ServiceAccount" and sa["namespaced"] and sa["shortNames"] == ["sa"]


def test_create_get_list_delete(shop) -> None:
    code, sa = call(shop, "POST", "/api/v1/namespaces/shop/serviceaccounts", {"metadata": {"name": "watch"}})
    assert code == 201 and (sa["apiVersion"], sa["kind"]) == ("v1", "ServiceAccount")
    code, role = call(shop, "POST", f"{RBAC}/roles", ROLE)
    assert code == 201 and role["rules"] == ROLE["rules"] and role["metadata"]["resourceVersion"]
    code, rb = call(shop, "POST", f"{RBAC}/rolebindings", BINDING)
    assert code == 201
    # SetDefaults_Subject: users and groups get the RBAC group; a ServiceAccount none
    assert rb["subjects"] == [{"kind": "ServiceAccount", "name": "watch", "namespace": "shop"},
                              {"kind": "User", "name": "alice", "apiGroup": "rbac.authorization.k8s.io"}]
    code, lst = call(shop, "GET", f"{RBAC}/rolebindings")
    assert lst["kind"] == "RoleBindingList" and [i["metadata"]["name"] for i in lst["items"]] == ["reader"]
    code, _ = call(shop, "DELETE", f"{RBAC}/roles/reader")
    assert code == 200
    code, st = call(shop, "GET", f"{RBAC}/roles/reader")
    assert code == 404 and st["message"] == 'roles.rbac.authorization.k8s.io "reader" not found'


@pytest.mark.parametrize("resource, body, says", [
    ("roles", dict(ROLE, rules=[{"apiGroups": ["apps"], "resources": ["deployments"]}]),
     "rules[0].verbs: Required value"),
    ("roles", dict(ROLE, rules=[{"verbs": ["get"], "resources": ["pods"]}]), "rules[0].apiGroups: Required value"),
    ("roles", dict(ROLE, rules=[{"verbs": ["get"], "nonResourceURLs": ["/healthz"]}]),
     "namespaced rules cannot apply to non-resource URLs"),
    ("rolebindings", dict(BINDING, roleRef={"apiGroup": "rbac.authorization.k8s.io", "kind": "Pod", "name": "x"}),
     'roleRef.kind: Unsupported value: "Pod"'),
    ("rolebindings", dict(BINDING, subjects=[{"kind": "ServiceAccount", "name": "w", "apiGroup": "rbac.authorization.k8s.io"}]),
     "subjects[0].apiGroup: Unsupported value"),
])
def test_invalid_objects_are_422_as_the_api_server_says(shop, resource, body, says) -> None:
    code, st = call(shop, "POST", f"{RBAC}/{resource}", body)
    assert code == 422 and st["reason"] == "Invalid" and says in st["message"], st


def test_a_role_binding_role_ref_cannot_change(shop) -> None:
    call(shop, "POST", f"{RBAC}/rolebindings", BINDING)
    code, cur = call(shop, "GET", f"{RBAC}/rolebindings/reader")
    cur["roleRef"]["name"] = "admin"
    code, st = call(shop, "PUT", f"{RBAC}/rolebindings/reader", cur)
    assert code == 422 and "roleRef: Invalid value: cannot change roleRef" in st["message"]


def test_kubectl_gets_them_as_tables(shop, kubectl) -> None:
    call(shop, "POST", "/api/v1/namespaces/shop/serviceaccounts", {"metadata": {"name": "watch"}})
    call(shop, "POST", f"{RBAC}/roles", ROLE)
    call(shop, "POST", f"{RBAC}/rolebindings", BINDING)
    k = kubectl(shop)
    out = k.ok("-n", "shop", "get", "sa,role,rolebinding", "-o", "wide")
    assert "serviceaccount/watch" in out and "role.rbac.authorization.k8s.io/reader" in out
    line = next(x for x in out.splitlines() if x.startswith("rolebinding.rbac.authorization.k8s.io/reader"))
    assert "Role/reader" in line and "alice" in line and "shop/watch" in line
