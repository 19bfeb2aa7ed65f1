"""One operator per target, held as a ``coordination.k8s.io/v1`` Lease every operator sees.

API (a :class:`cockpit.ports.TargetLocker`; the core reaches it through
:func:`cockpit.locks.acquire_target_lock`)::

    LeaseLocker(kube: KubeBackend, *, duration: int = 60, timeout: float = 5.0)
    LeaseLocker.acquire(target: Target, *, actor: str, warn: Warn | None = None) -> TargetLock
        # a LeaseLock, or a cockpit.locks.HostLock when Leases are forbidden (403) or not served (404)
    LeaseLock: holder, where, host_only=False, held, since, namespace, name,
               ensure_held(), renew(), release()
    lease_name(deployment: str) -> str       # "cockpit-incident-<deployment>", a valid DNS-1123 name

The Lease. ``<namespace>/cockpit-incident-<deployment>`` (long names are cut and suffixed
with a hash so they stay a DNS-1123 subdomain), labelled ``app.kubernetes.io/managed-by:
cockpit``, so ``kubectl get lease -n shop`` shows the holder. ``holderIdentity`` is
``"<actor> (pid N)"`` (:func:`cockpit.locks.holder_identity`): the same user on two bastions,
or in two sessions of one bastion, are two holders. Annotations ``cockpit/session`` (a random
id per process: pids repeat, this does not), ``cockpit/host``, ``cockpit/pid``,
``cockpit/pid-started`` and ``cockpit/actor`` say which process holds it. ``acquireTime`` and
``renewTime`` are MicroTime (``%Y-%m-%dT%H:%M:%S.%fZ``).

Acquiring, as client-go's leader election does: create; on AlreadyExists (409) GET it; if
another holder has it and it has not expired (``renewTime + leaseDurationSeconds > now``,
by this host's clock) refuse with :class:`~cockpit.errors.LockedError` naming the holder,
since when and when it was last renewed; if it expired, is ours, or is held by a process
of this host that has died (a crashed session retried on the same bastion need not wait
for the expiry), update it with its ``resourceVersion`` (``leaseTransitions`` + 1 when the
holder changes); a 409 on that update retries once from the GET. A daemon thread renews it
every ``duration / 3`` while it is held; a renewal that finds another holder marks the lock
lost (``held`` is False, ``ensure_held()`` raises, ``warn`` is called once), and so does a
lock that could not be renewed for a whole ``duration``. :meth:`LeaseLock.release` deletes
the Lease only if it is still ours (holder and session), with a ``resourceVersion``
precondition; someone else's is never touched.

Within one process the same actor re-acquiring a target gets a new handle on the same Lease
(reference-counted; one renew thread). Every request has a timeout and writes carry
``fieldManager=cockpit`` (the transport adds it). A readonly backend refuses with
:class:`~cockpit.errors.ReadonlyError` before any request.

RBAC. Where the API answers 403 for Leases (or does not serve them: 404), ``warn`` is called
with e.g. "Leases are forbidden in namespace shop (403): using a host-wide lock file
/run/lock/cockpit/shop_checkout.lock — it does not protect against operators on other
hosts" and the lock is a :class:`cockpit.locks.HostLock`.
"""
from __future__ import annotations

import copy
import hashlib
import re
import socket
import threading
import time
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

from cockpit.errors import CockpitError, ConflictError, LockedError, NotFoundError, ReadonlyError
from cockpit.locks import (
    HINT,
    SESSION,
    HostLock,
    TargetLock,
    Warn,
    lock_dir,
    lock_file_name,
    parse_time,
    process_alive,
    process_identity,
    refusal,
)
from cockpit.model import Target
from cockpit.text import sanitize

from backends.kubernetes.backend import KubeBackend

PREFIX = "cockpit-incident-"
GROUP_VERSION = "coordination.k8s.io/v1"
DEFAULT_DURATION = 60
DEFAULT_TIMEOUT = 5.0
MICROTIME = "%Y-%m-%dT%H:%M:%S.%fZ"
MANAGED_BY = "app.kubernetes.io/managed-by"
A_SESSION, A_HOST, A_PID, A_STARTED, A_ACTOR = (
    "cockpit/session", "cockpit/host", "cockpit/pid", "cockpit/pid-started", "cockpit/actor")


