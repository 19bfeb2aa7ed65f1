"""Evidence: files collected during an incident, with a sha256 manifest the journal references.

.. code-block:: python

    ev = EvidenceDir.create(base, "20240501T120341Z-shop_checkout")
    result = collect(ev, {
        "pod-logs": pod_logs_collector(lambda: kube_logs(backend, target, 3600)),
        "events": events_collector(lambda: backend.events(target)),
        "metrics": metrics_collector(lambda: source.export(window)),
    }, journal=journal)

Collectors are plain callables returning ``[(relative_name, bytes | str), ...]`` — ports, so
the core imports no backend. A collector that fails is recorded (``errors``) and the others
still run. :meth:`EvidenceDir.write_manifest` writes ``MANIFEST.sha256`` (``sha256sum -c``
format) and ``manifest.json``; :func:`collect` journals one ``evidence`` record with
``dir``, ``manifest``, ``manifest_sha256``, ``files`` (name, bytes, sha256) and ``errors``.
:func:`verify` re-hashes a directory against its manifest.

File names are confined to the evidence directory (no ``..``, no absolute paths); text is
written as UTF-8 and never interpreted.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cockpit.events import EvidenceCaptured
from cockpit.text import sanitize

Collected = Iterable[tuple[str, "bytes | str"]]
Collector = Callable[[], Collected]
MANIFEST = "MANIFEST.sha256"


def _safe_rel(name: str) -> str:
    parts = [re.sub(r"[^A-Za-z0-9._-]+", "_", p).strip(".") or "_" for p in re.split(r"[\\/]+", name) if p not in ("", ".", "..")]
    return "/".join(parts) or "unnamed"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass
class EvidenceDir:
    path: Path
    files: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def create(cls, base: str | os.PathLike, name: str) -> EvidenceDir:
        path = Path(base) / _safe_rel(name).replace("/", "_")
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        return cls(path)

    def add(self, name: str, data: bytes | str) -> Path:
        rel = _safe_rel(name)
        target = self.path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        target.write_bytes(raw)
        self.files[rel] = {"name": rel, "bytes": len(raw), "sha256": hashlib.sha256(raw).hexdigest()}
        return target

    def write_manifest(self) -> tuple[Path, str]:
        """Write ``MANIFEST.sha256`` and ``manifest.json``; return the manifest and its sha256."""
        entries = sorted(self.files.values(), key=lambda f: f["name"])
        (self.path / "manifest.json").write_text(json.dumps({"files": entries}, indent=2) + "\n", encoding="utf-8")
        text = "".join(f"{f['sha256']}  {f['name']}\n" for f in entries)
        manifest = self.path / MANIFEST
        manifest.write_text(text, encoding="utf-8")
        return manifest, hashlib.sha256(text.encode()).hexdigest()


@dataclass
class EvidenceResult:
    dir: Path
    manifest: Path
    manifest_sha256: str
    files: list[dict[str, Any]]
    errors: list[str]

    @property
    def ok(self) -> bool:
        return not self.errors


def collect(ev: EvidenceDir, collectors: dict[str, Collector], *, journal: Any = None) -> EvidenceResult:
    """Run every collector into ``ev`` — concurrently, each in its own thread (they are network
    reads: the slowest one sets the time, not their sum) — write the manifest and journal an
    ``evidence`` event."""
    from concurrent.futures import ThreadPoolExecutor

    def run(fn: Collector) -> list[tuple[str, Any]]:
        return list(fn())

    errors = []
    with ThreadPoolExecutor(max_workers=max(1, len(collectors)), thread_name_prefix="evidence") as pool:
        futures = {label: pool.submit(run, fn) for label, fn in collectors.items()}
        for label, fut in futures.items():
            try:
                for name, data in fut.result():
                    ev.add(f"{label}/{name}", data)
            except Exception as exc:  # noqa: BLE001 — one failing source must not lose the others
                errors.append(sanitize(f"{label}: {getattr(exc, 'title', type(exc).__name__)}: {exc}", max_len=300))
    manifest, digest = ev.write_manifest()
    files = sorted(ev.files.values(), key=lambda f: f["name"])
    if journal is not None:
        journal.write(EvidenceCaptured(dir=str(ev.path), manifest=str(manifest), manifest_sha256=digest,
                                       files=tuple(files), errors=tuple(errors)))
    return EvidenceResult(ev.path, manifest, digest, files, errors)


def verify(path: str | os.PathLike) -> list[str]:
    """Names whose content no longer matches ``MANIFEST.sha256`` (missing ones included)."""
    folder = Path(path)
    bad = []
    for line in (folder / MANIFEST).read_text(encoding="utf-8").splitlines():
        digest, _, name = line.partition("  ")
        f = folder / name
        if not f.is_file() or sha256_file(f) != digest:
            bad.append(name)
    return bad


# ---- collector adapters: ports in, (name, data) out


def pod_logs_collector(fetch: Callable[[], Iterable[tuple[str, str, str]]]) -> Collector:
    """``fetch() -> [(pod, container, text)]`` → ``<pod>/<container>.log`` files."""
    return lambda: [(f"{pod}/{container or 'default'}.log", text) for pod, container, text in fetch()]


def events_collector(fetch: Callable[[], Iterable[Any]]) -> Collector:
    """``fetch() -> [EventInfo | dict]`` → ``events.json``."""
    def run() -> Collected:
        from cockpit.output import to_json

        return [("events.json", to_json(list(fetch())) + "\n")]

    return run


def metrics_collector(fetch: Callable[[], Any], name: str = "metrics.json") -> Collector:
    """``fetch() -> JSON-able`` (a metrics export of the incident window) → ``metrics.json``."""
    def run() -> Collected:
        from cockpit.output import to_json

        return [(name, to_json(fetch()) + "\n")]

    return run


def journal_metrics(records: list[dict]) -> list[dict]:
    """A metrics export from the journal itself (verdict / metrics records)."""
    from cockpit.report import metric_points

    return [{"at": at.isoformat().replace("+00:00", "Z"), "error_rate": er, "p95_ms": p95}
            for at, er, p95 in metric_points(records)]
