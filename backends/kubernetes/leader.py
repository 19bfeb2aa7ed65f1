"""Leader election for the in-cluster watcher's replicas, over a ``coordination.k8s.io/v1`` Lease.

A small version of client-go's ``tools/leaderelection`` (read from its ``leaderelection.go``),
the algorithm every controller-manager replica runs:

- **Observed record, local clock.** Each candidate GETs the Lease every ``retry_period`` and
  remembers the record (holder, duration, acquire/renew times, transitions) and *when it last
  saw it change*, by its own monotonic clock. The record's timestamps are never compared with
  this host's clock, so clock skew between nodes does not matter (a skew *rate* does: keep
  ``lease_duration / renew_deadline`` above it).
- **Acquire when expired.** A candidate takes the Lease (a PUT carrying the resourceVersion it
  read, so two candidates cannot both win; ``leaseTransitions`` + 1) when nobody holds it, or
  when the holder's record has not changed for ``leaseDurationSeconds``. A missing Lease is
  created (a second creator gets 409 and loses).
- **Renew before the renew deadline.** The leader renews every ``retry_period`` (first
  optimistically from the object it last wrote, then from a fresh GET); if it cannot renew for
  ``renew_deadline`` it stops leading and goes back to acquiring. :meth:`LeaderElector.is_leader`
  is already False past the renew deadline, before the loop notices, so a leader cut off from
  the API stops acting ``lease_duration - renew_deadline`` before anyone else may take over.
- **Release on SIGTERM** (client-go's ``ReleaseOnCancel``): :meth:`LeaderElector.stop` writes the
  record with no holder and ``leaseDurationSeconds: 1``, so a standby takes over at its next
  retry instead of waiting out the lease. Call it only once the work the Lease guards has
  stopped.

Constraints, as client-go checks them: ``lease_duration > renew_deadline > 1.2 * retry_period``,
all above zero (client-go's defaults: 15 s, 10 s, 2 s; the watcher's: 15 s, 10 s, 0.5 s, because a
standby takes over at most ``lease_duration + 2 × 1.2 × retry_period`` after the leader's last
renewal, and the goal is the lease duration + 2 s). This gives no fencing: a leader paused
longer than ``lease_duration - renew_deadline`` may act late, as with client-go.

Shared state on the Lease. The leader may keep small records in the Lease's annotations
(:meth:`LeaderElector.update_annotation`, compare-and-swap with the Lease's
resourceVersion): a takeover copies them, so the next leader reads what the last one did.
The watcher keeps its incidents there (``cockpit.io/watch-incidents``), which is how one
rollback per incident holds across replicas.

API::

    LeaderElector(transport, namespace, name, identity, *, lease_duration=15, renew_deadline=10.0,
                  retry_period=0.5, log=print, timeout=5.0)
    .start() -> self          # the election loop, in a daemon thread
    .is_leader() -> bool      # holder is us and renewed within the renew deadline
    .leader() -> str          # the last observed holder ("" for none)
    .annotation(key) -> str | None              # from the last observed Lease
    .update_annotation(key, fn) -> str          # leader only: CAS; LockedError if not leading
    .wait_for_leadership(timeout) -> bool
    .stop(release=True)       # stop the loop; release the Lease if we hold it
    lease_name_for(deployment=None, selector=None) -> str
"""
from __future__ import annotations

import copy
import hashlib
import json
import random
import re
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

from cockpit.errors import CockpitError, ConfigError, ConflictError, LockedError, NotFoundError
from cockpit.text import sanitize

GROUP_VERSION = "coordination.k8s.io/v1"
MICROTIME = "%Y-%m-%dT%H:%M:%S.%fZ"
MANAGED_BY = "app.kubernetes.io/managed-by"
COMPONENT = "app.kubernetes.io/component"
JITTER = 1.2
RECORD_KEYS = ("holderIdentity", "leaseDurationSeconds", "acquireTime", "renewTime", "leaseTransitions")


def lease_name_for(deployment: str | None = None, selector: str | None = None) -> str:
    """``cockpit-watch-<deployment>``, or ``cockpit-watch-l-<hash of the selector>``: watchers of
    different targets never share a Lease (a DNS-1123 subdomain, long names hashed)."""
    if selector:
        return "cockpit-watch-l-" + hashlib.sha256(selector.encode()).hexdigest()[:10]
    base = re.sub(r"[^a-z0-9.-]+", "-", (deployment or "").lower()).strip("-.") or "target"
    name = "cockpit-watch-" + base
    if len(name) > 253 or base != deployment:
        name = f"{name[:243].rstrip('-.')}-{hashlib.sha256((deployment or '').encode()).hexdigest()[:8]}"
    return name


