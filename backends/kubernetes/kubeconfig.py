"""Where the API is and how to authenticate: kubeconfig contexts or in-cluster config.

A small reader for the common kubeconfig shapes (server, CA, client certificate, bearer
token or token file, basic auth, namespace; ``$KUBECONFIG`` lists merged first-wins, as
kubectl does). Users whose credentials come from an ``exec`` or ``auth-provider`` plugin are
flagged ``needs_plugin``: :mod:`backends.kubernetes.transport` then hands the connection to
the official ``kubernetes`` client, which runs those plugins. Reading a kubeconfig this way
costs a few milliseconds instead of the ~0.6 s the official client takes to import.
"""
from __future__ import annotations

import base64
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cockpit.errors import ConfigError, UnreachableError

SA_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


@dataclass
class Connection:
    server: str
    context: str = ""
    namespace: str = "default"
    ca_data: bytes | None = None
    insecure: bool = False
    cert_data: bytes | None = None
    key_data: bytes | None = None
    token: str | None = field(default=None, repr=False)
    token_file: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    needs_plugin: bool = False
    kubeconfig: str | None = None

    def bearer(self) -> str | None:
        return TokenFile(self.token_file).read() if self.token_file else self.token


class TokenFile:
    """A bearer token kept in a file that is replaced while we run: a pod's service-account
    token, which the kubelet rotates (an atomic swap of the projected volume's ``..data``
    link) and which expires within the hour. The file is read again whenever its identity
    (inode, size, mtime) changes — one ``stat`` per request — and at least every
    :data:`REREAD_S` seconds (an in-place rewrite can keep all three), as client-go does. A
    file that is missing, unreadable or empty mid-swap keeps the last token; with none read
    yet it is a ConfigError naming the file."""

    REREAD_S = 60.0

    def __init__(self, path: str) -> None:
        self.path = path
        self._stamp: tuple[int, int, int] | None = None
        self._read_at = 0.0
        self._token = ""
        self._lock = threading.Lock()

    def read(self) -> str:
        import time

        now = time.monotonic()
        try:
            st = os.stat(self.path)
            stamp: tuple[int, int, int] | None = (st.st_ino, st.st_size, st.st_mtime_ns)
        except OSError as exc:
            stamp, why = None, exc.strerror or str(exc)
        with self._lock:
            if stamp is not None and (stamp != self._stamp or now - self._read_at >= self.REREAD_S):
                try:
                    with open(self.path, encoding="utf-8") as fh:
                        token = fh.read().strip()
                    why = "the file is empty"
                except (OSError, UnicodeDecodeError) as exc:
                    token, why = "", getattr(exc, "strerror", None) or str(exc)
                if token:
                    self._stamp, self._read_at, self._token = stamp, now, token
            if not self._token:
                raise ConfigError(f"cannot read token file {self.path}: {why}")
            return self._token


def _default_paths(explicit: str | None) -> list[Path]:
    if explicit:
        return [Path(explicit).expanduser()]
    env = os.environ.get("KUBECONFIG")
    if env:
        return [Path(p).expanduser() for p in env.split(os.pathsep) if p]
    return [Path.home() / ".kube" / "config"]


def _load_yaml(path: Path) -> dict[str, Any]:
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read kubeconfig {path}: {exc.strerror}") from None
    try:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        data = yaml.load(text, Loader=loader) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a kubeconfig mapping (apiVersion: v1, kind: Config)")
    return data


