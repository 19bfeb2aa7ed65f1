"""HAProxy through its runtime API on the admin socket (``stats socket … level admin``).

A *route* is an HAProxy backend, its *backends* are the servers in it. Weights are set with
``set server BACKEND/SERVER weight N`` (0–256), instances taken out and put back with
``set server BACKEND/SERVER state drain|maint|ready``, read with ``show servers state
BACKEND`` and ``show stat`` (per-server response counters, for the verdict).

Every command is one connection (the socket's non-interactive mode: one line in, the answer,
then HAProxy closes), with a timeout on connect and read: a socket that does not answer is
:class:`~cockpit.errors.UnreachableError` naming it. Writes are all-or-nothing: every server
is checked to exist and every weight to fit before the first ``set``; when a ``set`` is
refused anyway, the ones already sent are put back. Readonly refuses before a byte is sent,
here and again in :meth:`HAProxyTraffic._send`.
"""
from __future__ import annotations

import socket
from collections.abc import Mapping
from pathlib import Path

from cockpit.errors import CockpitError, ConfigError, NotFoundError, ReadonlyError, UnreachableError
from cockpit.text import sanitize

STATES = ("ready", "drain", "maint")
_WRITES = ("set ", "enable ", "disable ", "add ", "del ", "clear ", "shutdown ")
_ADMIN_BITS = {0x01: "maint", 0x02: "maint", 0x04: "maint", 0x08: "drain", 0x10: "drain", 0x20: "maint"}


