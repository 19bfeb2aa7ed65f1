"""Helm release records read straight from the cluster, without ``helm``.

Helm 3 and 4 keep one record per revision of a release, in the release's namespace:

* the **Secret** driver (the default): Secret ``sh.helm.release.v1.NAME.vN`` of type
  ``helm.sh/release.v1``, labels ``owner=helm``, ``name=NAME``, ``version=N``, ``status=…``;
  its ``data.release`` is Helm's encoding of the release — ``base64(gzip(JSON))`` — which the
  Secret's own ``data`` encoding wraps in base64 again;
* the **ConfigMap** driver (``HELM_DRIVER=configmap``): the same name and labels, with
  ``data.release`` = ``base64(gzip(JSON))`` as a string.

Helm's ``decodeRelease`` gunzips only when the gzip magic is there (older records are plain
JSON); so does :func:`decode_release`. The JSON is Helm's ``Release``: ``name``,
``namespace``, ``version``, ``info`` (``status``, ``description``, ``last_deployed``…),
``chart.metadata`` (``name``, ``version``, ``appVersion``), ``config`` (the values the user
gave), ``manifest`` (the rendered YAML). Every outside string is sanitised where it enters a
:class:`HelmRevision`; values are kept as data (the values diff renders them as YAML).
"""
from __future__ import annotations

import base64
import binascii
import difflib
import gzip
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cockpit.errors import CockpitError, NotFoundError
from cockpit.text import sanitize

OWNER_LABEL = "owner=helm"
RECORD_TYPE = "helm.sh/release.v1"
RECORD_PREFIX = "sh.helm.release.v1."
GZIP_MAGIC = b"\x1f\x8b\x08"
STATUSES = ("unknown", "deployed", "uninstalled", "superseded", "failed", "uninstalling",
            "pending-install", "pending-upgrade", "pending-rollback")
PENDING = ("pending-install", "pending-upgrade", "pending-rollback")
_ROLLBACK_TO = re.compile(r"^Rollback to (\d+)$")


class BadRecord(CockpitError):
    """A Helm release record the cockpit cannot decode (corrupt base64, gzip or JSON)."""

    title = "Bad release record"
    exit_code = 1


@dataclass(frozen=True)
class HelmRevision:
    release: str
    namespace: str
    revision: int
    status: str
    chart: str  # name-version, as helm history prints it
    chart_name: str
    chart_version: str
    app_version: str
    description: str
    updated: datetime | None
    images: tuple[str, ...]
    driver: str  # "secret" or "configmap"
    values: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    manifest: str = field(default="", repr=False, compare=False)

    @property
    def pending(self) -> bool:
        return self.status in PENDING

    @property
    def rollback_to(self) -> int | None:
        """The revision this one rolled back to, from Helm's description ("Rollback to 2")."""
        m = _ROLLBACK_TO.match(self.description)
        return int(m.group(1)) if m else None

    def to_json(self) -> dict[str, Any]:
        return {"release": self.release, "namespace": self.namespace, "revision": self.revision,
                "status": self.status, "chart": self.chart, "app_version": self.app_version,
                "description": self.description, "updated": self.updated.isoformat() if self.updated else None,
                "images": list(self.images), "driver": self.driver}


# ---------------------------------------------------------------------------- the encoding


def encode_release(release: dict[str, Any]) -> str:
    """Helm's ``encodeRelease``: JSON, gzip, base64 (std). The value a ConfigMap record holds;
    a Secret record holds these bytes (so the API shows them base64-encoded once more)."""
    raw = json.dumps(release, separators=(",", ":")).encode()
    return base64.b64encode(gzip.compress(raw, compresslevel=9)).decode()


def decode_release(data: str, *, secret: bool) -> dict[str, Any]:
    """The release JSON of a record's ``data.release`` as the API returns it."""
    try:
        text = base64.b64decode(data, validate=True) if secret else data.encode()
        raw = base64.b64decode(text, validate=True)
        if raw[:3] == GZIP_MAGIC:
            raw = gzip.decompress(raw)
        out = json.loads(raw)
    except (binascii.Error, ValueError, OSError, EOFError) as exc:
        raise BadRecord(f"cannot decode the release record: {sanitize(exc, max_len=120)}") from None
    if not isinstance(out, dict):
        raise BadRecord("the release record is not a JSON object")
    return out


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value or value.startswith("0001-"):
        return None
    text = value.strip().replace("Z", "+00:00")
    m = re.match(r"^(.*T\d\d:\d\d:\d\d)(\.\d+)?(.*)$", text)
    if m:  # Go writes nanoseconds; Python takes at most microseconds
        text = m.group(1) + (m.group(2)[:7] if m.group(2) else "") + m.group(3)
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


_IMAGES_SEEN: dict[str, tuple[str, ...]] = {}


