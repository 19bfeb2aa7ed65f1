"""Helpers shared by the world tests: an un-started world driven synchronously."""
from __future__ import annotations

import copy
from typing import Any

from cockpit.world import kube
from cockpit.world.resources import RESOURCES
from cockpit.world.scenario import Scenario
from cockpit.world.world import World


def bare_world(**scenario: Any) -> World:
    """A world with no threads: drive it with ``w.controller.step()`` / ``w.settle()``."""
    sc = Scenario.model_validate({"name": "test", **scenario})
    w = World(sc, services=False)
    for ns in sc.all_namespaces():
        w.ensure_namespace(ns)
    return w


def create_deployment(w: World, name: str = "web", image: str = "web:1", replicas: int = 4, ns: str = "default",
                      **spec: Any) -> dict[str, Any]:
    dep = w.deployment_object(ns, name, image, replicas)
    dep["spec"].update(spec)
    return w.api.create(RESOURCES["deployments"], ns, dep, dry_run=False)


def revisions(w: World, name: str = "web", ns: str = "default") -> dict[int, str]:
    """revision number → image, from the deployment's ReplicaSets."""
    dep = w.store.require("deployments", ns, name)
    out = {}
    for rs in w.controller.owned_replicasets(dep):
        rev = int(rs["metadata"]["annotations"][kube.REVISION])
        out[rev] = rs["spec"]["template"]["spec"]["containers"][0]["image"]
    return out


def rs_for(w: World, image: str, name: str = "web", ns: str = "default") -> dict[str, Any]:
    dep = w.store.require("deployments", ns, name)
    for rs in w.controller.owned_replicasets(dep):
        if rs["spec"]["template"]["spec"]["containers"][0]["image"] == image:
            return rs
    raise AssertionError(f"no ReplicaSet runs {image}")


def kubectl_style_rollback(w: World, to_revision: int, name: str = "web", ns: str = "default") -> dict[str, Any]:
    """Do what ``kubectl rollout undo`` does: a JSON patch of /spec/template and /metadata/annotations."""
    dep = w.store.require("deployments", ns, name)
    rs = next(r for r in w.controller.owned_replicasets(dep)
              if r["metadata"]["annotations"][kube.REVISION] == str(to_revision))
    template = copy.deepcopy(rs["spec"]["template"])
    template["metadata"]["labels"].pop(kube.HASH_LABEL)
    annotations = {k: v for k, v in (dep["metadata"].get("annotations") or {}).items()}
    for k, v in rs["metadata"]["annotations"].items():
        if k not in kube.SKIP_ANNOTATIONS:
            annotations[k] = v
    ops = [{"op": "replace", "path": "/spec/template", "value": template},
           {"op": "replace", "path": "/metadata/annotations", "value": annotations}]
    return w.api.patch(RESOURCES["deployments"], ns, name, None, ops, "application/json-patch+json", dry_run=False)