class HAProxyTraffic:
    """The traffic port over one HAProxy's admin socket (a UNIX path or ``HOST:PORT``)."""

    def __init__(self, socket_path: str | Path, *, readonly: bool = False, timeout: float = 5.0) -> None:
        self.address = str(socket_path)
        self.readonly = readonly
        self.timeout = timeout
        self.writes = 0
        """Write commands sent (each ``set server``), for tests and the journal."""

    # ---- transport

    def _connect(self) -> socket.socket:
        addr = self.address
        try:
            if ":" in addr and not addr.startswith(("/", ".")):
                host, _, port = addr.rpartition(":")
                sock = socket.create_connection((host.strip("[]"), int(port)), timeout=self.timeout)
            else:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.settimeout(self.timeout)
                sock.connect(addr)
        except (OSError, ValueError) as exc:
            raise UnreachableError(f"HAProxy admin socket {sanitize(addr)} does not answer: "
                                   f"{sanitize(getattr(exc, 'strerror', None) or str(exc))}",
                                   hint="is haproxy running with `stats socket PATH level admin`?") from None
        return sock

    def _send(self, command: str) -> str:
        if self.readonly and command.lstrip().startswith(_WRITES):
            raise ReadonlyError(f"readonly: not sending {command.split(';')[0]!r} to HAProxy (nothing was sent)")
        sock = self._connect()
        chunks: list[bytes] = []
        try:
            sock.sendall(command.encode() + b"\n")
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                chunks.append(data)
        except OSError as exc:
            raise UnreachableError(f"HAProxy admin socket {sanitize(self.address)} did not answer "
                                   f"{command.split()[0]!r} within {self.timeout:g}s ({sanitize(str(exc))})") from None
        finally:
            sock.close()
        return b"".join(chunks).decode("utf-8", "replace")

    # ---- reads

    def backends(self) -> list[str]:
        lines = self._send("show backend").splitlines()
        return [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]

    def servers(self, route: str) -> list[dict[str, str]]:
        """``show servers state ROUTE`` as dicts keyed by its header's column names."""
        _check_name(route)
        text = self._send(f"show servers state {route}")
        lines = [ln for ln in text.splitlines() if ln.strip()]
        header = next((ln for ln in lines if ln.startswith("# ")), None)
        if header is None:
            if "Can't find backend" in text:
                known = ", ".join(sanitize(b) for b in self.backends() if not b.startswith("MASTER")) or "none"
                raise NotFoundError(f"HAProxy has no backend {sanitize(route)!r}; its backends: {known}")
            raise CockpitError(f"HAProxy answered `show servers state` with {sanitize(text.strip(), max_len=200)!r}",
                               title="HAProxy")
        cols = header[2:].split()
        rows = []
        for ln in lines:
            if ln.startswith("#") or " " not in ln:
                continue
            rows.append(dict(zip(cols, ln.split())))
        return rows

    def get_weights(self, route: str) -> dict[str, int]:
        return {r["srv_name"]: int(r["srv_uweight"]) for r in self.servers(route)}

    def states(self, route: str) -> dict[str, str]:
        """server → ``ready``, ``drain`` or ``maint`` (from the admin state bits)."""
        out = {}
        for r in self.servers(route):
            bits = int(r.get("srv_admin_state", "0"))
            state = "ready"
            for bit, name in _ADMIN_BITS.items():
                if bits & bit:
                    state = "maint" if name == "maint" or state == "maint" else name
            out[r["srv_name"]] = state
        return out

    def error_counts(self, route: str) -> dict[str, tuple[int, int]]:
        """server → (responses + connection/response errors, 5xx + those errors) from ``show stat``."""
        text = self._send("show stat")
        lines = text.splitlines()
        if not lines or not lines[0].startswith("# "):
            raise CockpitError(f"HAProxy answered `show stat` with {sanitize(text.strip(), max_len=200)!r}", title="HAProxy")
        cols = lines[0][2:].split(",")
        out: dict[str, tuple[int, int]] = {}

        def n(row: dict[str, str], key: str) -> int:
            v = row.get(key) or "0"
            return int(v) if v.isdigit() else 0

        for ln in lines[1:]:
            row = dict(zip(cols, ln.split(",")))
            if row.get("pxname") != route or row.get("svname") in ("FRONTEND", "BACKEND", None):
                continue
            failed = n(row, "econ") + n(row, "eresp")
            resp = sum(n(row, f"hrsp_{k}") for k in ("1xx", "2xx", "3xx", "4xx", "5xx", "other"))
            out[row["svname"]] = (resp + failed, n(row, "hrsp_5xx") + failed)
        return out

    # ---- writes

    def set_weights(self, route: str, weights: Mapping[str, int]) -> dict[str, int]:
        if self.readonly:
            raise ReadonlyError(f"readonly: not changing the weights of HAProxy backend {sanitize(route)} (nothing was sent)")
        before = self.get_weights(route)
        unknown = [s for s in weights if s not in before]
        if unknown:
            raise NotFoundError(f"HAProxy backend {sanitize(route)} has no server {sanitize(unknown[0])!r}; "
                                f"its servers: {', '.join(sanitize(s) for s in before)}")
        for s, w in weights.items():
            _check_name(s)
            if not isinstance(w, int) or isinstance(w, bool) or not 0 <= w <= 256:
                raise ConfigError(f"weight {w!r} for {sanitize(s)}: HAProxy weights are whole numbers from 0 to 256")
        if weights and sum(weights.values()) == 0 and set(weights) >= set(before):
            raise ConfigError(f"refusing to set every server of {sanitize(route)} to weight 0 (it would serve nothing)")
        done: list[str] = []
        try:
            for s, w in weights.items():
                if before[s] == w:
                    continue
                self._set(route, s, f"weight {w}")
                done.append(s)
        except CockpitError:
            for s in done:
                try:
                    self._set(route, s, f"weight {before[s]}")
                except CockpitError:
                    pass
            raise
        return self.get_weights(route)

    def set_state(self, route: str, backend: str, state: str) -> None:
        if state not in STATES:
            raise ConfigError(f"state {state!r}: expected one of {', '.join(STATES)}")
        if self.readonly:
            raise ReadonlyError(f"readonly: not setting {sanitize(route)}/{sanitize(backend)} to {state} (nothing was sent)")
        if backend not in self.get_weights(route):
            raise NotFoundError(f"HAProxy backend {sanitize(route)} has no server {sanitize(backend)!r}")
        self._set(route, backend, f"state {state}")

    def _set(self, route: str, server: str, what: str) -> None:
        answer = self._send(f"set server {route}/{server} {what}").strip()
        self.writes += 1
        if answer:
            raise CockpitError(f"HAProxy refused `set server {sanitize(route)}/{sanitize(server)} {what}`: "
                               f"{sanitize(answer, max_len=200)}", title="HAProxy")


def _check_name(name: str) -> None:
    if not name or any(c.isspace() or c in ";/#" for c in name):
        raise ConfigError(f"{sanitize(name)!r} is not an HAProxy backend or server name")
