"""The docker backend: containers, image tags, logs, and guarded mutating primitives.

Synchronous (the docker SDK is); every call has a timeout. Built ``readonly=True`` it
refuses every write twice over: each mutating method raises :class:`ReadonlyError` before
doing anything, and the HTTP session itself refuses any method but GET/HEAD, so no write
can reach the daemon even through a path we forgot.

The SDK (``import docker``) is imported lazily, on first use.
"""
from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from backends.docker.model import ContainerInfo, ImageTag
from cockpit.errors import (
    CockpitError,
    ConflictError,
    NotFoundError,
    ReadonlyError,
    UnreachableError,
)
from cockpit.text import sanitize

DEFAULT_HOST = "unix:///var/run/docker.sock"
USER_AGENT = "rollback-cockpit"


def default_host() -> str:
    return os.environ.get("DOCKER_HOST") or DEFAULT_HOST


def parse_time(value: Any) -> datetime | None:
    """Docker's timestamps: RFC 3339 with nanoseconds, or epoch seconds."""
    if value in (None, "", 0, "0001-01-01T00:00:00Z"):
        return None
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, timezone.utc)
    text = str(value).replace("Z", "+00:00")
    if "." in text:
        head, _, rest = text.partition(".")
        digits = rest[: len(rest) - len(rest.lstrip("0123456789"))]
        zone = rest[len(digits):]
        text = f"{head}.{digits[:6]}{zone}"
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def split_reference(ref: str) -> tuple[str, str]:
    """``registry:5000/repo:tag`` -> (``registry:5000/repo``, ``tag``); digest refs keep no tag."""
    ref = ref.split("@", 1)[0]
    slash = ref.rfind("/")
    colon = ref.rfind(":")
    if colon > slash:
        return ref[:colon], ref[colon + 1:]
    return ref, "latest"


def names_registry(repository: str) -> bool:
    """Whether a repository names a registry host (``ghcr.io/x``, ``localhost:5000/x``)."""
    first, _, rest = repository.partition("/")
    return bool(rest) and ("." in first or ":" in first or first == "localhost")