def manifest_images(manifest: str) -> tuple[str, ...]:
    """The images the rendered manifest runs (containers and init containers of every pod
    template, in order, each once). Parsed with libyaml where present; only the documents that
    mention ``image`` are parsed, and a manifest seen before (revisions often share one) is not
    parsed again."""
    if manifest in _IMAGES_SEEN:
        return _IMAGES_SEEN[manifest]
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    seen: dict[str, None] = {}

    def pod_specs(doc: dict[str, Any]) -> list[Any]:
        spec = doc.get("spec") if isinstance(doc.get("spec"), dict) else {}
        if doc.get("kind") == "Pod":
            return [spec]
        if doc.get("kind") == "CronJob":
            job = (spec.get("jobTemplate") or {}).get("spec") or {}
            return [((job.get("template") or {}).get("spec"))]
        return [((spec.get("template") or {}) if isinstance(spec.get("template"), dict) else {}).get("spec")]

    for text in re.split(r"(?m)^---[ \t]*$", manifest or ""):
        if "image" not in text:
            continue
        try:
            docs = list(yaml.load_all(text, Loader=loader))
        except yaml.YAMLError:
            continue
        for doc in docs:
            if not isinstance(doc, dict):
                continue
            for ps in pod_specs(doc):
                if not isinstance(ps, dict):
                    continue
                for key in ("initContainers", "containers"):
                    for c in ps.get(key) or []:
                        if isinstance(c, dict) and isinstance(c.get("image"), str):
                            seen.setdefault(sanitize(c["image"], max_len=300), None)
    out = tuple(seen)
    if len(_IMAGES_SEEN) < 256:
        _IMAGES_SEEN[manifest] = out
    return out


def revision_from(rel: dict[str, Any], driver: str) -> HelmRevision:
    info = rel.get("info") if isinstance(rel.get("info"), dict) else {}
    chart = rel.get("chart") if isinstance(rel.get("chart"), dict) else {}
    meta = chart.get("metadata") if isinstance(chart.get("metadata"), dict) else {}
    name, version = sanitize(meta.get("name") or "", max_len=120), sanitize(meta.get("version") or "", max_len=60)
    manifest = rel.get("manifest") if isinstance(rel.get("manifest"), str) else ""
    try:
        number = int(rel.get("version") or 0)
    except (TypeError, ValueError):
        number = 0
    return HelmRevision(
        release=sanitize(rel.get("name") or "", max_len=60), namespace=sanitize(rel.get("namespace") or "", max_len=63),
        revision=number, status=sanitize(info.get("status") or "unknown", max_len=40),
        chart=f"{name}-{version}" if version else name, chart_name=name, chart_version=version,
        app_version=sanitize(meta.get("appVersion") or "", max_len=60),
        description=sanitize(info.get("description") or "", max_len=300),
        updated=_time(info.get("last_deployed")), images=manifest_images(manifest), driver=driver,
        values=rel.get("config") if isinstance(rel.get("config"), dict) else {}, manifest=manifest)


# ---------------------------------------------------------------------------- reading the cluster


def _path(kind: str, namespace: str | None) -> str:
    return f"/api/v1/namespaces/{namespace}/{kind}" if namespace else f"/api/v1/{kind}"


