"""Facts about containers and images. Plain dataclasses; every string is sanitized.

(Candidates for :mod:`cockpit.model` once a second backend needs them.)
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class ContainerInfo:
    name: str
    id: str
    image: str
    """The reference the container was created with (``repo:tag``), or an image id."""
    repository: str
    tag: str
    image_id: str
    created: datetime | None
    state: str
    """created, running, paused, restarting, removing, exited, dead."""
    health: str = ""
    """starting, healthy, unhealthy, or "" without a health check."""
    compose_project: str = ""
    compose_service: str = ""
    ports: tuple[str, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ImageTag:
    """One tag of a container's repository present on the host (one history entry)."""

    tag: str
    reference: str
    image_id: str
    created: datetime | None
    live: bool = False
    """The container runs this image now."""
    previous: bool = False
    """The container ran this image before the cockpit last changed it (from the journal)."""


@dataclass(frozen=True, slots=True)
class DockerRollbackOutcome:
    container: str
    from_image: str
    from_image_id: str
    to_image: str
    to_image_id: str
    new_id: str = ""
    backup: str = ""
    restored: bool = False
    via: str = "container"
    """"container" (the container-level sequence) or "compose" (``docker compose up -d``)."""
    resumed: bool = False
    message: str = ""
