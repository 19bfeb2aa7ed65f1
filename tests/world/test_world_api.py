"""The API over HTTP: discovery, verbs, errors, watch, tables, dry-run, request log."""
from __future__ import annotations

import http.client
import json
import re
import threading
import time
from typing import Any
from urllib.parse import urlsplit

import pytest

from cockpit.world.world import World

DEPLOYS = "/apis/apps/v1/namespaces/default/deployments"


def call(w: World, method: str, path: str, body: Any = None, ctype: str = "application/json",
         accept: str = "application/json") -> tuple[int, Any, dict[str, str]]:
    u = urlsplit(w.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    data = json.dumps(body).encode() if body is not None else None
    conn.request(method, path, body=data, headers={"Content-Type": ctype, "Accept": accept})
    resp = conn.getresponse()
    raw = resp.read()
    headers = {k.lower(): v for k, v in resp.getheaders()}
    conn.close()
    return resp.status, (json.loads(raw) if raw else None), headers


def new_deploy(name: str = "demo", image: str = "web:1", replicas: int = 2) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "labels": {"app": name}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": name, "image": image}]}}}}


@pytest.fixture
def w(world) -> World:
    return world("healthy", speed=100)


def test_version_and_legacy_discovery(w: World) -> None:
    code, v, _ = call(w, "GET", "/version")
    assert (code, v["major"], v["minor"], v["gitVersion"]) == (200, "1", "30", "v1.30.0")
    code, apis, _ = call(w, "GET", "/apis")
    assert apis["kind"] == "APIGroupList" and apis["groups"][0]["name"] == "apps"
    code, res, _ = call(w, "GET", "/apis/apps/v1")
    names = {r["name"]: r for r in res["resources"]}
    assert names["deployments/scale"]["kind"] == "Scale" and names["deployments/scale"]["group"] == "autoscaling"
    assert "deploy" in names["deployments"]["shortNames"]
    code, core, _ = call(w, "GET", "/api/v1")
    assert {"pods", "events", "services", "namespaces"} <= {r["name"] for r in core["resources"]}


@pytest.mark.parametrize("version", ["v2", "v2beta1"])
def test_aggregated_discovery(w: World, version: str) -> None:
    accept = (f"application/vnd.kubernetes.protobuf;g=apidiscovery.k8s.io;v={version};as=APIGroupDiscoveryList,"
              f"application/json;g=apidiscovery.k8s.io;v={version};as=APIGroupDiscoveryList,application/json")
    code, body, headers = call(w, "GET", "/apis", accept=accept)
    assert code == 200
    assert headers["content-type"] == f"application/json;g=apidiscovery.k8s.io;v={version};as=APIGroupDiscoveryList"
    assert body["kind"] == "APIGroupDiscoveryList" and body["apiVersion"] == f"apidiscovery.k8s.io/{version}"
    res = {r["resource"]: r for r in body["items"][0]["versions"][0]["resources"]}
    subs = {s["subresource"]: s for s in res["deployments"]["subresources"]}
    assert subs["scale"]["responseKind"] == {"group": "autoscaling", "version": "v1", "kind": "Scale"}
    code, body, _ = call(w, "GET", "/api", accept=accept)
    assert "name" not in body["items"][0]["metadata"]


def test_crud_and_status_errors(w: World) -> None:
    code, dep, _ = call(w, "POST", DEPLOYS, new_deploy())
    assert code == 201
    md = dep["metadata"]
    assert md["uid"] and md["resourceVersion"] and md["creationTimestamp"] and md["generation"] == 1
    assert dep["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": "25%", "maxUnavailable": "25%"}
    code, err, _ = call(w, "POST", DEPLOYS, new_deploy())
    assert (code, err["kind"], err["reason"]) == (409, "Status", "AlreadyExists")
    code, err, _ = call(w, "GET", DEPLOYS + "/nope")
    assert (code, err["reason"], err["message"]) == (404, "NotFound", 'deployments.apps "nope" not found')
    bad = new_deploy("bad")
    bad["spec"]["template"]["metadata"]["labels"] = {"app": "other"}
    code, err, _ = call(w, "POST", DEPLOYS, bad)
    assert (code, err["reason"]) == (422, "Invalid")
    assert "selector" in err["message"]
    code, err, _ = call(w, "POST", DEPLOYS, "not json", ctype="application/json")
    assert code == 400
    code, err, _ = call(w, "PUT", DEPLOYS, new_deploy())
    assert (code, err["reason"]) == (405, "MethodNotAllowed")
    code, err, _ = call(w, "POST", "/apis/apps/v1/namespaces/ghost/deployments", new_deploy())
    assert (code, err["message"]) == (404, 'namespaces "ghost" not found')
    code, err, _ = call(w, "GET", "/apis/batch/v1/jobs")
    assert code == 404


def test_update_conflict_on_stale_resource_version(w: World) -> None:
    _, stale, _ = call(w, "POST", DEPLOYS, new_deploy())
    for _ in range(50):  # the controller writes status too: retry on conflict like a client would
        _, dep, _ = call(w, "GET", DEPLOYS + "/demo")
        dep["spec"]["replicas"] = 3
        code, updated, _ = call(w, "PUT", DEPLOYS + "/demo", dep)
        if code != 409:
            break
    assert code == 200 and updated["metadata"]["generation"] == 2
    stale["spec"] = dict(stale["spec"], replicas=5)
    code, err, _ = call(w, "PUT", DEPLOYS + "/demo", stale)
    assert (code, err["reason"]) == (409, "Conflict")
    assert "the object has been modified" in err["message"]


def test_generate_name_and_dry_run(w: World) -> None:
    body = new_deploy()
    body["metadata"] = {"generateName": "gen-"}

    code, dep, _ = call(w, "POST", DEPLOYS, body)
    assert code == 201 and dep["metadata"]["name"].startswith("gen-") and len(dep["metadata"]["name"]) == 9
    code, dep, _ = call(w, "POST", DEPLOYS + "?dryRun=All&fieldManager=me&fieldValidation=Strict", new_deploy("dry"))
    assert code == 201
    assert call(w, "GET", DEPLOYS + "/dry")[0] == 404
    call(w, "POST", DEPLOYS, new_deploy("real"))
    code, dep, _ = call(w, "PATCH", DEPLOYS + "/real?dryRun=All", {"spec": {"replicas": 9}},
                        ctype="application/merge-patch+json")
    assert code == 200 and dep["spec"]["replicas"] == 9
    assert call(w, "GET", DEPLOYS + "/real")[1]["spec"]["replicas"] == 2
    assert call(w, "DELETE", DEPLOYS + "/real?dryRun=All")[0] == 200
    assert call(w, "GET", DEPLOYS + "/real")[0] == 200


def test_patch_types_and_scale_subresource(w: World) -> None:
    call(w, "POST", DEPLOYS, new_deploy())
    code, dep, _ = call(w, "PATCH", DEPLOYS + "/demo", [{"op": "replace", "path": "/spec/template/spec/containers/0/image",
                                                         "value": "web:2"}], ctype="application/json-patch+json")
    assert code == 200 and dep["metadata"]["generation"] == 2
    code, dep, _ = call(w, "PATCH", DEPLOYS + "/demo", {"metadata": {"annotations": {"k": "v"}}},
                        ctype="application/merge-patch+json")
    assert dep["metadata"]["annotations"]["k"] == "v" and dep["metadata"]["generation"] == 2
    code, dep, _ = call(w, "PATCH", DEPLOYS + "/demo", {"spec": {"template": {"spec": {"containers": [
        {"name": "demo", "image": "web:3"}]}}}}, ctype="application/strategic-merge-patch+json")
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "web:3"
    code, scale, _ = call(w, "GET", DEPLOYS + "/demo/scale")
    assert (scale["kind"], scale["apiVersion"], scale["spec"]["replicas"]) == ("Scale", "autoscaling/v1", 2)
    assert scale["status"]["selector"] == "app=demo"
    code, scale, _ = call(w, "PATCH", DEPLOYS + "/demo/scale", {"spec": {"replicas": 4}},
                          ctype="application/merge-patch+json")
    assert code == 200 and scale["spec"]["replicas"] == 4
    scale["spec"]["replicas"] = 1
    del scale["metadata"]["resourceVersion"]  # unconditional update (the controller keeps writing)
    code, scale, _ = call(w, "PUT", DEPLOYS + "/demo/scale", scale)
    assert code == 200
    assert call(w, "GET", DEPLOYS + "/demo")[1]["spec"]["replicas"] == 1
    code, err, _ = call(w, "PATCH", DEPLOYS + "/demo", {"x": 1}, ctype="application/apply-patch+yaml")
    assert code == 415
    code, err, _ = call(w, "PATCH", DEPLOYS + "/demo", [{"op": "remove", "path": "/nope"}],
                        ctype="application/json-patch+json")
    assert code == 422


def test_status_subresource_only_changes_status(w: World) -> None:
    call(w, "POST", DEPLOYS, new_deploy())
    code, dep, _ = call(w, "PATCH", DEPLOYS + "/demo/status", {"spec": {"replicas": 7}, "status": {"collisionCount": 1}},
                        ctype="application/merge-patch+json")
    assert code == 200 and dep["spec"]["replicas"] == 2 and dep["status"]["collisionCount"] == 1


def test_list_selectors_all_namespaces_and_table(w: World) -> None:
    call(w, "POST", DEPLOYS, new_deploy("a"))
    call(w, "POST", DEPLOYS, new_deploy("b"))
    code, lst, _ = call(w, "GET", "/apis/apps/v1/deployments")
    assert lst["kind"] == "DeploymentList" and {"a", "b", "web", "api"} <= {d["metadata"]["name"] for d in lst["items"]}
    code, lst, _ = call(w, "GET", DEPLOYS + "?labelSelector=app%20in%20(a,web)")
    assert sorted(d["metadata"]["name"] for d in lst["items"]) == ["a", "web"]
    code, lst, _ = call(w, "GET", DEPLOYS + "?labelSelector=app%20notin%20(a,web),app")
    assert sorted(d["metadata"]["name"] for d in lst["items"]) == ["api", "b"]
    code, lst, _ = call(w, "GET", DEPLOYS + "?fieldSelector=metadata.name%3Db")
    assert [d["metadata"]["name"] for d in lst["items"]] == ["b"]
    code, lst, _ = call(w, "GET", DEPLOYS + "?labelSelector=app%3D%3D")
    assert lst["items"] == []
    code, err, _ = call(w, "GET", DEPLOYS + "?labelSelector=a%20b")
    assert code == 400
    accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
    code, table, _ = call(w, "GET", DEPLOYS, accept=accept)
    assert table["kind"] == "Table"
    assert [c["name"] for c in table["columnDefinitions"] if c["priority"] == 0] == \
        ["Name", "Ready", "Up-to-date", "Available", "Age"]
    row = next(r for r in table["rows"] if r["cells"][0] == "web")
    assert row["cells"][1] == "3/3" and row["object"]["kind"] == "PartialObjectMetadata"
    # the settled scenario's pods (a's and b's may or may not be Running yet: not these)
    pods = "/api/v1/namespaces/default/pods?labelSelector=app%20in%20(web,api)&fieldSelector=status.phase%3D"
    code, lst, _ = call(w, "GET", pods + "Running")
    assert len(lst["items"]) == 5
    code, lst, _ = call(w, "GET", pods + "Pending")
    assert lst["items"] == []


def test_delete_namespace_and_deployment(w: World) -> None:
    call(w, "POST", DEPLOYS, new_deploy("gone"))
    w.settle()
    code, _, _ = call(w, "DELETE", DEPLOYS + "/gone", {"kind": "DeleteOptions", "propagationPolicy": "Background"})
    assert code == 200
    _, rs, _ = call(w, "GET", "/apis/apps/v1/namespaces/default/replicasets?labelSelector=app%3Dgone")
    assert rs["items"] == []


def test_watch_streams_events_from_resource_version(w: World) -> None:
    _, lst, _ = call(w, "GET", DEPLOYS)
    rv = lst["metadata"]["resourceVersion"]
    u = urlsplit(w.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=20)
    # a long watch: it ends at the third event, however slowly the controller gets to w1
    conn.request("GET", DEPLOYS + f"?watch=1&resourceVersion={rv}&timeoutSeconds=15&fieldSelector=metadata.name%3Dw1"
                 "&allowWatchBookmarks=true")
    resp = conn.getresponse()
    assert resp.status == 200 and resp.getheader("Transfer-Encoding") == "chunked"
    threading.Timer(0.2, lambda: call(w, "POST", DEPLOYS, new_deploy("w1"))).start()
    events = []
    t0 = time.monotonic()
    while time.monotonic() - t0 < 15:
        line = resp.fp.readline()
        if not line:
            break
        line = line.strip()
        if line.startswith(b"{"):
            events.append(json.loads(line))
            if len(events) >= 3:
                break
    conn.close()
    assert events[0]["type"] == "ADDED" and events[0]["object"]["metadata"]["name"] == "w1"
    assert all(e["object"]["metadata"]["name"] == "w1" for e in events)
    assert any(e["type"] == "MODIFIED" for e in events)


def test_watch_without_resource_version_lists_first_and_too_old_is_410(w: World) -> None:
    u = urlsplit(w.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    conn.request("GET", DEPLOYS + "?watch=true&timeoutSeconds=1")
    body = conn.getresponse().read()
    events = [json.loads(x) for x in body.splitlines() if x.strip()]
    assert {e["object"]["metadata"]["name"] for e in events} == {"web", "api"}
    assert all(e["type"] == "ADDED" for e in events)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    conn.request("GET", DEPLOYS + "?watch=true&timeoutSeconds=1&resourceVersion=1")
    events = [json.loads(x) for x in conn.getresponse().read().splitlines() if x.strip()]
    assert events and events[0]["type"] == "ERROR" and events[0]["object"]["code"] == 410


def test_request_log_records_method_and_path(w: World) -> None:
    w.clear_request_log()
    call(w, "GET", DEPLOYS + "?limit=500")
    call(w, "PATCH", DEPLOYS + "/demo", {"metadata": {"labels": {"x": "y"}}}, ctype="application/merge-patch+json")
    assert w.request_log == [("GET", DEPLOYS), ("PATCH", DEPLOYS + "/demo")]  # 404, still logged


def test_protobuf_create_body(w: World) -> None:
    from cockpit.world import protobuf

    def field(num: int, payload: bytes) -> bytes:
        return bytes([num << 3 | 2, len(payload)]) + payload

    def s(num: int, text: str) -> bytes:
        return field(num, text.encode())

    meta = s(1, "pb") + field(11, s(1, "app") + s(2, "pb"))
    container = s(1, "pb") + s(2, "pb:1")
    template = field(1, field(11, s(1, "app") + s(2, "pb"))) + field(2, field(2, container))
    spec = bytes([1 << 3, 2]) + field(2, field(1, s(1, "app") + s(2, "pb"))) + field(3, template)
    raw = field(1, meta) + field(2, spec)
    body = protobuf.MAGIC + field(1, s(1, "apps/v1") + s(2, "Deployment")) + field(2, raw)
    obj = protobuf.decode(body)
    assert obj["metadata"] == {"name": "pb", "labels": {"app": "pb"}}
    assert obj["spec"]["replicas"] == 2
    assert obj["spec"]["template"]["spec"]["containers"] == [{"name": "pb", "image": "pb:1"}]
    u = urlsplit(w.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    conn.request("POST", DEPLOYS, body=body, headers={"Content-Type": "application/vnd.kubernetes.protobuf"})
    resp = conn.getresponse()
    assert resp.status == 201 and json.loads(resp.read())["metadata"]["name"] == "pb"


def test_pod_logs(world) -> None:
    w: World = world("crashloop", speed=100)
    pods = w.store.list("pods", "payments")
    crashing = next(p for p in pods if p["spec"]["containers"][0]["image"].endswith(":2.0.0"))
    healthy = next(p for p in pods if p["spec"]["containers"][0]["image"].endswith(":1.9.4"))
    base = "/api/v1/namespaces/payments/pods/"
    u = urlsplit(w.url)

    def text(path: str) -> tuple[int, str, str]:
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read().decode(), r.getheader("Content-Type") or ""

    code, out, ctype = text(base + crashing["metadata"]["name"] + "/log")
    assert code == 200 and ctype.startswith("text/plain") and "panic: schema mismatch" in out
    code, out, _ = text(base + healthy["metadata"]["name"] + "/log?timestamps=true&tailLines=2&container=payments")
    lines = out.splitlines()
    assert len(lines) == 2 and all(re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z ", line) for line in lines)
    code, out, _ = text(base + healthy["metadata"]["name"] + "/log?container=nope")
    assert code == 400
    code, out, _ = text(base + "missing/log")
    assert code == 404


def test_watch_send_initial_events_ends_with_bookmark(w: World) -> None:
    u = urlsplit(w.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    conn.request("GET", DEPLOYS + "?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan"
                 "&allowWatchBookmarks=true&timeoutSeconds=1")
    events = [json.loads(x) for x in conn.getresponse().read().splitlines() if x.strip()]
    assert [e["type"] for e in events[:2]] == ["ADDED", "ADDED"]
    assert events[2]["type"] == "BOOKMARK"
    assert events[2]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}


def test_openapi_v3_declares_patch_parameters(w: World) -> None:
    code, index, _ = call(w, "GET", "/openapi/v3")
    url = index["paths"]["apis/apps/v1"]["serverRelativeURL"]
    code, doc, _ = call(w, "GET", url)
    patch = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
    assert patch["x-kubernetes-group-version-kind"] == {"group": "apps", "version": "v1", "kind": "Deployment"}
    assert {"fieldValidation", "dryRun"} <= {p["name"] for p in patch["parameters"]}
    assert call(w, "GET", "/openapi/v2")[0] == 404


def _raw_call(w: World, method: str, path: str, raw: bytes, ctype: str) -> tuple[int, Any]:
    u = urlsplit(w.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    conn.request(method, path, body=raw, headers={"Content-Type": ctype, "Accept": "application/json"})
    resp = conn.getresponse()
    out = resp.status, json.loads(resp.read() or b"null")
    conn.close()
    return out


@pytest.mark.parametrize("ctype, raw", [
    ("application/merge-patch+json", b'{"metadata":{"annotations":{"x":"a\\ud800b","\\udfff":"k"}}}'),
    ("application/strategic-merge-patch+json", b'{"metadata":{"annotations":{"x":"a\\ud800b","\\udfff":"k"}}}'),
    ("application/json-patch+json",
     b'[{"op":"add","path":"/metadata/annotations/x","value":"a\\ud800b"},'
     b'{"op":"add","path":"/metadata/annotations/\\udfff","value":"k"}]'),
    ("application/merge-patch+json", b'{"metadata":{"annotations":{"x":"a\xffb","\xed\xbf\xbf":"k"}}}'),
], ids=["merge", "strategic", "json-patch", "invalid-utf8"])
def test_a_lone_surrogate_or_invalid_utf8_is_decoded_as_replacement_characters(w: World, ctype: str, raw: bytes) -> None:
    """Issue 13: a lone surrogate was accepted, then every GET was a 500. A real API server
    (Go's encoding/json) decodes it, and any invalid UTF-8, as U+FFFD."""
    status, _ = _raw_call(w, "PATCH", f"{DEPLOYS}/api", raw, ctype)
    assert status == 200
    status, dep, _ = call(w, "GET", f"{DEPLOYS}/api")
    assert status == 200
    ann = dep["metadata"]["annotations"]
    assert ann["x"] == "a\ufffdb"
    assert [v for k, v in ann.items() if set(k) == {"\ufffd"}] == ["k"]
    status, lst, _ = call(w, "GET", DEPLOYS)
    assert status == 200 and "api" in [d["metadata"]["name"] for d in lst["items"]]
    status, _, _ = call(w, "GET", "/apis/apps/v1/deployments", accept="application/json;as=Table;v=v1;g=meta.k8s.io")
    assert status == 200


@pytest.mark.parametrize("ctype", ["application/json", "application/yaml"])
def test_a_lone_surrogate_in_a_created_object_is_replaced(w: World, ctype: str) -> None:
    body = json.dumps(new_deploy("sur")).encode()  # JSON is YAML too
    body = body.replace(b'"image": "web:1"', b'"image": "web:1", "args": ["\\ud83d"]')
    status, _ = _raw_call(w, "POST", DEPLOYS, body, ctype)
    assert status == 201
    status, dep, _ = call(w, "GET", f"{DEPLOYS}/sur")
    assert status == 200
    assert dep["spec"]["template"]["spec"]["containers"][0]["args"] == ["\ufffd"]
