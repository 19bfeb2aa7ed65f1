"""``cockpit watch --print-manifest``: what to apply to run the watcher in the cluster.

Four objects in the watched namespace, pure data (no cluster needed to print them):

- a **ServiceAccount** ``cockpit-watch``;
- a least-privilege **Role** — read what a verdict and a rollback need (deployments,
  replicasets, pods, events: get/list/watch), change only deployments (patch: the rollback),
  and the Leases of leader election and of the target's incident lock (get/create/update;
  delete only for the incident lock, which every cockpit deletes when it lets go); plus
  ``pods/log`` (get: the evidence captured before a rollback) and, unless the metrics come
  from Prometheus, ``services`` (get) and the API server's proxy to the service's or pods'
  ``/metrics`` (``services/proxy``, ``pods/proxy``: get) — each rule says why;
- a **RoleBinding** of that Role to that ServiceAccount;
- a two-replica **Deployment** of the watcher: ``cockpit watch … --auto-rollback
  --leader-elect`` with its settings as flags, the pod name as its leader-election identity
  (downward API), liveness and readiness probes on ``/healthz`` and ``/readyz``, resource
  requests and a memory limit, a non-root read-only container with its state on an
  ``emptyDir``, and the replicas spread over nodes.
"""
from __future__ import annotations

from typing import Any

import yaml

NAME = "cockpit-watch"
HEALTH_PORT = 8080
DEFAULT_SELECTOR = "cockpit.io/watch=true"
LABELS = {"app.kubernetes.io/name": NAME, "app.kubernetes.io/part-of": "rollback-cockpit",
          "app.kubernetes.io/component": "watch"}
STATE_DIR = "/var/lib/cockpit"


def role_rules(*, prometheus: bool) -> list[dict[str, Any]]:
    """The Role's rules, least privilege; ``prometheus``: the metrics come from Prometheus (no
    need to read Services or use the API server's proxy)."""
    rules: list[dict[str, Any]] = [
        {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list", "watch", "patch"]},
        {"apiGroups": ["apps"], "resources": ["replicasets"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": [""], "resources": ["pods", "events"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["get", "create", "update", "delete"]},
    ]
    if not prometheus:
        rules.append({"apiGroups": [""], "resources": ["services"], "verbs": ["get"]})
        rules.append({"apiGroups": [""], "resources": ["services/proxy", "pods/proxy"], "verbs": ["get"]})
    return rules


RULE_WHY = [
    "deployments: read the target and its history; patch = the rollback (nothing else is changed)",
    "replicasets: the revisions (rollout history)",
    "pods, events: health, restarts, and the events shown with a verdict",
    "pods/log: the last hour of logs kept as evidence before a rollback",
    "leases: leader election among the replicas (get/create/update) and the target's incident lock "
    "cockpit-incident-<deployment> that every cockpit honours (delete: released when done)",
    "services (get) and services/proxy, pods/proxy (get): find and read the service's /metrics through the "
    "API server (left out with --prometheus-url)",
]


def watcher_manifest(namespace: str, image: str, watch_args: list[str], *, name: str = NAME, replicas: int = 2,
                     health_port: int = HEALTH_PORT, prometheus: bool = False) -> list[dict[str, Any]]:
    """The ServiceAccount, Role, RoleBinding and Deployment (see the module docstring)."""
    meta = {"name": name, "namespace": namespace, "labels": dict(LABELS)}
    sa = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": dict(meta)}
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": dict(meta),
            "rules": role_rules(prometheus=prometheus)}
    binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": dict(meta),
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
               "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}]}
    probe = {"periodSeconds": 10, "timeoutSeconds": 2}
    container = {
        "name": "watch",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["cockpit"],
        "args": ["watch", *watch_args],
        "env": [
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
            {"name": "XDG_STATE_HOME", "value": STATE_DIR},
            {"name": "XDG_CONFIG_HOME", "value": "/etc/cockpit"},
            {"name": "COCKPIT_LOCK_DIR", "value": f"{STATE_DIR}/locks"},
            {"name": "NO_COLOR", "value": "1"},
            {"name": "PYTHONUNBUFFERED", "value": "1"},
        ],
        "ports": [{"name": "health", "containerPort": health_port, "protocol": "TCP"}],
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": "health"}, "initialDelaySeconds": 10,
                          "failureThreshold": 3, **probe},
        "readinessProbe": {"httpGet": {"path": "/readyz", "port": "health"}, "initialDelaySeconds": 2,
                           "failureThreshold": 3, **probe},
        "resources": {"requests": {"cpu": "50m", "memory": "96Mi"}, "limits": {"memory": "256Mi"}},
        "securityContext": {"runAsNonRoot": True, "runAsUser": 65532, "allowPrivilegeEscalation": False,
                            "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}},
        "volumeMounts": [{"name": "state", "mountPath": STATE_DIR}],
    }
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": dict(meta),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
            # one replica at a time: the standby keeps watching while the other restarts
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "template": {
                "metadata": {"labels": {**LABELS, "app.kubernetes.io/name": name}},
                "spec": {
                    "serviceAccountName": name,
                    "terminationGracePeriodSeconds": 30,  # SIGTERM releases the Lease at once
                    "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
                    "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{
                        "weight": 100, "podAffinityTerm": {
                            "topologyKey": "kubernetes.io/hostname",
                            "labelSelector": {"matchLabels": {"app.kubernetes.io/name": name}}}}]}},
                    "containers": [container],
                    "volumes": [{"name": "state", "emptyDir": {}}],
                },
            },
        },
    }
    return [sa, role, binding, deployment]


def render(docs: list[dict[str, Any]], header: list[str]) -> str:
    """The documents as one YAML stream, ``header`` lines as comments first."""
    lines = [f"# {h}".rstrip() for h in header]
    body = yaml.safe_dump_all(docs, sort_keys=False, default_flow_style=False)
    return "\n".join(lines) + ("\n" if lines else "") + "---\n" + body
