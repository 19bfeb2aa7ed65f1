"""Scenarios are data: YAML files validated by a pydantic model.

A scenario lists namespaces and deployments; each deployment lists its revisions in the
order they were rolled out (the world replays them through the controller, so the history is
built the way a real cluster builds it). Each revision's image carries a behaviour: readiness
time, crash-looping, error ratio and latency percentiles. The last revision is what runs
when the world starts.

Example::

    name: bad-image
    description: checkout 1.5.0 answers 30% 5xx
    goal: {action: rollback, namespace: shop, deployment: checkout, to_revision: 2, within_seconds: 300}
    deployments:
      - name: checkout
        namespace: shop
        replicas: 4
        revisions:
          - image: registry.example/shop/checkout:1.4.0
            change_cause: "release 1.4.0"
            age: 3d
            error_rate: 0.002
            latency_ms: {p50: 40, p95: 120}
          - ...
"""
from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from cockpit.errors import ConfigError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def _ratio(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 1:
        raise ValueError("expected a number between 0 and 1")
    return float(v)


def _positive(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
        raise ValueError("expected a non-negative number")
    return float(v)


def _duration(v: Any) -> float:
    if isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0:
        return float(v)
    if isinstance(v, str) and (m := _DURATION.match(v)):
        return float(m.group(1)) * _UNITS[m.group(2)]
    raise ValueError("expected a duration such as 90, '30s', '5m', '2h' or '3d'")


def _dns_name(v: Any) -> str:
    if not isinstance(v, str) or not _NAME.match(v) or len(v) > 63:
        raise ValueError("expected a lowercase DNS label (a-z, 0-9, '-')")
    return v


def _int_or_percent(v: Any) -> int | str:
    if isinstance(v, int) and not isinstance(v, bool) and v >= 0:
        return v
    if isinstance(v, str) and re.match(r"^\d+%$", v):
        return v
    raise ValueError("expected a non-negative integer or a percentage such as '25%'")


Ratio = Annotated[float, BeforeValidator(_ratio)]
NonNegative = Annotated[float, BeforeValidator(_positive)]
Duration = Annotated[float, BeforeValidator(_duration)]
DnsName = Annotated[str, BeforeValidator(_dns_name)]
IntOrPercent = Annotated[int | str, BeforeValidator(_int_or_percent)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Latency(_Strict):
    p50: NonNegative = 30.0
    p95: NonNegative = 90.0

    @model_validator(mode="after")
    def _ordered(self) -> "Latency":
        if self.p95 < self.p50:
            raise ValueError(f"expected p95 >= p50, got p50={self.p50:g} p95={self.p95:g}")
        return self


class Behaviour(_Strict):
    """How an image behaves once it runs."""

    ready_after: Duration = 3.0
    crash: bool = False
    error_rate: Ratio = 0.001
    latency_ms: Latency = Latency()


class Revision(Behaviour):
    image: str = Field(min_length=1)
    change_cause: str | None = None
    age: Duration | None = None  # how long ago this revision was rolled out


class Strategy(_Strict):
    type: Literal["RollingUpdate", "Recreate"] = "RollingUpdate"
    max_surge: IntOrPercent = "25%"
    max_unavailable: IntOrPercent = "25%"


class Deployment(_Strict):
    name: DnsName
    namespace: DnsName = "default"
    replicas: int = Field(default=3, ge=0, le=100)
    container: DnsName | None = None
    port: int = Field(default=8080, ge=1, le=65535)
    strategy: Strategy = Strategy()
    progress_deadline_seconds: int = Field(default=600, ge=1)
    revision_history_limit: int = Field(default=10, ge=0)
    min_ready_seconds: int = Field(default=0, ge=0)
    settle: bool = True  # let the last revision finish rolling out before the world is ready
    labels: dict[str, str] = {}
    revisions: list[Revision] = Field(min_length=1)

    @property
    def container_name(self) -> str:
        return self.container or self.name


class Goal(_Strict):
    action: Literal["rollback", "pause", "scale", "none"] = "rollback"
    namespace: DnsName = "default"
    deployment: DnsName | None = None
    to_revision: int | None = None
    to_image: str | None = None
    within_seconds: Duration = 600.0
    description: str = ""


class Scenario(_Strict):
    name: str
    description: str = ""
    goal: Goal | None = None
    namespaces: list[DnsName] = []
    default_behaviour: Behaviour = Behaviour()
    traffic_rps: NonNegative = 30.0
    deployments: list[Deployment] = []

    @model_validator(mode="after")
    def _unique(self) -> "Scenario":
        seen = set()
        for d in self.deployments:
            key = (d.namespace, d.name)
            if key in seen:
                raise ValueError(f"expected unique deployments, got {d.namespace}/{d.name} twice")
            seen.add(key)
        return self

    def behaviour_for(self, image: str) -> Behaviour:
        """The behaviour of ``image`` (the last revision that names it wins)."""
        found: Behaviour | None = None
        for d in self.deployments:
            for r in d.revisions:
                if r.image == image:
                    found = r
        return found or self.default_behaviour

    def all_namespaces(self) -> list[str]:
        out = ["default"]
        for ns in [*self.namespaces, *(d.namespace for d in self.deployments)]:
            if ns not in out:
                out.append(ns)
        return out


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif str(part).startswith(("function-", "constrained-")) or part in ("int", "str"):
            continue
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _message(err: dict[str, Any]) -> str:
    msg = err.get("msg", "")
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix):]
    etype = err.get("type", "")
    if etype == "missing":
        return "expected a value (the key is required)"
    if etype == "extra_forbidden":
        return "unexpected key (not part of the scenario format)"
    if etype == "literal_error":
        return f"expected {msg.replace('Input should be ', '')}, got {err.get('input')!r}"
    if not msg.startswith("expected"):
        msg = "expected " + msg[0].lower() + msg[1:] if msg.startswith("Input should be") is False else \
            "expected " + msg[len("Input should be "):]
    if "got" not in msg and "input" in err and err.get("type") != "value_error" or (
            etype == "value_error" and "got" not in msg):
        msg += f", got {err.get('input')!r}"
    return msg


def parse_scenario(data: Any, source: str) -> Scenario:
    """Validate scenario data; a problem raises ConfigError naming source, key path, expectation."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level, got {type(data).__name__}")
    try:
        return Scenario.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        more = len(e.errors()) - 1
        text = f"{source}: {_loc(first['loc'])}: {_message(first)}"
        if more:
            text += f" (and {more} more problem{'s' if more > 1 else ''})"
        raise ConfigError(text) from None


def _builtin_dir() -> Path:
    return Path(str(resources.files("cockpit.world") / "scenarios"))


def list_scenarios() -> list[str]:
    """Names of the built-in scenarios."""
    return sorted(p.stem for p in _builtin_dir().glob("*.yaml"))


def load_scenario(name_or_path: str | Path) -> Scenario:
    """Load a built-in scenario by name, or a scenario file by path."""
    path = Path(name_or_path)
    if not (path.suffix in (".yaml", ".yml") and path.exists()):
        candidate = _builtin_dir() / f"{name_or_path}.yaml"
        if not candidate.exists():
            raise ConfigError(f"unknown scenario {str(name_or_path)!r}; expected one of: "
                              f"{', '.join(list_scenarios())} or a path to a .yaml file")
        path = candidate
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise ConfigError(f"{path.name}: not valid YAML: {e}") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror}") from None
    if isinstance(data, dict):
        data.setdefault("name", path.stem)
    return parse_scenario(data, path.name)
