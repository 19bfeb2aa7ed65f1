"""Settings: defaults ← XDG config file ← ``COCKPIT_`` environment ← command-line flags.

The file is ``$XDG_CONFIG_HOME/cockpit/config.yaml`` (``~/.config/cockpit/config.yaml``), or
the path in ``$COCKPIT_CONFIG_FILE`` / ``--config``. Environment variables use ``__`` for
nesting: ``COCKPIT_WATCH__INTERVAL_S=2``, ``COCKPIT_DECISION__TRIGGERS__ERROR_CONSECUTIVE=3``.
Flags are passed to :func:`load_settings` as a nested ``overrides`` dict and win over all.

The model is nested by area (``decision``, ``watch``, ``metrics``); later areas (keybindings,
themes, notify) add a section: a ``BaseModel`` subclass with defaults, one field on
:class:`Settings`, and ``python -m cockpit config schema > cockpit/config.schema.json``.

Every threshold here is documented where it is used: ``cockpit/matrix.py`` (the matrix and the
tree), ``cockpit/triggers.py`` (the triggers, one check per ``watch.interval_s``) and
``cockpit/decision.py`` (freshness, stabilization).
Units are in the field names: fractions (``0.05`` = 5 %), milliseconds (``_ms``) and seconds
(``_s``). Boundaries follow the runbooks' wording: *rollback above* is strict (``> 5 %``),
the lower bands are inclusive (``2–5 %`` → consider includes both 2 % and 5 %).

A bad value raises :class:`~cockpit.errors.ConfigError` naming where it came from (the file,
the environment variable or the flag), the key and what was expected. Secrets (Prometheus
password / token) are ``SecretStr`` and never printed.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict

from cockpit.comms import NotifySettings
from cockpit.errors import ConfigError
from cockpit.matrix import DEFAULT_BANDS

ENV_PREFIX = "COCKPIT_"
ENV_DELIMITER = "__"
CONFIG_FILE_ENV = "COCKPIT_CONFIG_FILE"


class _Section(BaseModel):
    """Base for config sections: unknown keys are errors (a typo must not pass silently)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


Fraction = Field(ge=0.0, le=1.0)


# --------------------------------------------------------------------------- decision


class ErrorRateBands(_Section):
    """Decision matrix for the 5xx ratio. Fractions of requests (0.05 = 5 %)."""

    rollback_above: float = Field(DEFAULT_BANDS["error_rate"]["rollback_above"], ge=0.0, le=1.0, description="strictly above: roll back now (runbook: > 5 %)")
    consider_from: float = Field(DEFAULT_BANDS["error_rate"]["consider_from"], ge=0.0, le=1.0, description="at or above (up to rollback_above inclusive): consider (2–5 %)")
    monitor_from: float = Field(DEFAULT_BANDS["error_rate"]["monitor_from"], ge=0.0, le=1.0, description="at or above: monitor closely (1–2 %)")

    @model_validator(mode="after")
    def _ordered(self) -> ErrorRateBands:
        if not self.monitor_from <= self.consider_from <= self.rollback_above:
            raise ValueError("expected monitor_from <= consider_from <= rollback_above")
        return self


class LatencyBands(_Section):
    """Decision matrix for p95 latency, in milliseconds."""

    rollback_above: float = Field(DEFAULT_BANDS["p95_ms"]["rollback_above"], gt=0, description="strictly above: roll back now (runbook: > 2000 ms)")
    consider_from: float = Field(DEFAULT_BANDS["p95_ms"]["consider_from"], gt=0, description="at or above: consider (1000–2000 ms)")
    monitor_from: float = Field(DEFAULT_BANDS["p95_ms"]["monitor_from"], gt=0, description="at or above: monitor closely (500–1000 ms)")

    @model_validator(mode="after")
    def _ordered(self) -> LatencyBands:
        if not self.monitor_from <= self.consider_from <= self.rollback_above:
            raise ValueError("expected monitor_from <= consider_from <= rollback_above")
        return self


class CrashBands(_Section):
    """Pod restarts within ``window_s``."""

    rollback_above: int = Field(int(DEFAULT_BANDS["crashes"]["rollback_above"]), ge=0, description="strictly more restarts than this: roll back now (> 3 in 5 min)")
    monitor_from: int = Field(int(DEFAULT_BANDS["crashes"]["monitor_from"]), ge=1, description="at least this many restarts: monitor")
    window_s: float = Field(300.0, gt=0, description="restarts are counted over this window")


