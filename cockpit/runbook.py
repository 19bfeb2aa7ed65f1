"""Runbook files: YAML validated with pydantic, errors that name file, line, key and expected.

.. code-block:: yaml

    name: checkout rollback
    target: {kind: deployment, namespace: shop, name: checkout}
    steps:
      - kind: kubernetes.rollback      # a kind registered in cockpit.steps.REGISTRY
        name: Roll back checkout
        budget: 5m                     # time budget: 90, 90s, 5m, 1h, 1m30s, 500ms
        params: {to_revision: 0}
      - kind: exec
        params: {argv: [./smoke.sh], timeout: 60s}
    verify:
      - {id: health, title: Health checks passing, auto: health}   # auto: the cockpit proves it
      - {id: journeys, title: Critical user journeys tested}        # manual

Each step's ``params`` is validated with its kind's ``Params`` model. To point at the line
of an error, the YAML is also composed into a node tree and the pydantic error location is
walked through it (:func:`locate`). When ``verify`` is absent, :data:`DEFAULT_CHECKLIST`
applies.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from cockpit.durations import parse_duration
from cockpit.errors import ConfigError
from cockpit.model import Target
from cockpit.steps import REGISTRY, Step, StepParams, get_step

MAX_RUNBOOK_BYTES = 1 << 20
"""A runbook is a short YAML file; anything larger is refused before it is parsed."""

# --------------------------------------------------------------------------- durations

Duration = Annotated[float, BeforeValidator(parse_duration)]
"""A pydantic field type: seconds, written in YAML as ``30s`` / ``5m`` / ``1h`` (or a number)."""


# --------------------------------------------------------------------------- models


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TargetSpec(_Strict):
    kind: Literal["deployment", "container"] = "deployment"
    namespace: str = "default"
    name: str = Field(min_length=1)

    def to_target(self) -> Target:
        return Target(name=self.name, namespace=self.namespace, kind=self.kind)


class StepSpec(_Strict):
    """One step as written in the file (``params`` still raw)."""

    kind: str
    name: str | None = None
    budget: Duration | None = None
    params: dict[str, Any] = Field(default_factory=dict)


class CheckItem(_Strict):
    """One verification checklist item; ``auto`` names what the cockpit can prove itself."""

    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    title: str = Field(min_length=1)
    auto: str | None = None


class RunbookFile(_Strict):
    """The file's shape, before step params are validated."""

    name: str = Field(min_length=1)
    target: TargetSpec
    steps: list[StepSpec] = Field(min_length=1)
    verify: list[CheckItem] | None = None


class RunbookStep(BaseModel):
    """A validated step: ``params`` is an instance of the kind's ``Params`` model."""

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    index: int
    kind: str
    name: str
    budget: float | None
    params: StepParams

    def step(self) -> Step:
        """A fresh instance of the step kind."""
        return get_step(self.kind)()


