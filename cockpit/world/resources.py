"""The kinds the world serves: one :class:`Resource` each, and the API groups they form.

ServiceAccounts, Roles and RoleBindings are stored and served (so ``kubectl apply -f`` of the
in-cluster watcher's manifest succeeds) but not enforced: authorization is the ``forbid``
switch (:mod:`.verbs`), never these objects.

Everything that depends on "which kinds exist" (routing, discovery, OpenAPI, Status messages,
watch bookmarks) reads this table, so adding a kind is one entry here plus its defaulting and
validation in :mod:`.kube` and its Table in :mod:`.tables`.
"""
from __future__ import annotations

from dataclasses import dataclass

VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


@dataclass(frozen=True)
class Resource:
    name: str
    group: str
    version: str
    kind: str
    singular: str
    namespaced: bool
    short: tuple[str, ...]
    categories: tuple[str, ...]
    subresources: tuple[str, ...] = ("status",)
    # A PUT without metadata.resourceVersion is accepted (``AllowUnconditionalUpdate``).
    unconditional_update: bool = True
    # A PUT of a missing object creates it (``AllowCreateOnUpdate``); only where it changes
    # what a client sees: Leases, which lock clients may create with PUT.
    create_on_update: bool = False
    # Field selectors the server accepts; None: any path (the world's long-standing leniency).
    field_labels: tuple[str, ...] | None = None

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_version(self) -> str:
        return self.api_version

    @property
    def qualified(self) -> str:
        """``leases.coordination.k8s.io``, ``deployments.apps``, ``pods`` — as Status messages say."""
        return f"{self.name}.{self.group}" if self.group else self.name

    @property
    def verbs(self) -> list[str]:
        return [v for v in VERBS if not (self.name == "namespaces" and v == "deletecollection")]


RESOURCES: dict[str, Resource] = {
    r.name: r
    for r in (
        Resource("namespaces", "", "v1", "Namespace", "namespace", False, ("ns",), ()),
        Resource("pods", "", "v1", "Pod", "pod", True, ("po",), ("all",), ("log", "status")),
        Resource("events", "", "v1", "Event", "event", True, ("ev",), (), ()),
        Resource("services", "", "v1", "Service", "service", True, ("svc",), ("all",)),
        # Secrets and ConfigMaps: Helm's storage drivers keep its release records in them
        Resource("secrets", "", "v1", "Secret", "secret", True, (), (), ()),
        Resource("configmaps", "", "v1", "ConfigMap", "configmap", True, ("cm",), (), ()),
        Resource("deployments", "apps", "v1", "Deployment", "deployment", True, ("deploy",), ("all",),
                 ("scale", "status")),
        Resource("replicasets", "apps", "v1", "ReplicaSet", "replicaset", True, ("rs",), ("all",), ("scale", "status")),
        Resource("leases", "coordination.k8s.io", "v1", "Lease", "lease", True, (), (), (),
                 unconditional_update=False, create_on_update=True,
                 field_labels=("metadata.name", "metadata.namespace")),
        Resource("serviceaccounts", "", "v1", "ServiceAccount", "serviceaccount", True, ("sa",), (), ()),
        Resource("roles", "rbac.authorization.k8s.io", "v1", "Role", "role", True, (), (), ()),
        Resource("rolebindings", "rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebinding", True, (), (), ()),
        # Gateway API routes (cockpit/world/gateway.py): the world's traffic follows their weights
        Resource("httproutes", "gateway.networking.k8s.io", "v1", "HTTPRoute", "httproute", True, (),
                 ("gateway-api",)),
    )
}

# The named API groups, in the order /apis lists them (apps first, as kubectl expects nothing else).
GROUPS: tuple[str, ...] = ("apps", "coordination.k8s.io", "rbac.authorization.k8s.io", "gateway.networking.k8s.io")


def in_group(group: str) -> list[Resource]:
    """The resources of one API group ("" is the core group), in table order."""
    return [r for r in RESOURCES.values() if r.group == group]


CORE = in_group("")
APPS = in_group("apps")


def qualified(resource: str) -> str:
    """The group-qualified resource name of a known resource (the name itself otherwise)."""
    r = RESOURCES.get(resource)
    return r.qualified if r is not None else resource


def group_of(resource: str) -> str:
    r = RESOURCES.get(resource)
    return r.group if r is not None else ""