class UserReportBands(_Section):
    """User reports within ``window_s`` (an operator input)."""

    investigate_above: int = Field(10, ge=0, description="strictly more reports: investigate, possible rollback (consider)")
    window_s: float = Field(300.0, gt=0)


class MatrixConfig(_Section):
    """The runbooks' decision matrix."""

    error_rate: ErrorRateBands = Field(default_factory=ErrorRateBands)
    p95_ms: LatencyBands = Field(default_factory=LatencyBands)
    crashes: CrashBands = Field(default_factory=CrashBands)
    user_reports: UserReportBands = Field(default_factory=UserReportBands)
    required: list[Literal["error_rate", "p95_ms", "health", "crashes"]] = Field(
        default_factory=lambda: ["error_rate", "p95_ms"],
        description="metrics without which the verdict can be no better than INCONCLUSIVE",
    )
    min_requests: int = Field(
        20, ge=0,
        description="a window with fewer requests gives no error rate and no p95 (too little traffic to judge: "
                    "1 error in 3 requests is no 33 % error rate; at 20 one error alone never crosses 5 %); "
                    "0: judge any traffic",
    )


class TreeConfig(_Section):
    """The decision tree: critical → immediate rollback; many users → standard; else hotfix."""

    critical_error_rate_above: float = Field(0.50, ge=0.0, le=1.0, description="errors strictly above: critical (> 50 %)")
    users_affected_above: float = Field(0.10, ge=0.0, le=1.0, description="fraction of users strictly above: standard rollback (> 10 %)")


class TriggerConfig(_Section):
    """Automatic rollback triggers (MOBIUS runbook). Counts are consecutive checks."""

    health_failures: int = Field(3, ge=1, description="consecutive failed health checks")
    success_rate_below: float = Field(0.70, ge=0.0, le=1.0, description="share of passed checks strictly below this ...")
    success_min_checks: int = Field(5, ge=1, description="... once at least this many checks were made")
    p95_ms_above: float = Field(5000.0, gt=0, description="p95 strictly above this ...")
    p95_consecutive: int = Field(3, ge=1, description="... for this many consecutive checks")
    error_rate_above: float = Field(0.05, ge=0.0, le=1.0, description="error ratio strictly above this ...")
    error_consecutive: int = Field(5, ge=1, description="... for this many consecutive checks")


class DecisionConfig(_Section):
    matrix: MatrixConfig = Field(default_factory=MatrixConfig)
    tree: TreeConfig = Field(default_factory=TreeConfig)
    triggers: TriggerConfig = Field(default_factory=TriggerConfig)
    compare_ratio_above: float = Field(1.1, gt=0, description="warn when error ratio after/before a rollback exceeds this")


# --------------------------------------------------------------------------- watch


class WatchConfig(_Section):
    interval_s: float = Field(
        5.0, gt=0, le=3600,
        description="seconds between checks, for `cockpit watch` and the full-screen cockpit alike: the triggers count "
                    "one check per interval however often the screen refreshes",
    )
    window_s: float = Field(60.0, gt=0, description="rates and quantiles are computed over this sliding window")
    stabilization_s: float = Field(60.0, ge=0, description="after a deploy or rollback, do not judge for this long")
    countdown_s: float = Field(10.0, ge=0, description="auto-rollback countdown; SIGINT during it aborts")
    stale_after_s: float | None = Field(None, gt=0, description="a source is stale when its last good reading is older (default: 3 × interval)")
    source_error_limit: int = Field(3, ge=1, description="consecutive failures of a source before it raises an alert")
    verify_timeout_s: float = Field(300.0, gt=0, description="after a rollback, how long OK may take before the watch says 'not verified'")
    journal_samples_s: float = Field(
        10.0, ge=1, le=600,
        description="an open incident's journal gets at most one metric sample per this many seconds (the interval's "
                    "highest error rate and p95): the report's peaks and the observers' panes",
    )

    def stale_after(self) -> float:
        return self.stale_after_s if self.stale_after_s is not None else 3.0 * self.interval_s


# --------------------------------------------------------------------------- metrics