def _microtime(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime(MICROTIME)


def _record(obj: dict[str, Any] | None) -> dict[str, Any]:
    spec = (obj or {}).get("spec") or {}
    return {k: spec.get(k) for k in RECORD_KEYS}


def validate_timings(lease_duration: float, renew_deadline: float, retry_period: float) -> None:
    """client-go's checks, as one ConfigError line (exit 2)."""
    if lease_duration < 1 or int(lease_duration) != lease_duration:
        raise ConfigError(f"--lease-duration {lease_duration:g}: expected a whole number of seconds, at least 1 "
                          "(a Lease's leaseDurationSeconds is an integer)")
    if renew_deadline <= 0 or retry_period <= 0:
        raise ConfigError("--renew-deadline and --retry-period must be above zero")
    if lease_duration <= renew_deadline:
        raise ConfigError(f"--lease-duration ({lease_duration:g}s) must be greater than --renew-deadline "
                          f"({renew_deadline:g}s)")
    if renew_deadline <= JITTER * retry_period:
        raise ConfigError(f"--renew-deadline ({renew_deadline:g}s) must be greater than 1.2 x --retry-period "
                          f"({retry_period:g}s)")


class LeaderElector:
    """One candidate in the election for ``namespace/name`` (see the module docstring)."""

    def __init__(self, transport: Any, namespace: str, name: str, identity: str, *, lease_duration: float = 15,
                 renew_deadline: float = 10.0, retry_period: float = 0.5, log: Callable[[str], None] = print,
                 timeout: float = 5.0, clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time) -> None:
        validate_timings(lease_duration, renew_deadline, retry_period)
        if not identity:
            raise ConfigError("leader election needs a non-empty identity")
        self.t = transport
        self.namespace, self.name, self.identity = namespace, name, identity
        self.lease_duration = int(lease_duration)
        self.renew_deadline = float(renew_deadline)
        self.retry_period = float(retry_period)
        self.log = log
        self.timeout = min(timeout, self.renew_deadline)
        self.clock, self.wall = clock, wall
        self.where = f"Lease {namespace}/{name}"
        self._mutex = threading.RLock()
        self._obj: dict[str, Any] | None = None          # the Lease as last read or written
        self._observed: dict[str, Any] = {}               # its record
        self._observed_time = 0.0                         # when the record last changed (our clock)
        self._renewed_at: float | None = None             # our last successful acquire/renew
        self._reported: str | None = None
        self._failing: str | None = None
        self._stop = threading.Event()
        self._leading = threading.Event()
        self._thread: threading.Thread | None = None
        self.transitions = 0
        """How many times this process became the leader."""

    # ------------------------------------------------------------------ public face
    def start(self) -> LeaderElector:
        self._thread = threading.Thread(target=self._run, name=f"leader-election {self.where}", daemon=True)
        self._thread.start()
        return self

    def is_leader(self) -> bool:
        """Whether this process holds the Lease and renewed it within the renew deadline."""
        with self._mutex:
            return (self._observed.get("holderIdentity") == self.identity and self._renewed_at is not None
                    and self.clock() - self._renewed_at < self.renew_deadline and not self._stop.is_set())

    def leader(self) -> str:
        with self._mutex:
            return str(self._observed.get("holderIdentity") or "")

    def annotation(self, key: str) -> str | None:
        with self._mutex:
            return ((self._obj or {}).get("metadata") or {}).get("annotations", {}).get(key)

    def wait_for_leadership(self, timeout: float) -> bool:
        return self._leading.wait(timeout)

    def update_annotation(self, key: str, fn: Callable[[str | None], str]) -> str:
        """As the leader, set annotation ``key`` to ``fn(current value)`` on the Lease (a PUT with
        its resourceVersion, renewing it too). LockedError if this process is not the leader,
        or stops being it before the write lands; nothing is written then."""
        with self._mutex:
            for _ in range(2):
                if not self.is_leader() or self._obj is None:
                    raise LockedError(f"not the leader of {self.where} (held by {self.leader() or 'nobody'})")
                new = copy.deepcopy(self._obj)
                ann = new.setdefault("metadata", {}).setdefault("annotations", {})
                value = fn(ann.get(key))
                ann[key] = value
                new.setdefault("spec", {})["renewTime"] = _microtime(self.wall())
                try:
                    self._accept(self._request("PUT", self._path(self.name), new), ours=True)
                    return value
                except ConflictError:
                    if not self._refresh_ours():
                        break
                except CockpitError as exc:
                    raise LockedError(f"could not write to {self.where}: {sanitize(exc, max_len=200)}") from None
            raise LockedError(f"{self.where} changed hands; not the leader any more")

    def stop(self, release: bool = True) -> bool:
        """Stop the loop; with ``release``, give the Lease up if we hold it (no holder,
        ``leaseDurationSeconds: 1``). Returns whether a release was written."""
        self._stop.set()
        t = self._thread
        if t is not None and t.is_alive() and t is not threading.current_thread():
            t.join(timeout=self.timeout * 2 + self.retry_period + 1)
        if not release:
            return False
        with self._mutex:
            if self._observed.get("holderIdentity") != self.identity or self._obj is None:
                return False
            for _ in range(2):
                now = self.wall()
                new = copy.deepcopy(self._obj)
                new["spec"] = {**(new.get("spec") or {}), "leaseDurationSeconds": 1, "renewTime": _microtime(now),
                               "acquireTime": _microtime(now)}
                new["spec"].pop("holderIdentity", None)
                try:
                    self._accept(self._request("PUT", self._path(self.name), new), ours=False)
                    self._renewed_at = None
                    self.log(f"leader election: released {self.where}")
                    return True
                except ConflictError:
                    if not self._refresh_ours():
                        return False
                except CockpitError as exc:
                    self.log(f"leader election: could not release {self.where} ({sanitize(exc, max_len=200)}); "
                             f"it expires by itself within {self.lease_duration}s")
                    return False
        return False

    # ------------------------------------------------------------------ the loop
    def _run(self) -> None:
        while not self._stop.is_set():
            if not self._acquire():
                return
            self._leading.set()
            self.transitions += 1
            self.log(f"leader election: {self.identity} is the leader ({self.where})")
            self._renew()
            self._leading.clear()
            if self._stop.is_set():
                return
            self.log(f"leader election: lost {self.where} (not renewed within {self.renew_deadline:g}s); "
                     "standing by")

    def _acquire(self) -> bool:
        self.log(f"leader election: {self.identity} is a candidate for {self.where}")
        while not self._stop.is_set():
            if self._try_acquire_or_renew():
                return True
            self._report()
            self._stop.wait(self.retry_period * random.uniform(1.0, JITTER))
        return False

    def _renew(self) -> None:
        while not self._stop.is_set():
            deadline = self.clock() + self.renew_deadline
            while True:
                if self._stop.is_set():
                    return
                if self._try_acquire_or_renew():
                    break
                if self.clock() + self.retry_period >= deadline or not self._still_ours():
                    with self._mutex:
                        self._renewed_at = None
                    return
                self._stop.wait(self.retry_period)
            self._stop.wait(self.retry_period)

    def _still_ours(self) -> bool:
        with self._mutex:
            return self._observed.get("holderIdentity") == self.identity

    # ------------------------------------------------------------------ one attempt
    def _path(self, name: str | None = None) -> str:
        base = f"/apis/{GROUP_VERSION}/namespaces/{quote(self.namespace)}/leases"
        return f"{base}/{quote(name)}" if name else base

    def _request(self, method: str, path: str, body: Any = None) -> Any:
        return self.t.request(method, path, body=body, timeout=self.timeout)

    def _new_record(self, now: float, cur: dict[str, Any]) -> dict[str, Any]:
        ours = cur.get("holderIdentity") == self.identity
        transitions = cur.get("leaseTransitions") if isinstance(cur.get("leaseTransitions"), int) else 0
        return {"holderIdentity": self.identity, "leaseDurationSeconds": self.lease_duration,
                "acquireTime": cur.get("acquireTime") if ours and cur.get("acquireTime") else _microtime(now),
                "renewTime": _microtime(now), "leaseTransitions": transitions if ours else transitions + 1}

    def _accept(self, obj: dict[str, Any], *, ours: bool) -> None:
        """Record what we wrote (or read) as the observed Lease."""
        self._obj = obj
        rec = _record(obj)
        if rec != self._observed:
            self._observed, self._observed_time = rec, self.clock()
        if ours:
            self._renewed_at = self.clock()

    def _try_acquire_or_renew(self) -> bool:
        with self._mutex:
            now = self.wall()
            # 1. the leader's fast path: update the object we last wrote
            if self.is_leader() and self._obj is not None:
                new = copy.deepcopy(self._obj)
                new["spec"] = {**(new.get("spec") or {}), **self._new_record(now, self._observed)}
                try:
                    self._accept(self._request("PUT", self._path(self.name), new), ours=True)
                    self._failing = None
                    return True
                except CockpitError:
                    pass  # the slow path finds out why
            # 2. read it (create it when there is none)
            try:
                cur = self._request("GET", self._path(self.name))
            except NotFoundError:
                return self._create(now)
            except CockpitError as exc:
                self._fail(exc)
                return False
            rec = _record(cur)
            if rec != self._observed:
                self._observed, self._observed_time = rec, self.clock()
            self._obj = cur
            # 3. held by someone else and not expired (by our clock since we saw it change)?
            holder = rec.get("holderIdentity") or ""
            duration = rec.get("leaseDurationSeconds") if isinstance(rec.get("leaseDurationSeconds"), int) else 0
            if holder and holder != self.identity and self.clock() < self._observed_time + duration:
                self._failing = None
                return False
            # 4. take it over (or renew it) with the resourceVersion we read
            new = copy.deepcopy(cur)
            meta = new.setdefault("metadata", {})
            meta.setdefault("labels", {}).update({MANAGED_BY: "cockpit", COMPONENT: "watch"})
            new["spec"] = {**(new.get("spec") or {}), **self._new_record(now, rec)}
            try:
                self._accept(self._request("PUT", self._path(self.name), new), ours=True)
            except ConflictError:
                return False  # someone else wrote first
            except CockpitError as exc:
                self._fail(exc)
                return False
            self._failing = None
            return True

    def _create(self, now: float) -> bool:
        body = {"apiVersion": GROUP_VERSION, "kind": "Lease",
                "metadata": {"name": self.name, "namespace": self.namespace,
                             "labels": {MANAGED_BY: "cockpit", COMPONENT: "watch"}},
                "spec": self._new_record(now, {"leaseTransitions": -1})}
        try:
            self._accept(self._request("POST", self._path(), body), ours=True)
        except ConflictError:
            return False  # another candidate created it first
        except CockpitError as exc:
            self._fail(exc)
            return False
        self._failing = None
        return True

    def _refresh_ours(self) -> bool:
        """After a 409: re-read; True if the Lease is still ours and fresh (retry the write)."""
        try:
            cur = self._request("GET", self._path(self.name))
        except CockpitError:
            return False
        self._accept(cur, ours=False)
        return _record(cur).get("holderIdentity") == self.identity and self.is_leader()

    def _fail(self, exc: CockpitError) -> None:
        if exc.title == "Forbidden":
            text = (f"leader election: Leases are forbidden in namespace {self.namespace} "
                    f"({sanitize(exc.message, max_len=200)}); the watcher needs get, create and update on "
                    "leases.coordination.k8s.io (see `cockpit watch --print-manifest`)")
        else:
            text = (f"leader election: cannot read or write {self.where} ({exc.title}: "
                    f"{sanitize(exc.message, max_len=200)}); retrying every {self.retry_period:g}s")
        if text != self._failing:
            self._failing = text
            self.log(text)

    def _report(self) -> None:
        holder = self.leader()
        if holder and holder != self._reported and holder != self.identity:
            self._reported = holder
            self.log(f"leader election: {holder} leads ({self.where}); {self.identity} stands by")


def incidents(value: str | None) -> dict[str, Any]:
    """The watcher's incident records kept on the Lease (``cockpit.io/watch-incidents``): JSON
    ``{target: {incident, state, by, at, ...}}``; anything unreadable counts as none."""
    if not value:
        return {}
    try:
        doc = json.loads(value)
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


INCIDENTS = "cockpit.io/watch-incidents"
MAX_INCIDENTS = 200


class WatchLeadership:
    """The watcher's view of a :class:`LeaderElector` (:class:`cockpit.watch.Leadership`): who
    leads, and the incidents the leaders acted on, kept on the Lease (one record per target,
    the latest incident's)."""

    def __init__(self, elector: LeaderElector) -> None:
        self.elector = elector
        self.identity = elector.identity
        self.where = elector.where

    def is_leader(self) -> bool:
        return self.elector.is_leader()

    def holder(self) -> str:
        return self.elector.leader()

    def incident(self, target: str) -> dict[str, Any] | None:
        rec = incidents(self.elector.annotation(INCIDENTS)).get(target)
        return rec if isinstance(rec, dict) else None

    def record_incident(self, target: str, entry: dict[str, Any]) -> None:
        def put(cur: str | None) -> str:
            doc = incidents(cur)
            doc[target] = dict(entry, by=self.identity)
            if len(doc) > MAX_INCIDENTS:  # the oldest records go first
                for key in sorted(doc, key=lambda k: str((doc[k] or {}).get("at", "")))[:len(doc) - MAX_INCIDENTS]:
                    del doc[key]
            return json.dumps(doc, sort_keys=True, separators=(",", ":"))

        self.elector.update_annotation(INCIDENTS, put)