class HelmReleases:
    """Helm's release records over a Kubernetes transport (GETs only)."""

    def __init__(self, transport: Any, namespace: str = "default") -> None:
        self.t = transport
        self.namespace = namespace

    def _records(self, namespace: str | None, selector: str, *, first_found: bool = False
                 ) -> list[tuple[dict[str, Any], str]]:
        out: list[tuple[dict[str, Any], str]] = []
        for kind, driver in (("secrets", "secret"), ("configmaps", "configmap")):
            try:
                listing = self.t.request("GET", _path(kind, namespace), {"labelSelector": selector})
            except NotFoundError:
                continue  # a namespace that does not exist, or a server that does not serve the kind
            for item in listing.get("items") or []:
                if not isinstance(item, dict):
                    continue
                if driver == "secret" and item.get("type") != RECORD_TYPE:
                    continue
                out.append((item, driver))
            if out and first_found:
                break  # Helm keeps a release in one driver: the Secrets answer a history
        return out

    @staticmethod
    def _decode(item: dict[str, Any], driver: str) -> HelmRevision:
        data = (item.get("data") or {}).get("release")
        name = (item.get("metadata") or {}).get("name", "?")
        if not isinstance(data, str):
            raise BadRecord(f"{driver} {sanitize(name, max_len=120)} has no release data")
        try:
            rel = decode_release(data, secret=driver == "secret")
        except BadRecord as exc:
            raise BadRecord(f"{driver} {sanitize(name, max_len=120)}: {exc.message}") from None
        return revision_from(rel, driver)

    def history(self, release: str, namespace: str | None = None) -> list[HelmRevision]:
        """Every revision of ``release``, oldest first; NotFoundError (exit 3) listing the
        namespace's releases when there is none."""
        ns = namespace or self.namespace
        records = self._records(ns, f"{OWNER_LABEL},name={release}", first_found=True)
        revs = [self._decode(item, driver) for item, driver in records]
        if not revs:
            names = sorted({r.release for r in self.list(ns)})
            listed = ", ".join(names) if names else "none"
            raise NotFoundError(f"release {sanitize(release, max_len=60)!r} not found in namespace {ns} "
                                f"(releases there: {listed})")
        revs.sort(key=lambda r: r.revision)
        return revs

    def revision(self, release: str, number: int, namespace: str | None = None,
                 history: list[HelmRevision] | None = None) -> HelmRevision:
        revs = history if history is not None else self.history(release, namespace)
        for r in revs:
            if r.revision == number:
                return r
        raise NotFoundError(f"release {release} has no revision {number} "
                            f"(revisions: {', '.join(str(r.revision) for r in revs)})")

    def list(self, namespace: str | None = None, *, all_namespaces: bool = False) -> list[HelmRevision]:
        """The newest revision of each release (as ``helm list`` — uninstalled ones left out),
        by namespace then name."""
        ns = None if all_namespaces else (namespace or self.namespace)
        newest: dict[tuple[str, str], tuple[int, dict[str, Any], str]] = {}
        for item, driver in self._records(ns, OWNER_LABEL):
            md = item.get("metadata") or {}
            labels = md.get("labels") or {}
            try:
                number = int(labels.get("version", "0"))
            except ValueError:
                continue
            key = (md.get("namespace", ""), labels.get("name", ""))
            if key not in newest or number > newest[key][0]:
                newest[key] = (number, item, driver)
        out = [self._decode(item, driver) for _n, item, driver in newest.values()]
        out = [r for r in out if r.status not in ("uninstalled", "uninstalling")]
        out.sort(key=lambda r: (r.namespace, r.release))
        return out


def deployed(history: list[HelmRevision]) -> HelmRevision | None:
    """The deployed revision (the newest one marked deployed), as Helm's ``Deployed``."""
    live = [r for r in history if r.status == "deployed"]
    return live[-1] if live else None


def _yaml(values: dict[str, Any]) -> list[str]:
    import yaml

    if not values:
        return []
    return yaml.safe_dump(values, sort_keys=True, default_flow_style=False, allow_unicode=True).splitlines()


@dataclass(frozen=True)
class ReleaseDiff:
    release: str
    revision: int
    against: int | None
    values: tuple[str, ...]
    manifest: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"release": self.release, "revision": self.revision, "against": self.against,
                "values": list(self.values), "manifest": list(self.manifest)}


def diff(history: list[HelmRevision], number: int) -> ReleaseDiff:
    """Unified diffs of the user values and of the rendered manifest, from the deployed
    revision to ``number`` (what rolling back to it would change). Lines sanitised."""
    target = next((r for r in history if r.revision == number), None)
    if target is None:
        raise NotFoundError(f"release {history[0].release if history else '?'} has no revision {number} "
                            f"(revisions: {', '.join(str(r.revision) for r in history)})")
    live = deployed(history)
    base_values = _yaml(live.values) if live else []
    base_manifest = live.manifest.splitlines() if live else []
    label = f"revision {live.revision} (deployed)" if live else "nothing deployed"

    def udiff(a: list[str], b: list[str]) -> tuple[str, ...]:
        return tuple(sanitize(line, max_len=2000) for line in
                     difflib.unified_diff(a, b, label, f"revision {number}", lineterm=""))

    return ReleaseDiff(target.release, number, live.revision if live else None,
                       udiff(base_values, _yaml(target.values)),
                       udiff(base_manifest, target.manifest.splitlines()))


def release_of(obj: dict[str, Any]) -> tuple[str, str] | None:
    """``(release, namespace)`` when a Kubernetes object belongs to a Helm release — Helm's
    ownership metadata: label ``app.kubernetes.io/managed-by: Helm`` and annotations
    ``meta.helm.sh/release-name`` / ``meta.helm.sh/release-namespace`` — else None. What lets
    the TUI offer ``helm rollback`` for a deployment."""
    md = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    labels = md.get("labels") if isinstance(md.get("labels"), dict) else {}
    notes = md.get("annotations") if isinstance(md.get("annotations"), dict) else {}
    name = notes.get("meta.helm.sh/release-name")
    if labels.get("app.kubernetes.io/managed-by") != "Helm" or not isinstance(name, str) or not name:
        return None
    ns = notes.get("meta.helm.sh/release-namespace") or md.get("namespace") or "default"
    return sanitize(name, max_len=53), sanitize(ns, max_len=63)