class DockerBackend:
    """One docker daemon. ``host`` like ``unix:///run/docker.sock`` or ``tcp://h:2375``."""

    kind = "docker"

    def __init__(self, host: str | None = None, *, readonly: bool = False, timeout: float = 30.0) -> None:
        self.host = host or default_host()
        self.readonly = readonly
        self.timeout = timeout
        self._api = None
        self._mutex = threading.Lock()

    # ------------------------------------------------------------------ connection

    def _where(self) -> str:
        return sanitize(self.host)

    @property
    def api(self):  # noqa: ANN201 — docker.APIClient
        with self._mutex:
            if self._api is None:
                self._api = self._connect()
            return self._api

    def _connect(self):  # noqa: ANN202
        import docker
        import docker.errors

        try:
            api = docker.APIClient(base_url=self.host, version="auto", timeout=self.timeout, user_agent=USER_AGENT)
        except docker.errors.DockerException as exc:
            raise self._unreachable(exc) from None
        if self.readonly:
            send = api.request

            def request(method: str, url: str, *args: Any, **kwargs: Any) -> Any:
                if method.upper() not in ("GET", "HEAD"):
                    raise ReadonlyError(f"refused {method.upper()} {url.rsplit('/v1.', 1)[-1]}: the docker backend is readonly")
                return send(method, url, *args, **kwargs)

            api.request = request  # the session: nothing but reads leaves the process
        return api

    def _unreachable(self, exc: BaseException) -> UnreachableError:
        reason = sanitize(str(exc), max_len=300)
        sock = self.host[len("unix://"):] if self.host.startswith("unix://") else ""
        if sock and not os.path.exists(sock):
            reason = f"socket {sock} does not exist"
        return UnreachableError(
            f"cannot reach dockerd at {self._where()}: {reason}",
            hint="is dockerd running? choose the daemon with --docker-host or DOCKER_HOST",
        )

    def _call(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run one SDK call, translating its errors into CockpitErrors."""
        import docker.errors
        import requests.exceptions

        try:
            return fn(*args, **kwargs)
        except CockpitError:
            raise
        except docker.errors.NotFound as exc:
            raise NotFoundError(f"{what}: {sanitize(exc.explanation or exc, max_len=300)}") from None
        except docker.errors.APIError as exc:
            msg = sanitize(exc.explanation or exc, max_len=400)
            if exc.status_code == 409:
                raise ConflictError(f"{what}: {msg}") from None
            raise CockpitError(f"{what}: {msg}", title="Docker") from None
        except (requests.exceptions.ConnectionError, docker.errors.DockerException, ConnectionError) as exc:
            raise self._unreachable(exc) from None
        except requests.exceptions.Timeout:
            raise UnreachableError(f"{what}: dockerd at {self._where()} did not answer within {self.timeout:g}s") from None

    def _guard(self, action: str) -> None:
        if self.readonly:
            raise ReadonlyError(f"refused to {action}: the docker backend is readonly (nothing was sent)")

    def close(self) -> None:
        if self._api is not None:
            self._api.close()
            self._api = None

    # ------------------------------------------------------------------ reads

    def ping(self) -> str:
        """The daemon's version (and proof it answers)."""
        return self._call("version", self.api.version)["Version"]

    def inspect(self, container: str) -> dict[str, Any]:
        """Raw inspect data of a container by name or id. Raises NotFoundError."""
        try:
            return self._call(f"container {sanitize(container)}", self.api.inspect_container, container)
        except NotFoundError:
            raise NotFoundError(
                f"no container {sanitize(container)!r} on {self._where()}",
                hint="see `cockpit docker ps`",
            ) from None

    def find(self, container: str) -> dict[str, Any] | None:
        try:
            return self.inspect(container)
        except NotFoundError:
            return None

    def image(self, ref: str) -> dict[str, Any] | None:
        """Raw inspect data of an image, or None."""
        try:
            return self._call(f"image {sanitize(ref)}", self.api.inspect_image, ref)
        except NotFoundError:
            return None

    def _info(self, attrs: dict[str, Any]) -> ContainerInfo:
        conf = attrs.get("Config") or {}
        state = attrs.get("State") or {}
        labels = {sanitize(k, max_len=200): sanitize(v, max_len=500) for k, v in (conf.get("Labels") or {}).items()}
        ref = conf.get("Image") or ""
        repo, tag = split_reference(ref) if not ref.startswith("sha256:") else ("", "")
        ports = []
        for cport, binds in ((attrs.get("NetworkSettings") or {}).get("Ports") or {}).items():
            for b in binds or []:
                ports.append(f"{b.get('HostIp') or '0.0.0.0'}:{b.get('HostPort')}->{cport}")
        return ContainerInfo(
            name=sanitize((attrs.get("Name") or "").lstrip("/")),
            id=attrs["Id"][:12],
            image=sanitize(ref),
            repository=sanitize(repo),
            tag=sanitize(tag),
            image_id=attrs.get("Image", ""),
            created=parse_time(attrs.get("Created")),
            state=sanitize(state.get("Status", "")),
            health=sanitize((state.get("Health") or {}).get("Status", "")),
            compose_project=labels.get("com.docker.compose.project", ""),
            compose_service=labels.get("com.docker.compose.service", ""),
            ports=tuple(sorted(ports)),
            labels=labels,
        )

    def container(self, name: str) -> ContainerInfo:
        return self._info(self.inspect(name))

    def ps(
        self,
        *,
        name: str | None = None,
        label: str | None = None,
        project: str | None = None,
        service: str | None = None,
        all: bool = True,
    ) -> list[ContainerInfo]:
        """Containers by name (substring, as docker filters), label, or Compose project/service."""
        filters: dict[str, Any] = {}
        labels = []
        if name:
            filters["name"] = name
        if label:
            labels.append(label)
        if project:
            labels.append(f"com.docker.compose.project={project}")
        if service:
            labels.append(f"com.docker.compose.service={service}")
        if labels:
            filters["label"] = labels
        rows = self._call("list containers", self.api.containers, all=all, filters=filters)
        out = []
        for row in rows:
            attrs = self.find(row["Id"])
            if attrs is not None:
                out.append(self._info(attrs))
        return sorted(out, key=lambda c: c.name)

    def repository_of(self, attrs: dict[str, Any]) -> str:
        """The repository a container's image belongs to (from its reference, else its tags)."""
        ref = (attrs.get("Config") or {}).get("Image") or ""
        if ref and not ref.startswith("sha256:"):
            return split_reference(ref)[0]
        img = self.image(attrs.get("Image", "")) or {}
        tags = img.get("RepoTags") or []
        if tags:
            return split_reference(tags[0])[0]
        raise NotFoundError(
            f"container {sanitize(attrs.get('Name', '').lstrip('/'))} runs an untagged image "
            f"({attrs.get('Image', '')[:19]}): there is no repository to list tags of"
        )

    def tags(self, repository: str) -> list[ImageTag]:
        """Tags of ``repository`` present on the host, newest image first."""
        images = self._call(f"list images of {sanitize(repository)}", self.api.images, name=repository)
        out = []
        for img in images:
            for ref in img.get("RepoTags") or []:
                repo, tag = split_reference(ref)
                if repo == repository:
                    out.append(ImageTag(tag=sanitize(tag), reference=sanitize(ref), image_id=img["Id"],
                                        created=parse_time(img.get("Created"))))
        return sorted(out, key=lambda t: (t.created or datetime.min.replace(tzinfo=timezone.utc), t.tag), reverse=True)

    def history(self, container: str, previous_image_id: str | None = None) -> list[ImageTag]:
        """The rollback history: tags of the container's repository on the host, live and
        previous marked. ``previous_image_id`` (from the journal) is listed even when no
        tag points to it any more."""
        attrs = self.inspect(container)
        live = attrs.get("Image", "")
        repo = self.repository_of(attrs)
        out = [
            ImageTag(t.tag, t.reference, t.image_id, t.created, live=t.image_id == live,
                     previous=bool(previous_image_id) and t.image_id == previous_image_id)
            for t in self.tags(repo)
        ]
        if previous_image_id and not any(t.image_id == previous_image_id for t in out):
            img = self.image(previous_image_id)
            if img is not None:
                out.append(ImageTag(tag="<untagged>", reference=previous_image_id, image_id=previous_image_id,
                                    created=parse_time(img.get("Created")), previous=True))
        if not any(t.live for t in out):
            img = self.image(live) or {}
            out.append(ImageTag(tag="<moved>", reference=sanitize((attrs.get("Config") or {}).get("Image", "")),
                                image_id=live, created=parse_time(img.get("Created")), live=True))
        return out

    def resolve_tag(self, repository: str, tag: str, *, pull: bool | None = None, log: Callable[[str], None] = lambda s: None) -> tuple[str, str]:
        """(reference, image id) of ``repository:tag``; pulls first when a registry is
        configured (``pull=True``, or ``None`` and the repository names a registry).
        Raises NotFoundError listing the tags that exist."""
        ref = f"{repository}:{tag}"
        if pull or (pull is None and names_registry(repository)):
            try:
                self.pull(ref, log=log)
            except ReadonlyError:
                raise
            except CockpitError as exc:
                log(f"pull {sanitize(ref)} failed ({exc}); using the local image if there is one")
        img = self.image(ref)
        if img is None:
            have = [t.tag for t in self.tags(repository)]
            listing = ", ".join(have) if have else "none"
            raise NotFoundError(f"no tag {sanitize(tag)!r} of {sanitize(repository)} on {self._where()}; tags present: {listing}")
        return ref, img["Id"]

    def state(self, container: str) -> tuple[str, str]:
        """(status, health) now."""
        st = self.inspect(container).get("State") or {}
        return st.get("Status", ""), (st.get("Health") or {}).get("Status", "")

    def logs(
        self,
        container: str,
        *,
        since: float | None = None,
        tail: int | str = "all",
        follow: bool = False,
        cancel: threading.Event | None = None,
    ) -> Iterator[str]:
        """The container's log lines (stdout and stderr), sanitized. ``since`` is seconds ago."""
        kwargs: dict[str, Any] = {"stream": True, "follow": follow, "tail": tail, "timestamps": False}
        if since is not None:
            kwargs["since"] = int(time.time() - since)
        stream = self._call(f"logs of {sanitize(container)}", self.api.logs, container, **kwargs)
        buf = b""
        try:
            for chunk in stream:
                if cancel is not None and cancel.is_set():
                    break
                buf += chunk
                *lines, buf = buf.split(b"\n")
                for line in lines:
                    yield sanitize(line.decode("utf-8", "replace"))
            if buf:
                yield sanitize(buf.decode("utf-8", "replace"))
        finally:
            close = getattr(stream, "close", None)
            if close:
                close()

    def capture_logs(self, container: str, path: Path, *, since: float = 3600.0) -> dict[str, Any]:
        """Evidence: the last ``since`` seconds of logs, rendered inert, written to ``path``."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        count = 0
        with path.open("w", encoding="utf-8") as fh:
            for line in self.logs(container, since=since):
                fh.write(line + "\n")
                count += 1
        return {"path": str(path), "lines": count, "since_seconds": since}

    # ------------------------------------------------------------------ writes (guarded)

    def pull(self, ref: str, *, log: Callable[[str], None] = lambda s: None) -> None:
        self._guard(f"pull {sanitize(ref)}")
        repo, tag = split_reference(ref)
        for event in self._call(f"pull {sanitize(ref)}", self.api.pull, repo, tag=tag, stream=True, decode=True):
            if "error" in event:
                raise CockpitError(f"pull {sanitize(ref)}: {sanitize(event['error'])}", title="Docker")
            if event.get("status") and not event.get("progressDetail"):
                log(sanitize(f"pull: {event.get('id', '')} {event['status']}".replace("  ", " ")))

    def set_restart_policy(self, container: str, policy: dict[str, Any]) -> None:
        self._guard(f"change the restart policy of {sanitize(container)}")
        self._call(f"update {sanitize(container)}", self.api.update_container, container, restart_policy=policy)

    def stop(self, container: str, *, timeout: int | None = None) -> None:
        """Stop; ``timeout=None`` uses the container's own stop timeout (default 10 s)."""
        self._guard(f"stop {sanitize(container)}")
        self._call(f"stop {sanitize(container)}", self.api.stop, container, timeout=timeout)

    def rename(self, container: str, name: str) -> None:
        self._guard(f"rename {sanitize(container)}")
        self._call(f"rename {sanitize(container)} to {sanitize(name)}", self.api.rename, container, name)

    def create(self, body: dict[str, Any], name: str) -> str:
        self._guard(f"create {sanitize(name)}")
        result = self._call(f"create {sanitize(name)}", self.api.create_container_from_config, body, name=name)
        return result["Id"]

    def connect(self, container: str, network: str, endpoint: dict[str, Any]) -> None:
        self._guard(f"connect {sanitize(container)} to {sanitize(network)}")
        ipam = endpoint.get("IPAMConfig") or {}
        self._call(
            f"connect {sanitize(container)} to {sanitize(network)}",
            self.api.connect_container_to_network,
            container,
            network,
            aliases=endpoint.get("Aliases"),
            links=endpoint.get("Links"),
            ipv4_address=ipam.get("IPv4Address") or None,
            ipv6_address=ipam.get("IPv6Address") or None,
            link_local_ips=ipam.get("LinkLocalIPs") or None,
            driver_opt=endpoint.get("DriverOpts"),
        )

    def start(self, container: str) -> None:
        self._guard(f"start {sanitize(container)}")
        self._call(f"start {sanitize(container)}", self.api.start, container)

    def remove(self, container: str, *, force: bool = True) -> None:
        self._guard(f"remove {sanitize(container)}")
        self._call(f"remove {sanitize(container)}", self.api.remove_container, container, force=force)
