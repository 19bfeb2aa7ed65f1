"""Discovery, as kubectl and client libraries ask for it.

Legacy discovery (``/api``, ``/apis``, ``/apis/<group>``, ``/api/v1``, ``/apis/<group>/<version>``),
aggregated discovery (``APIGroupDiscoveryList`` v2 and v2beta1, chosen by the Accept header),
``/version``, the health endpoints, and a minimal OpenAPI v3 (the operations kubectl inspects,
no schemas). Everything is derived from :data:`~cockpit.world.resources.RESOURCES`.
"""
from __future__ import annotations

from typing import Any

from cockpit.world.resources import GROUPS, Resource, in_group

Obj = dict[str, Any]

SUB_VERBS = ["get", "patch", "update"]
OPENAPI_HASH = "drill1"


def _sub_kind(r: Resource, sub: str) -> tuple[str, str, str]:
    if sub == "scale":
        return ("autoscaling", "v1", "Scale")
    if sub == "log":
        return ("", "v1", "Pod")
    return (r.group, r.version, r.kind)


def legacy_resource_list(group_version: str, resources: list[Resource]) -> Obj:
    out = []
    for r in resources:
        out.append({"name": r.name, "singularName": r.singular, "namespaced": r.namespaced, "kind": r.kind,
                    "verbs": r.verbs, **({"shortNames": list(r.short)} if r.short else {}),
                    **({"categories": list(r.categories)} if r.categories else {})})
        for sub in r.subresources:
            g, v, k = _sub_kind(r, sub)
            entry = {"name": f"{r.name}/{sub}", "singularName": "", "namespaced": r.namespaced, "kind": k,
                     "verbs": ["get"] if sub == "log" else SUB_VERBS}
            if sub == "scale":
                entry.update(group=g, version=v)
            out.append(entry)
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": out}


def _aggregated_resource(r: Resource) -> Obj:
    entry: Obj = {
        "resource": r.name,
        "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
        "scope": "Namespaced" if r.namespaced else "Cluster",
        "singularResource": r.singular,
        "verbs": r.verbs,
    }
    if r.short:
        entry["shortNames"] = list(r.short)
    if r.categories:
        entry["categories"] = list(r.categories)
    if r.subresources:
        entry["subresources"] = []
        for sub in r.subresources:
            g, v, k = _sub_kind(r, sub)
            entry["subresources"].append({"subresource": sub, "responseKind": {"group": g, "version": v, "kind": k},
                                          "verbs": ["get"] if sub == "log" else SUB_VERBS})
    return entry


def _aggregated_group(group: str) -> Obj:
    out: Obj = {"metadata": {"creationTimestamp": None}, "versions": [
        {"version": "v1", "resources": [_aggregated_resource(r) for r in in_group(group)], "freshness": "Current"}]}
    if group:
        out["metadata"]["name"] = group
    return out


def aggregated(core: bool, version: str) -> Obj:
    """The aggregated discovery document of ``/api`` (core) or ``/apis`` (every named group)."""
    groups = [""] if core else list(GROUPS)
    return {"kind": "APIGroupDiscoveryList", "apiVersion": f"apidiscovery.k8s.io/{version}", "metadata": {},
            "items": [_aggregated_group(g) for g in groups]}


def api_group(group: str) -> Obj:
    gv = {"groupVersion": f"{group}/v1", "version": "v1"}
    return {"name": group, "versions": [gv], "preferredVersion": dict(gv)}


def openapi_v3_index() -> Obj:
    paths = {"api/v1": {"serverRelativeURL": f"/openapi/v3/api/v1?hash={OPENAPI_HASH}"}}
    for g in GROUPS:
        paths[f"apis/{g}/v1"] = {"serverRelativeURL": f"/openapi/v3/apis/{g}/v1?hash={OPENAPI_HASH}"}
    return {"paths": paths}


