"""Compose: set a service's image in the compose file, everything else kept byte for byte.

ruamel.yaml (round-trip) finds where the service's ``image:`` value starts; we replace just
that scalar in the original text (keeping its quoting) and check, by parsing both, that the
only difference is that one value. Comments, order, anchors, blank lines and indentation
survive because we never re-serialize the document.

Applied with ``docker compose up -d --no-deps SERVICE`` when the Compose plugin is present,
otherwise by the container-level rollback (:mod:`backends.docker.rollback`), which keeps
the container's compose labels.
"""
from __future__ import annotations

import io
import os
import re
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from backends.yamlrt import plain, round_trip, scalar_end
from cockpit.errors import ConfigError, NotFoundError
from cockpit.text import sanitize

_PLAIN_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/:@+-]*$")




def service_image(text: str, service: str, *, source: str = "compose file") -> str | None:
    """The ``image`` of ``service`` in a compose document, or None when not set there."""
    data = round_trip().load(text) or {}
    svc = ((data.get("services") or {}) if isinstance(data, dict) else {}).get(service)
    if not isinstance(svc, dict):
        return None
    return None if svc.get("image") is None else str(svc["image"])


def set_service_image(text: str, service: str, image: str, *, source: str = "compose file") -> tuple[str, str]:
    """Return (new text, old image) with ``services.SERVICE.image`` set to ``image``."""
    y = round_trip()
    data = y.load(text)
    services = data.get("services") if isinstance(data, dict) else None
    svc = services.get(service) if isinstance(services, dict) else None
    if not isinstance(svc, dict):
        raise NotFoundError(f"{source}: no service {sanitize(service)!r}")
    if "image" not in svc:
        raise ConfigError(f"{source}: service {sanitize(service)!r} has no image: key (built locally?)")
    old = str(svc["image"])
    if "$" in old:
        raise ConfigError(
            f"{source}: the image of {sanitize(service)!r} is {sanitize(old)!r} (a variable); "
            "set the variable (e.g. in .env) instead of rewriting the file"
        )
    line, col = svc.lc.value("image")
    lines = text.splitlines(keepends=True)
    row = lines[line]
    end, q = scalar_end(row, col, svc.fa.flow_style())
    if q:
        new_scalar = f"{q}{image}{q}"
    else:
        new_scalar = image if _PLAIN_SAFE.match(image) else '"' + image.replace("\\", "\\\\").replace('"', '\\"') + '"'
    lines[line] = row[:col] + new_scalar + row[end:]
    new_text = "".join(lines)
    # The only change must be that one value.
    expect = plain(data)
    expect["services"][service]["image"] = image
    if plain(y.load(new_text)) != expect:
        raise ConfigError(f"{source}: could not rewrite the image of {sanitize(service)!r} safely (unusual YAML); edit it by hand")
    return new_text, old


def find_image_file(files: list[Path], service: str) -> Path:
    """The last of the project's compose files that sets the service's image (overrides win)."""
    for path in reversed(files):
        if path.exists() and service_image(path.read_text(encoding="utf-8"), service, source=str(path)) is not None:
            return path
    raise NotFoundError(f"no compose file of {', '.join(map(str, files)) or '(none)'} sets an image for {sanitize(service)!r}")


def rewrite_file(path: Path, service: str, image: str) -> str:
    """Atomically set the service's image in ``path``; returns the old image."""
    text = path.read_text(encoding="utf-8")
    new_text, old = set_service_image(text, service, image, source=str(path))
    if new_text != text:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
                fh.write(new_text)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, path.stat().st_mode & 0o7777)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
    return old


def project_files(labels: dict[str, str]) -> tuple[str, str, Path | None, list[Path]]:
    """(project, service, working dir, config files) from a container's compose labels."""
    project = labels.get("com.docker.compose.project", "")
    service = labels.get("com.docker.compose.service", "")
    wd = labels.get("com.docker.compose.project.working_dir") or None
    files = [Path(f) for f in (labels.get("com.docker.compose.project.config_files") or "").split(",") if f]
    if wd:
        files = [f if f.is_absolute() else Path(wd) / f for f in files]
    return project, service, Path(wd) if wd else None, files


def compose_plugin(docker_cli: str = "docker", host: str | None = None) -> bool:
    """Whether ``docker compose`` works here."""
    try:
        r = subprocess.run([docker_cli, "compose", "version"], capture_output=True, timeout=15,
                           env={**os.environ, **({"DOCKER_HOST": host} if host else {})})
    except (OSError, subprocess.TimeoutExpired):
        return False
    return r.returncode == 0


def compose_up(
    project: str, service: str, files: list[Path], workdir: Path | None, *, host: str, log: Callable[[str], None],
    docker_cli: str = "docker", timeout: float = 300.0,
) -> None:
    """``docker compose -p P -f ... up -d --no-deps SERVICE``, output streamed to ``log``."""
    from cockpit.errors import CockpitError

    cmd = [docker_cli, "compose", "-p", project]
    for f in files:
        cmd += ["-f", str(f)]
    if workdir:
        cmd += ["--project-directory", str(workdir)]
    cmd += ["up", "-d", "--no-deps", service]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env={**os.environ, "DOCKER_HOST": host})
    assert proc.stdout is not None
    for raw in io.TextIOWrapper(proc.stdout, encoding="utf-8", errors="replace"):
        log("compose: " + sanitize(raw.rstrip("\n")))
    if proc.wait(timeout=timeout) != 0:
        raise CockpitError(f"docker compose up -d {sanitize(service)} exited with {proc.returncode}", title="Compose")