def lease_name(deployment: str) -> str:
    """``cockpit-incident-<deployment>`` as a DNS-1123 subdomain (≤ 253; long ones hashed)."""
    base = re.sub(r"[^a-z0-9.-]+", "-", deployment.lower()).strip("-.") or "target"
    name = PREFIX + base
    if len(name) > 253 or base != deployment:
        digest = hashlib.sha256(deployment.encode()).hexdigest()[:8]
        name = f"{name[:253 - 9].rstrip('-.')}-{digest}"
    return name


def microtime(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime(MICROTIME)


def _is_forbidden(exc: CockpitError) -> bool:
    return type(exc) is CockpitError and exc.title == "Forbidden"


def _ago(seconds: float) -> str:
    s = max(0, int(seconds))
    if s < 120:
        return f"{s}s ago"
    if s < 7200:
        return f"{s // 60}m ago"
    return f"{s // 3600}h ago"


class _Fallback(Exception):
    """Leases are unusable here (403/404): use the host-wide lock file."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class _Held:
    """One Lease held by this process for one holder; shared by its handles."""

    def __init__(self, locker: LeaseLocker, target: Target, me: dict[str, Any], obj: dict[str, Any],
                 warn: Warn | None) -> None:
        self.locker = locker
        self.target = target
        self.me = me
        self.obj = obj
        self.warn = warn
        self.refs = 1
        self.lost: str | None = None
        self.renewed_at = time.monotonic()
        self.mutex = threading.Lock()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, name=f"lease-renew {target}", daemon=True)

    def _loop(self) -> None:
        interval = max(0.2, self.locker.duration / 3)
        while not self.stop.wait(interval):
            try:
                self.renew()
            except LockedError:
                return
            except Exception as exc:  # noqa: BLE001 - unreachable, 5xx: try again; never a traceback
                if self.lost is None and time.monotonic() - self.renewed_at > self.locker.duration:
                    self._lose(f"could not renew it for {self.locker.duration}s ({sanitize(exc, max_len=200)}); "
                               "another operator may take it over")
                    return

    def renew(self) -> None:
        with self.mutex:
            if self.lost is not None:
                raise LockedError(self.lost, hint=HINT)
            if self.stop.is_set():
                raise LockedError(f"the Lease on {self.target} was released", hint=HINT)
            try:
                self.obj = self.locker.write_renewal(self.obj)
            except (ConflictError, NotFoundError):
                try:
                    self.obj = self.locker.take(self.target, self.me)
                except LockedError as exc:
                    self._lose(f"another operator took it over: {exc.message}")
                    raise LockedError(self.lost or "", hint=HINT) from None
                except _Fallback as fb:
                    self._lose(f"Leases are now {fb.reason} in namespace {self.target.namespace} ({fb.status})")
                    raise LockedError(self.lost or "", hint=HINT) from None
            self.renewed_at = time.monotonic()

    def _lose(self, why: str) -> None:
        self.lost = f"the Lease on {self.target} is no longer ours: {why}"
        self.stop.set()
        if self.warn is not None:
            self.warn(self.lost)

    def close(self) -> None:
        self.stop.set()
        if self.thread.is_alive() and self.thread is not threading.current_thread():
            self.thread.join(timeout=self.locker.timeout * 2 + 1)
        if self.lost is None:
            self.locker.delete_if_ours(self.target, self.me)


_registry: dict[tuple[str, str, str, str], _Held] = {}
_registry_mutex = threading.Lock()


class LeaseLock:
    """A handle on a held Lease (see the module docstring)."""

    host_only = False

    def __init__(self, held: _Held) -> None:
        self._held: _Held | None = held
        meta, spec = held.obj["metadata"], held.obj.get("spec") or {}
        self.namespace: str = meta["namespace"] if meta.get("namespace") else held.target.namespace
        self.name: str = meta["name"]
        self.target = held.target
        self.holder: str = held.me["holder"]
        self.where = f"Lease {self.namespace}/{self.name}"
        self.since: datetime | None = parse_time(spec.get("acquireTime"))

    @property
    def held(self) -> bool:
        h = self._held
        return h is not None and h.lost is None and time.monotonic() - h.renewed_at < h.locker.duration

    def ensure_held(self) -> None:
        """Raise LockedError unless the Lease is still ours and fresh; call it before a write."""
        h = self._held
        if h is None:
            raise LockedError(f"the lock on {self.target} was released ({self.where})", hint=HINT)
        if h.lost is not None:
            raise LockedError(h.lost, hint=HINT)
        if time.monotonic() - h.renewed_at >= h.locker.duration:
            raise LockedError(f"the Lease on {self.target} was not renewed for {h.locker.duration}s "
                              f"({self.where}); another operator may hold it now", hint=HINT)

    def renew(self) -> None:
        """Renew now (the thread does it every duration/3). Raises LockedError if it was lost."""
        if self._held is None:
            raise LockedError(f"the lock on {self.target} was released ({self.where})", hint=HINT)
        self._held.renew()

    def release(self) -> None:
        """Drop this handle; the last one stops renewing and deletes the Lease if still ours."""
        with _registry_mutex:
            held, self._held = self._held, None
            if held is None:
                return
            held.refs -= 1
            if held.refs > 0:
                return
            key = held.locker.key(held.target, self.holder)
            if _registry.get(key) is held:
                del _registry[key]
        try:
            held.close()
        except CockpitError as exc:
            if held.warn is not None:
                held.warn(f"could not release {self.where} ({sanitize(exc, max_len=200)}); "
                          f"it expires by itself within {held.locker.duration}s")

    def __enter__(self) -> LeaseLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"LeaseLock({self.where!r}, holder={self.holder!r}, held={self.held})"


class LeaseLocker:
    """Takes the Lease for a target through ``kube``'s transport (a :class:`cockpit.ports.TargetLocker`)."""

    def __init__(self, kube: KubeBackend, *, duration: int = DEFAULT_DURATION, timeout: float = DEFAULT_TIMEOUT) -> None:
        if int(duration) < 1:
            raise CockpitError(f"lease duration must be at least 1s, got {duration}", title="Bad configuration")
        self.kube = kube
        self.duration = int(duration)
        self.timeout = timeout

    # -- paths and identity --------------------------------------------------------------
    def _path(self, namespace: str, name: str | None = None) -> str:
        base = f"/apis/{GROUP_VERSION}/namespaces/{quote(namespace)}/leases"
        return f"{base}/{quote(name)}" if name else base

    def key(self, target: Target, holder: str) -> tuple[str, str, str, str]:
        return (self.kube.t.server, target.namespace, lease_name(target.name), holder)

    @staticmethod
    def ours(obj: dict[str, Any], me: dict[str, Any]) -> bool:
        spec = obj.get("spec") or {}
        ann = (obj.get("metadata") or {}).get("annotations") or {}
        return spec.get("holderIdentity") == me["holder"] and ann.get(A_SESSION) == SESSION

    # -- the public face -----------------------------------------------------------------
    def acquire(self, target: Target, *, actor: str, warn: Warn | None = None) -> TargetLock:
        """Take the Lease on ``target`` (or the host lock file on 403/404). See the module docstring."""
        if self.kube.readonly:
            raise ReadonlyError(f"observers do not take the lock on {target} (this cockpit is readonly; "
                                "nothing was sent)")
        me = process_identity(actor)
        key = self.key(target, me["holder"])
        with _registry_mutex:
            held = _registry.get(key)
            if held is not None and held.lost is None:
                held.refs += 1
                return LeaseLock(held)
            try:
                obj = self.take(target, me)
            except _Fallback as fb:
                path = lock_dir() / lock_file_name(target)
                if warn is not None:
                    warn(f"Leases are {fb.reason} in namespace {target.namespace} ({fb.status}): using a "
                         f"host-wide lock file {path} — it does not protect against operators on other hosts")
                return HostLock.acquire(target, actor=actor, directory=path.parent)
            held = _registry[key] = _Held(self, target, me, obj, warn)
        held.thread.start()
        return LeaseLock(held)

    # -- the algorithm -------------------------------------------------------------------
    def _request(self, method: str, path: str, body: Any = None) -> Any:
        return self.kube.t.request(method, path, body=body, timeout=self.timeout)

    def _new(self, target: Target, me: dict[str, Any], now: float) -> dict[str, Any]:
        return {
            "apiVersion": GROUP_VERSION, "kind": "Lease",
            "metadata": {"name": lease_name(target.name), "namespace": target.namespace,
                         "labels": {MANAGED_BY: "cockpit"}, "annotations": self._annotations(me, target)},
            "spec": {"holderIdentity": me["holder"], "leaseDurationSeconds": self.duration,
                     "acquireTime": microtime(now), "renewTime": microtime(now), "leaseTransitions": 0},
        }

    @staticmethod
    def _annotations(me: dict[str, Any], target: Target) -> dict[str, str]:
        ann = {A_SESSION: SESSION, A_HOST: me["host"], A_PID: str(me["pid"]), A_ACTOR: me["actor"],
               "cockpit/target": str(target)}
        if me.get("started") is not None:
            ann[A_STARTED] = str(me["started"])
        return ann

    def take(self, target: Target, me: dict[str, Any]) -> dict[str, Any]:
        """Create or take over the Lease; LockedError if someone else holds it; _Fallback on 403/404."""
        collection = self._path(target.namespace)
        path = self._path(target.namespace, lease_name(target.name))
        try:
            return self._call("POST", collection, self._new(target, me, time.time()))
        except ConflictError:
            pass  # AlreadyExists
        except NotFoundError as exc:
            raise _Fallback(404, f"not served ({sanitize(exc.message, max_len=120)})") from None
        for _ in range(2):  # a 409 on the update retries once from the GET
            try:
                cur = self._call("GET", path)
            except NotFoundError:  # released meanwhile: create it again
                try:
                    return self._call("POST", collection, self._new(target, me, time.time()))
                except ConflictError:
                    continue
            self._refuse_if_held(target, cur, me, time.time())
            try:
                return self._call("PUT", path, self._takeover(cur, target, me, time.time()))
            except (ConflictError, NotFoundError):
                continue
        raise LockedError(f"could not take the Lease {target.namespace}/{lease_name(target.name)} "
                          f"on {target} (contended)", hint=HINT)

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        try:
            return self._request(method, path, body)
        except CockpitError as exc:
            if _is_forbidden(exc):
                raise _Fallback(403, "forbidden") from None
            raise

    def _refuse_if_held(self, target: Target, cur: dict[str, Any], me: dict[str, Any], now: float) -> None:
        spec = cur.get("spec") or {}
        holder = spec.get("holderIdentity") or ""
        if not holder or self.ours(cur, me):
            return
        renewed = parse_time(spec.get("renewTime")) or parse_time(spec.get("acquireTime"))
        duration = spec.get("leaseDurationSeconds")
        duration = duration if isinstance(duration, int) and duration > 0 else self.duration
        if renewed is None or renewed.timestamp() + duration <= now:
            return  # expired
        ann = (cur.get("metadata") or {}).get("annotations") or {}
        if ann.get(A_HOST) == socket.gethostname():
            try:
                pid = int(ann.get(A_PID, ""))
                started = int(ann[A_STARTED]) if ann.get(A_STARTED) else None
            except ValueError:
                pid, started = 0, None
            if pid > 0 and not process_alive(pid, started):
                return  # its process died on this host
        since = parse_time(spec.get("acquireTime")) or renewed
        where = f"Lease {target.namespace}/{lease_name(target.name)}, renewed {_ago(now - renewed.timestamp())}"
        raise refusal(str(target), holder, since, where)

    def _takeover(self, cur: dict[str, Any], target: Target, me: dict[str, Any], now: float) -> dict[str, Any]:
        """``cur`` updated to name us: a new holder counts a transition and a new acquireTime."""
        new = copy.deepcopy(cur)
        meta = new.setdefault("metadata", {})
        meta.setdefault("labels", {})[MANAGED_BY] = "cockpit"
        meta.setdefault("annotations", {}).update(self._annotations(me, target))
        spec = new.setdefault("spec", {})
        transitions = spec.get("leaseTransitions")
        transitions = transitions if isinstance(transitions, int) and transitions >= 0 else 0
        ours = self.ours(cur, me)
        spec.update(holderIdentity=me["holder"], leaseDurationSeconds=self.duration, renewTime=microtime(now),
                    leaseTransitions=transitions if ours else transitions + 1)
        if not ours or not spec.get("acquireTime"):
            spec["acquireTime"] = microtime(now)
        return new

    def write_renewal(self, obj: dict[str, Any]) -> dict[str, Any]:
        """PUT ``obj`` with a new renewTime and its resourceVersion (409 if it changed meanwhile)."""
        new = copy.deepcopy(obj)
        new.setdefault("spec", {})["renewTime"] = microtime(time.time())
        meta = new["metadata"]
        return self._request("PUT", self._path(meta["namespace"], meta["name"]), new)

    def delete_if_ours(self, target: Target, me: dict[str, Any]) -> None:
        """Delete the Lease if holder and session are still ours (resourceVersion precondition)."""
        path = self._path(target.namespace, lease_name(target.name))
        for _ in range(2):
            try:
                cur = self._request("GET", path)
            except NotFoundError:
                return
            if not self.ours(cur, me):
                return
            rv = (cur.get("metadata") or {}).get("resourceVersion")
            body = {"kind": "DeleteOptions", "apiVersion": "v1", "preconditions": {"resourceVersion": rv}}
            try:
                self._request("DELETE", path, body)
                return
            except NotFoundError:
                return
            except ConflictError:
                continue