def openapi_v3_group(prefix: str, resources: list[Resource]) -> Obj:
    """A minimal OpenAPI v3 document: the operations kubectl inspects (which query parameters a
    PATCH of a kind accepts: fieldValidation, dryRun, fieldManager), with no schemas. kubectl
    then leaves validation to the server (which here accepts what it understands)."""
    params = [{"name": n, "in": "query", "schema": {"type": "string"}, "uniqueItems": True}
              for n in ("dryRun", "fieldManager", "fieldValidation", "force", "pretty")]
    paths: Obj = {}
    for r in resources:
        gvk = {"group": r.group, "version": r.version, "kind": r.kind}
        ns = "/namespaces/{namespace}" if r.namespaced else ""
        op = {"x-kubernetes-group-version-kind": gvk, "parameters": params,
              "responses": {"200": {"description": "OK"}}}
        paths[f"{prefix}{ns}/{r.name}/{{name}}"] = {
            "get": dict(op, operationId=f"read{r.kind}", **{"x-kubernetes-action": "get"}),
            "put": dict(op, operationId=f"replace{r.kind}", **{"x-kubernetes-action": "put"}),
            "patch": dict(op, operationId=f"patch{r.kind}", **{"x-kubernetes-action": "patch"}),
            "delete": dict(op, operationId=f"delete{r.kind}", **{"x-kubernetes-action": "delete"}),
        }
        paths[f"{prefix}{ns}/{r.name}"] = {
            "get": dict(op, operationId=f"list{r.kind}", **{"x-kubernetes-action": "list"}),
            "post": dict(op, operationId=f"create{r.kind}", **{"x-kubernetes-action": "post"}),
        }
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes (cockpit drill world)", "version": "v1.30.0"},
            "paths": paths, "components": {"schemas": {}}}


def version_info(version: str) -> Obj:
    major, minor = version.lstrip("v").split(".")[:2]
    return {"major": major, "minor": minor, "gitVersion": version,
            "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
            "buildDate": "2024-04-17T17:27:03Z", "goVersion": "go1.22.2", "compiler": "gc",
            "platform": "linux/amd64"}


def _wants_aggregated(accept: str) -> str | None:
    for part in accept.split(","):
        if "as=APIGroupDiscoveryList" in part and "application/json" in part:
            return "v2" if "v=v2;" in part + ";" and "v2beta1" not in part else "v2beta1"
    return None


def discover(path: str, accept: str, version: str) -> tuple[int, Obj, str] | None:
    """(status, body, content type) for a discovery, version, health or OpenAPI path; None for
    any other path (a resource path, or an unknown one under ``/openapi``: see :func:`is_openapi`)."""
    json_ = "application/json"
    want_agg = _wants_aggregated(accept)
    if path in ("/api", "/apis") and want_agg:
        ctype = f"application/json;g=apidiscovery.k8s.io;v={want_agg};as=APIGroupDiscoveryList"
        return 200, aggregated(path == "/api", want_agg), ctype
    if path == "/api":
        return 200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]}, json_
    if path == "/apis":
        return 200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": [api_group(g) for g in GROUPS]}, json_
    if path == "/api/v1":
        return 200, legacy_resource_list("v1", in_group("")), json_
    if path == "/version":
        return 200, version_info(version), json_
    if path in ("/healthz", "/readyz", "/livez"):
        return 200, {"ok": True}, "text/plain"
    if path == "/openapi/v3":
        return 200, openapi_v3_index(), json_
    if path == "/openapi/v3/api/v1":
        return 200, openapi_v3_group("/api/v1", in_group("")), json_
    for g in GROUPS:
        if path == f"/apis/{g}":
            return 200, dict(api_group(g), kind="APIGroup", apiVersion="v1"), json_
        if path == f"/apis/{g}/v1":
            return 200, legacy_resource_list(f"{g}/v1", in_group(g)), json_
        if path == f"/openapi/v3/apis/{g}/v1":
            return 200, openapi_v3_group(f"/apis/{g}/v1", in_group(g)), json_
    return None


def is_openapi(path: str) -> bool:
    return path.startswith("/openapi")
