"""Pure: the create request of a container's replacement on another image.

Docker's inspect data (``Config``) mixes what the operator set with what the *image*
supplied (its ENV, CMD, ENTRYPOINT, HEALTHCHECK, LABELs, WORKDIR, USER...). Copying it
verbatim would freeze the old image's defaults into the new container (the rolled-back
image's own ``ENV APP_VERSION`` or changed ``CMD`` would be overridden by the old one's).
So a field equal to the old image's default is left out (the new image supplies its own)
and every operator setting is kept: environment, ports, mounts (anonymous volumes too, so
their data survives), labels, restart policy, networks with aliases and static IPs,
command, entrypoint, health check, user, working dir, and the whole ``HostConfig``.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

# Config keys that are the container's own and never the image's.
_DROP = {"Image", "ArgsEscaped"}
# Config keys that an image supplies and that are inherited when left out of the request.
_INHERITED = ("User", "WorkingDir", "StopSignal", "OnBuild", "Volumes", "Shell")
_SPECIAL_NETWORK_MODES = ("host", "none")


@dataclass
class CreateSpec:
    """A raw ``POST /containers/create`` body and the networks to connect before start."""

    body: dict[str, Any]
    extra_networks: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


def _env_dict(env: list[str] | None) -> dict[str, str]:
    out = {}
    for item in env or []:
        k, _, v = item.partition("=")
        out[k] = v
    return out


def endpoint_settings(ep: dict[str, Any], container_id: str) -> dict[str, Any]:
    """The user-settable part of an inspected network endpoint."""
    aliases = [a for a in (ep.get("Aliases") or []) if a not in (container_id[:12], container_id)]
    out: dict[str, Any] = {}
    if ep.get("IPAMConfig"):
        out["IPAMConfig"] = ep["IPAMConfig"]
    if ep.get("Links"):
        out["Links"] = ep["Links"]
    if aliases:
        out["Aliases"] = aliases
    if ep.get("DriverOpts"):
        out["DriverOpts"] = ep["DriverOpts"]
    return out


def replacement_spec(
    attrs: dict[str, Any],
    old_image_config: dict[str, Any] | None,
    new_image: str,
    new_image_id: str = "",
) -> CreateSpec:
    """The create request for ``attrs``'s container re-created on ``new_image``.

    ``attrs`` is ``GET /containers/{id}/json``; ``old_image_config`` is the ``Config`` of
    the image it runs (``None`` when that image is gone: then nothing is treated as an
    image default and everything is kept).
    """
    cid = attrs["Id"]
    conf = copy.deepcopy(attrs.get("Config") or {})
    host = copy.deepcopy(attrs.get("HostConfig") or {})
    img = old_image_config or {}
    for k in _DROP:
        conf.pop(k, None)

    # Hostname defaults to the short container id: a new container gets its own.
    if conf.get("Hostname") in (cid[:12], ""):
        conf.pop("Hostname", None)

    # Environment: keep what the image did not supply (or supplied with another value).
    img_env = set(img.get("Env") or [])
    env = [e for e in conf.get("Env") or [] if e not in img_env]
    if env:
        conf["Env"] = env
    else:
        conf.pop("Env", None)

    # Labels: likewise; compose's image label follows the image.
    img_labels = img.get("Labels") or {}
    labels = {k: v for k, v in (conf.get("Labels") or {}).items() if img_labels.get(k) != v}
    if "com.docker.compose.image" in labels and new_image_id:
        labels["com.docker.compose.image"] = new_image_id
    conf["Labels"] = labels

    # Entrypoint and command. Docker does not inherit the image's CMD when ENTRYPOINT is
    # set in the request, so an overridden entrypoint takes the command with it.
    entry_overridden = bool(conf.get("Entrypoint")) and conf.get("Entrypoint") != img.get("Entrypoint")
    if not entry_overridden:
        conf.pop("Entrypoint", None)
        if conf.get("Cmd") == img.get("Cmd"):
            conf.pop("Cmd", None)

    if conf.get("Healthcheck") is not None and conf.get("Healthcheck") == img.get("Healthcheck"):
        conf.pop("Healthcheck", None)

    for k in _INHERITED:
        if k in conf and (conf[k] == img.get(k) or conf[k] in ("", None)):
            conf.pop(k)

    # Exposed ports: the published ones always, others only when the image did not expose them.
    published = set((host.get("PortBindings") or {}).keys())
    img_exposed = set((img.get("ExposedPorts") or {}).keys())
    exposed = {p: {} for p in (conf.get("ExposedPorts") or {}) if p in published or p not in img_exposed}
    for p in published:
        exposed.setdefault(p, {})
    if exposed:
        conf["ExposedPorts"] = exposed
    else:
        conf.pop("ExposedPorts", None)

    # Anonymous volumes (image VOLUME or `-v /path`): re-attach them by name, not fresh ones.
    binds = list(host.get("Binds") or [])
    taken = {b.split(":")[1] if ":" in b else b for b in binds}
    taken |= {m.get("Target") for m in host.get("Mounts") or []}
    for m in attrs.get("Mounts") or []:
        if m.get("Type") == "volume" and m.get("Name") and m.get("Destination") not in taken:
            binds.append(f"{m['Name']}:{m['Destination']}" + ("" if m.get("RW", True) else ":ro"))
    if binds:
        host["Binds"] = binds

    body: dict[str, Any] = {**conf, "Image": new_image, "HostConfig": host}

    # Networks: the first in the create request (API < 1.44 accepts one), the rest connected.
    extra: list[tuple[str, dict[str, Any]]] = []
    mode = host.get("NetworkMode") or "default"
    nets = (attrs.get("NetworkSettings") or {}).get("Networks") or {}
    if mode not in _SPECIAL_NETWORK_MODES and not mode.startswith("container:") and nets:
        names = list(nets)
        first = mode if mode in nets else ("bridge" if mode == "default" and "bridge" in nets else names[0])
        body["NetworkingConfig"] = {"EndpointsConfig": {first: endpoint_settings(nets[first], cid)}}
        extra = [(n, endpoint_settings(nets[n], cid)) for n in names if n != first]
    return CreateSpec(body=body, extra_networks=extra)