DEFAULT_SELECTOR = 'namespace="{namespace}",service="{deployment}"'


class PrometheusQueries(_Section):
    """PromQL templates. ``{selector}`` and ``{window}`` (e.g. ``60s``) are filled in.

    ``or vector(0)``: a service that never answered 5xx has no 5xx series at all; that is
    0 % errors when there is traffic (the division by an empty total still gives nothing)."""

    error_rate: str = (
        '(sum(rate(http_requests_total{{{selector},code=~"5.."}}[{window}])) or vector(0))'
        " / sum(rate(http_requests_total{{{selector}}}[{window}]))"
    )
    p95_ms: str = (
        "1000 * histogram_quantile(0.95, sum by (le) "
        "(rate(http_request_duration_seconds_bucket{{{selector}}}[{window}])))"
    )
    request_rate: str = "sum(rate(http_requests_total{{{selector}}}[{window}]))"


class PrometheusConfig(_Section):
    url: str = Field("", description="e.g. http://prometheus:9090 (empty: not configured)")
    timeout_s: float = Field(5.0, gt=0)
    username: str = ""
    password: SecretStr = SecretStr("")
    token: SecretStr = Field(SecretStr(""), description="bearer token (never printed)")
    selector: str = Field(DEFAULT_SELECTOR, description="label matchers; {namespace} and {deployment} are filled in")
    queries: PrometheusQueries = Field(default_factory=PrometheusQueries)


class ScrapeConfig(_Section):
    url: str = Field("", description="the service's /metrics URL (empty: discovered from the Service annotation)")
    timeout_s: float = Field(5.0, gt=0)
    annotation: str = Field("cockpit.drill/url", description="Service annotation holding the service's base URL")


class ProbeConfig(_Section):
    enabled: bool = True
    health_path: str = "/health"
    version_path: str = "/version"
    timeout_s: float = Field(3.0, gt=0)


class MetricsConfig(_Section):
    source: Literal["scrape", "prometheus", "apiproxy"] = Field(
        "scrape", description="scrape: a /metrics URL (or the Service's URL annotation, else through the API "
                              "server's proxy); prometheus: the Prometheus HTTP API; apiproxy: the deployment's "
                              "/metrics through the Kubernetes API server's proxy (needs only kubectl access)")
    prometheus: PrometheusConfig = Field(default_factory=PrometheusConfig)
    scrape: ScrapeConfig = Field(default_factory=ScrapeConfig)
    probe: ProbeConfig = Field(default_factory=ProbeConfig)
    crashes: bool = Field(True, description="count pod restarts from the Kubernetes backend")


# --------------------------------------------------------------------------- data


class DataConfig(_Section):
    """The data layer the cockpit's data panel shows (key ``D``): PostgreSQL and Redis.

    Environment: ``COCKPIT_DATA__POSTGRES_DSN``, ``COCKPIT_DATA__REDIS_URL``. Both are secrets
    (their passwords are never shown); unset, the panel says how to configure them."""

    postgres_dsn: SecretStr | None = Field(None, description="PostgreSQL DSN or URL (a secret: the password is never shown)")
    redis_url: SecretStr | None = Field(None, description="Redis URL, e.g. redis://:pw@host:6379/0 (a secret)")
    backups_dir: Path | None = Field(None, description="where pg_dump backups are listed from (default: <state dir>/backups)")
    long_tx_older_than_s: float = Field(30.0, ge=0, description="list transactions open longer than this")


# --------------------------------------------------------------------------- journal


class JournalConfig(_Section):
    """The incident journal and its mirror (the incident shared across hosts).

    Environment: ``COCKPIT_JOURNAL__MIRROR``; flag: ``--mirror URL``. The local journal stays
    the write-ahead truth; the mirror copies every record to the team's store, best-effort and
    in order, and never blocks the operator (see ``cockpit/mirror.py``)."""

    mirror: SecretStr | None = Field(
        None, description="where every record is mirrored: postgresql://user:pw@host/db or redis://:pw@host:6379/0 "
                          "(a secret: the password is never shown or journaled); unset: no mirror")
    mirror_queue: int = Field(1000, ge=1, le=1_000_000,
                              description="records queued for the mirror before it falls behind and backfills from "
                                          "the journal file")
    mirror_flush_s: float = Field(3.0, ge=0, le=60,
                                  description="when a journal closes, how long to wait for the mirror to have every "
                                              "record (what is left is sent by the next session that mirrors it)")

    @field_validator("mirror")
    @classmethod
    def _mirror_url(cls, v: SecretStr | None) -> SecretStr | None:
        if v is None or not v.get_secret_value().strip():
            return None
        from cockpit.mirror import is_mirror_url

        if not is_mirror_url(v.get_secret_value().strip()):
            raise ValueError("expected a postgresql://, postgres://, redis:// or rediss:// URL")
        return SecretStr(v.get_secret_value().strip())