def _named(items: Any, path: Path, key: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for i, item in enumerate(items or []):
        if not isinstance(item, dict) or "name" not in item:
            raise ConfigError(f"{path}: {key}[{i}]: expected a mapping with 'name'")
        out.setdefault(item["name"], item.get(key[:-1]) or {})
    return out


def _data_or_file(entry: dict[str, Any], key: str, base: Path) -> bytes | None:
    if entry.get(f"{key}-data"):
        try:
            return base64.b64decode(entry[f"{key}-data"])
        except ValueError:
            raise ConfigError(f"kubeconfig: {key}-data is not valid base64") from None
    if entry.get(key):
        p = Path(entry[key])
        p = p if p.is_absolute() else base / p
        try:
            return p.read_bytes()
        except OSError as exc:
            raise ConfigError(f"kubeconfig: cannot read {key} {p}: {exc.strerror}") from None
    return None


def in_cluster() -> Connection:
    host, port = os.environ.get("KUBERNETES_SERVICE_HOST"), os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    if not host:
        raise UnreachableError("no kubeconfig found and not running in a cluster", hint="pass --kubeconfig or set KUBECONFIG")
    ns_file = SA_DIR / "namespace"
    host = f"[{host}]" if ":" in host else host
    return Connection(
        server=f"https://{host}:{port}",
        context="in-cluster",
        namespace=ns_file.read_text().strip() if ns_file.exists() else "default",
        ca_data=(SA_DIR / "ca.crt").read_bytes() if (SA_DIR / "ca.crt").exists() else None,
        token_file=str(SA_DIR / "token"),
    )


@dataclass
class _Merged:
    """The kubeconfig files of ``$KUBECONFIG`` (or the one given) merged first-wins, as kubectl does."""

    paths: list[Path]
    contexts: dict[str, dict[str, Any]]
    clusters: dict[str, tuple[dict[str, Any], Path]]
    users: dict[str, tuple[dict[str, Any], Path]]
    current: str | None


def _merged(kubeconfig: str | None) -> _Merged | None:
    paths = [p for p in _default_paths(kubeconfig) if p.exists()]
    if not paths:
        if kubeconfig:
            raise ConfigError(f"kubeconfig {kubeconfig} does not exist")
        return None
    merged = _Merged(paths, {}, {}, {}, None)
    for path in paths:
        doc = _load_yaml(path)
        for name, ctx in _named(doc.get("contexts"), path, "contexts").items():
            merged.contexts.setdefault(name, ctx)
        for name, c in _named(doc.get("clusters"), path, "clusters").items():
            merged.clusters.setdefault(name, (c, path.parent))
        for name, u in _named(doc.get("users"), path, "users").items():
            merged.users.setdefault(name, (u, path.parent))
        merged.current = merged.current or doc.get("current-context")
    return merged


def context_names(kubeconfig: str | None = None) -> tuple[list[str], str | None]:
    """The contexts of the (merged) kubeconfig, sorted, and its current-context. Without a
    kubeconfig (in-cluster) that is ``(["in-cluster"], "in-cluster")``."""
    merged = _merged(kubeconfig)
    if merged is None:
        return ["in-cluster"], "in-cluster"
    return sorted(merged.contexts), merged.current


def load_many(kubeconfig: str | None, contexts: list[str]) -> list[Connection]:
    """The connections of several contexts of one kubeconfig, checked all before any is used:
    a context that is not there is :class:`ConfigError` (exit 2) naming the contexts that are."""
    merged = _merged(kubeconfig)
    if merged is not None:
        missing = [c for c in contexts if c not in merged.contexts]
        if missing:
            known = ", ".join(sorted(merged.contexts)) or "none"
            what = "context" if len(missing) == 1 else "contexts"
            raise ConfigError(f"{what} {', '.join(repr(c) for c in missing)} not in the kubeconfig; contexts: {known}")
    return [load(kubeconfig, c) for c in dict.fromkeys(contexts)]


def load(kubeconfig: str | None = None, context: str | None = None) -> Connection:
    """Resolve the connection for ``context`` (default: current-context)."""
    merged = _merged(kubeconfig)
    if merged is None:
        return in_cluster()
    paths, contexts, clusters, users, current = (merged.paths, merged.contexts, merged.clusters, merged.users,
                                                  merged.current)
    name = context or current
    if not name:
        raise ConfigError(f"{paths[0]}: no current-context and no --context given")
    if name not in contexts:
        known = ", ".join(sorted(contexts)) or "none"
        raise ConfigError(f"context {name!r} is not in the kubeconfig; contexts: {known}")
    ctx = contexts[name]
    cluster_name = ctx.get("cluster")
    if cluster_name not in clusters:
        raise ConfigError(f"context {name!r} names cluster {cluster_name!r}, which the kubeconfig does not define")
    cluster, cbase = clusters[cluster_name]
    if not cluster.get("server"):
        raise ConfigError(f"cluster {cluster_name!r} has no server")
    user, ubase = users.get(ctx.get("user"), ({}, paths[0].parent))
    return Connection(
        server=str(cluster["server"]).rstrip("/"),
        context=name,
        namespace=ctx.get("namespace") or "default",
        ca_data=_data_or_file(cluster, "certificate-authority", cbase),
        insecure=bool(cluster.get("insecure-skip-tls-verify")),
        cert_data=_data_or_file(user, "client-certificate", ubase),
        key_data=_data_or_file(user, "client-key", ubase),
        token=user.get("token"),
        token_file=user.get("tokenFile"),
        username=user.get("username"),
        password=user.get("password"),
        needs_plugin=bool(user.get("exec") or user.get("auth-provider")),
        kubeconfig=str(paths[0]),
    )