class Runbook(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    target: TargetSpec
    steps: tuple[RunbookStep, ...]
    verify: tuple[CheckItem, ...] | None = None
    path: str | None = None

    @property
    def checklist(self) -> tuple[CheckItem, ...]:
        """The runbook's ``verify`` items, or :data:`DEFAULT_CHECKLIST` when it has none."""
        return self.verify if self.verify is not None else DEFAULT_CHECKLIST


# --------------------------------------------------------------------------- the default checklist

DEFAULT_CHECKLIST: tuple[CheckItem, ...] = tuple(
    CheckItem(id=i, title=t, auto=a)
    for i, t, a in [
        ("rollout_complete", "Rollout complete", "rollout_complete"),
        ("pods_ready", "All pods Running and Ready", "pods_ready"),
        ("no_restarts", "No restarts since the rollback", "no_restarts"),
        ("health_3x", "Health OK three times, 10 s apart", "health_3x"),
        ("version_matches", "/version reports the target revision", "version_matches"),
        ("error_rate_ok", "Error rate < 1% over the window", "error_rate_ok"),
        ("latency_ok", "p95 latency < 500 ms over the window", "latency_ok"),
        ("smoke_tests", "Smoke tests run", None),
        ("user_journeys", "Critical user journeys tested", None),
        ("payments", "Payment processing verified", None),
        ("data_consistency", "Data consistency checked", None),
        ("user_reports", "User reports reviewed", None),
        ("db_integrity", "Database integrity confirmed", None),
        ("communication_sent", "Communication sent", None),
        ("postmortem_scheduled", "Post-mortem scheduled", None),
    ]
)
AUTO_CHECKS = frozenset(c.auto for c in DEFAULT_CHECKLIST if c.auto)


# --------------------------------------------------------------------------- loading


def load_runbook(path: str | os.PathLike) -> Runbook:
    """Read, validate and return the runbook at ``path``. Raises ConfigError."""
    path = Path(path)
    try:
        if path.exists() and not path.is_file():
            raise ConfigError(f"cannot read runbook {path}: not a regular file", hint="pass a runbook YAML file")
        with path.open("rb") as fh:
            raw = fh.read(MAX_RUNBOOK_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read runbook {path}: {exc.strerror or exc}") from None
    if len(raw) > MAX_RUNBOOK_BYTES:
        raise ConfigError(f"{path}: not a runbook: larger than {MAX_RUNBOOK_BYTES // 1024} KiB")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(f"{path}:{line}: not a runbook: not UTF-8 text (byte {exc.start}: 0x{raw[exc.start]:02x})",
                          hint="a runbook is a YAML file") from None
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise ConfigError(f"{path}:{line}: not a runbook: a binary file (NUL byte)", hint="a runbook is a YAML file")
    return parse_runbook(text, source=str(path))


def parse_runbook(text: str, *, source: str = "<runbook>") -> Runbook:
    """Validate runbook YAML ``text``; ``source`` names it in errors."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark else source
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{where}: not valid YAML: {problem}") from None
    if root is not None:
        _check_duplicates(root, source)
    if not isinstance(data, dict):
        raise ConfigError(f"{source}:1: a runbook is a mapping with name, target and steps")
    try:
        spec = RunbookFile.model_validate(data)
    except ValidationError as exc:
        raise _config_error(exc, root, source, ()) from None

    steps = []
    problems: list[str] = []
    for i, raw in enumerate(spec.steps):
        if raw.kind not in REGISTRY:
            known = ", ".join(sorted(REGISTRY)) or "none registered"
            line = locate(root, ("steps", i, "kind"))
            problems.append(f"{source}:{line}: steps[{i}].kind: unknown step kind {raw.kind!r}; known kinds: {known}")
            continue
        cls = REGISTRY[raw.kind]
        try:
            params = cls.Params.model_validate(raw.params)
        except ValidationError as exc:
            problems.extend(_lines(exc, root, source, ("steps", i, "params")))
            continue
        step_name = raw.name or cls().describe(params) or raw.kind
        steps.append(RunbookStep(index=i, kind=raw.kind, name=step_name, budget=raw.budget, params=params))
    if spec.verify is not None:
        seen: set[str] = set()
        for i, item in enumerate(spec.verify):
            if item.id in seen:
                line = locate(root, ("verify", i, "id"))
                problems.append(f"{source}:{line}: verify[{i}].id: duplicate checklist id {item.id!r}")
            seen.add(item.id)
    if problems:
        raise ConfigError("\n".join(problems), title="Bad runbook")
    return Runbook(
        name=spec.name,
        target=spec.target,
        steps=tuple(steps),
        verify=tuple(spec.verify) if spec.verify is not None else None,
        path=source,
    )


# --------------------------------------------------------------------------- error locations


def locate(root: yaml.Node | None, loc: tuple[Any, ...]) -> int:
    """The 1-based line of the node at pydantic location ``loc`` (or of its nearest parent).

    A missing key points at the mapping that lacks it; an extra key at that key.
    """
    node = root
    if node is None:
        return 1
    line = node.start_mark.line + 1
    for part in loc:
        child = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == str(part):
                    child = value
                    line = key.start_mark.line + 1
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            child = node.value[part]
            line = child.start_mark.line + 1
        if child is None:
            break
        node = child
        if isinstance(node, yaml.ScalarNode):
            line = node.start_mark.line + 1
    return line


def _dotted(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _lines(exc: ValidationError, root: yaml.Node | None, source: str, prefix: tuple) -> list[str]:
    lines = []
    for err in exc.errors(include_url=False):
        # drop pydantic's tagged-union / function-validator loc parts that are not keys
        loc = prefix + tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        where = f"{source}:{locate(root, loc)}"
        msg = err["msg"]
        if err["type"] == "missing":
            msg = "required key is missing"
        elif err["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling)"
        else:
            msg = f"{msg}; got {err.get('input')!r}"
        lines.append(f"{where}: {_dotted(loc)}: {msg}")
    return lines


def _config_error(exc: ValidationError, root: yaml.Node | None, source: str, prefix: tuple) -> ConfigError:
    return ConfigError("\n".join(_lines(exc, root, source, prefix)), title="Bad runbook")


def _check_duplicates(node: yaml.Node, source: str, seen_nodes: set[int] | None = None) -> None:
    """YAML silently keeps the last of two equal keys; a runbook must not."""
    seen_nodes = set() if seen_nodes is None else seen_nodes
    if id(node) in seen_nodes:  # an alias already checked (or a recursive one)
        return
    seen_nodes.add(id(node))
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                if key.value in seen:
                    raise ConfigError(
                        f"{source}:{key.start_mark.line + 1}: duplicate key {key.value!r}", title="Bad runbook"
                    )
                seen.add(key.value)
            _check_duplicates(value, source, seen_nodes)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _check_duplicates(item, source, seen_nodes)