# --------------------------------------------------------------------------- ui


class UiConfig(_Section):
    """The full-screen cockpit."""

    keys: dict[str, str] = Field(
        default_factory=dict,
        description="rebind keys by binding id (see the help screen, `?`), e.g. {history: H, quit: 'q,ctrl+q'}; "
                    "only keys terminals send over SSH",
    )

    @field_validator("keys")
    @classmethod
    def _known_and_sendable(cls, v: dict[str, str]) -> dict[str, str]:
        from cockpit.keymap import DEFAULTS, apply_overrides

        try:
            apply_overrides(DEFAULTS, v, source="ui.keys")
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        return v


# --------------------------------------------------------------------------- the root


class CdnSettings(_Section):
    """The ``cdn`` section: API tokens (secrets) and endpoints for ``cockpit cdn purge`` / ``cdn.purge``."""

    cloudflare_api_token: SecretStr | None = Field(None, description="Cloudflare API token with Cache Purge permission (a secret)")
    fastly_api_token: SecretStr | None = Field(None, description="Fastly API token with purge_select/purge_all scope (a secret)")
    cloudflare_url: str = Field("https://api.cloudflare.com/client/v4", description="Cloudflare API base URL")
    fastly_url: str = Field("https://api.fastly.com", description="Fastly API base URL")
    attempts: int = Field(4, ge=1, le=10, description="tries per request (429 and 5xx retried)")
    backoff_s: float = Field(1.0, ge=0, description="first back-off (doubles, capped at 30 s; Retry-After wins)")
    timeout_s: float = Field(10.0, gt=0, description="per-request timeout")


class Settings(BaseSettings):
    """All of the cockpit's settings. Add a section: one field with a ``default_factory``."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=ENV_DELIMITER,
        extra="forbid",
        validate_assignment=True,
    )

    decision: DecisionConfig = Field(default_factory=DecisionConfig)
    watch: WatchConfig = Field(default_factory=WatchConfig)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    notify: NotifySettings = Field(default_factory=NotifySettings)
    data: DataConfig = Field(default_factory=DataConfig)
    journal: JournalConfig = Field(default_factory=JournalConfig)
    cdn: CdnSettings = Field(default_factory=CdnSettings)
    ui: UiConfig = Field(default_factory=UiConfig)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Highest priority first: flags (init), environment, then the file (also passed as
        # init data below, but underneath: see load_settings). No dotenv, no secrets dir.
        return (init_settings, env_settings)


# --------------------------------------------------------------------------- loading


def config_home(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    base = env.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "cockpit"


def default_config_file(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    explicit = env.get(CONFIG_FILE_ENV)
    return Path(explicit) if explicit else config_home(env) / "config.yaml"


def deep_merge(base: dict, over: Mapping) -> dict:
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def _has_path(data: Any, loc: tuple) -> bool:
    for part in loc:
        if isinstance(data, Mapping) and part in data:
            data = data[part]
        else:
            return False
    return True


def _get_path(data: Any, loc: tuple) -> Any:
    for part in loc:
        data = data[part]
    return data


def _read_yaml(path: Path) -> dict:
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}:{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of sections (decision, watch, metrics), got {type(data).__name__}")
    return data


_SECRET_FIELDS = frozenset({"mirror", "postgres_dsn", "redis_url", "password", "token"})
"""Keys whose values are secrets (``SecretStr``): an error about them never quotes the value."""


def _env_name(loc: tuple) -> str:
    return ENV_PREFIX + ENV_DELIMITER.join(str(p).upper() for p in loc)


def _describe(err: dict, *, file: Path | None, layers: list[tuple[str, dict]]) -> str:
    loc = tuple(err.get("loc", ()))
    key = ".".join(str(p) for p in loc) or "(top level)"
    where = key
    for kind, data in layers:  # highest priority first: the layer that set the key is named
        if _has_path(data, loc):
            section = isinstance(_get_path(data, loc), Mapping)
            if section:
                where = {"flag": f"{key} (from flags)", "env": f"{key} (from COCKPIT_ environment)"}.get(kind, f"{file}: {key}")
            elif kind == "flag":
                where = f"flag for {key}"
            elif kind == "env":
                where = f"environment variable {_env_name(loc)}"
            else:
                where = f"{file}: {key}"
            break
    msg = err.get("msg", "invalid")
    if err.get("type") == "extra_forbidden":
        msg = "unknown key (a typo?)"
    got = err.get("input")
    got_s = "" if isinstance(got, (dict, list)) or got is None else f" (got {got!r})"
    if got_s and loc and str(loc[-1]) in _SECRET_FIELDS:
        got_s = ""  # a secret's value is never echoed, even a malformed one
    return f"{where}: {msg}{got_s}"


def load_settings(
    *,
    file: str | os.PathLike | None = None,
    overrides: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    use_file: bool = True,
) -> Settings:
    """Build the settings: defaults ← file ← environment ← ``overrides`` (the flags).

    ``file``: an explicit config file (must exist); default ``$COCKPIT_CONFIG_FILE`` or the
    XDG one (used when it exists). ``env``: the environment (default ``os.environ``).
    Raises ConfigError naming the file / variable / flag, the key and what was expected.
    """
    env_map = dict(os.environ if env is None else env)
    flags = dict(overrides or {})
    path: Path | None = None
    file_data: dict = {}
    if use_file:
        if file is not None:
            path = Path(file)
            if not path.exists():
                raise ConfigError(f"{path}: no such config file")
        else:
            candidate = default_config_file(env_map)
            if candidate.exists():
                path = candidate
            elif CONFIG_FILE_ENV in env_map:
                raise ConfigError(f"{candidate}: no such config file (from ${CONFIG_FILE_ENV})")
        if path is not None:
            file_data = _read_yaml(path)
    env_data = _env_layer(env_map)
    merged = deep_merge(deep_merge(file_data, env_data), flags)
    try:
        return _build(merged)
    except ValidationError as exc:
        lines = [
            _describe(e, file=path, layers=[("flag", flags), ("env", env_data), ("file", file_data)])
            for e in exc.errors(include_url=False)
        ]
        raise ConfigError("; ".join(lines), hint="see `cockpit config schema`") from None


def _build(data: dict) -> Settings:
    # model_validate skips the settings sources: the layers were merged by load_settings.
    return Settings.model_validate(data)


class _EnvSource(EnvSettingsSource):
    """pydantic-settings' own environment parsing, over a given mapping (tests, subprocesses)."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._given = {k.lower(): v for k, v in env.items()}
        super().__init__(Settings, case_sensitive=False, env_prefix=ENV_PREFIX, env_nested_delimiter=ENV_DELIMITER)

    def _load_env_vars(self) -> Mapping[str, str | None]:  # type: ignore[override]
        return self._given


def _env_layer(env: Mapping[str, str]) -> dict:
    """``COCKPIT_A__B__C=value`` → ``{"a": {"b": {"c": value}}}`` (pydantic-settings rules)."""
    return _EnvSource(env)()


def json_schema() -> dict:
    """The published JSON schema of the config file."""
    schema = Settings.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Rollback Cockpit configuration ($XDG_CONFIG_HOME/cockpit/config.yaml)"
    return schema


def public_dict(settings: Settings) -> dict:
    """The settings as plain data with secrets shown as ``***`` when set."""
    return settings.model_dump(mode="json")  # SecretStr dumps as '**********'


# --------------------------------------------------------------------------- importer


def import_rollback_config(path: str | os.PathLike) -> tuple[dict, list[str]]:
    """Translate a runbook ``rollback-config.json`` into our settings: see
    :func:`cockpit.config_import.import_rollback_config` (imported on use)."""
    from cockpit.config_import import import_rollback_config as translate

    return translate(path)


def to_yaml(data: dict) -> str:
    import yaml

    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False)
