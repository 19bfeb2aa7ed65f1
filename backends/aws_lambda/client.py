"""AWS Lambda aliases through boto3: published versions, aliases with their routing weights,
and the one write — pointing an alias at a version (``UpdateAlias``).

Credentials and region come from boto3's standard chain (environment, shared credentials and
config files, profiles, SSO, container and instance metadata); ``endpoint_url`` (flag
``--endpoint-url``, else ``AWS_ENDPOINT_URL``, which botocore reads itself) points it at an
emulator such as moto. Readonly is enforced twice: :meth:`LambdaBackend.set_alias` refuses
before building a request, and a ``before-call`` hook on the client refuses every operation
that is not a ``Get``/``List`` before it is signed or sent.

:class:`AliasTraffic` is the alias as a :class:`cockpit.traffic.TrafficPort`: the route is the
alias, the backends are versions, so the gradual shift is the shared one. Lambda routes an
alias to its version plus at most one more (``AdditionalVersionWeights``).
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cockpit.errors import ConfigError, NotFoundError, ReadonlyError, UnreachableError
from cockpit.text import sanitize


class AuthenticationError(ConfigError):
    title = "Authentication failed"


_READ_PREFIXES = ("Get", "List")
_AUTH_CODES = {"UnrecognizedClientException", "InvalidSignatureException", "AccessDeniedException",
               "AccessDenied", "ExpiredTokenException", "ExpiredToken", "InvalidClientTokenId",
               "SignatureDoesNotMatch", "MissingAuthenticationTokenException", "IncompleteSignature"}
_SOURCES = {
    "env": "the environment (AWS_ACCESS_KEY_ID)",
    "explicit": "explicit keys",
    "shared-credentials-file": "the shared credentials file",
    "config-file": "the AWS config file",
    "iam-role": "the instance metadata (IAM role)",
    "container-role": "the container credentials endpoint",
    "assume-role": "an assumed role (profile role_arn)",
    "assume-role-with-web-identity": "a web identity token (AWS_WEB_IDENTITY_TOKEN_FILE)",
    "sso": "AWS SSO",
    "custom-process": "a credential_process",
}


@dataclass(frozen=True)
class Version:
    version: str
    description: str
    code_sha256: str
    last_modified: str


@dataclass(frozen=True)
class Alias:
    name: str
    version: str
    weights: dict[str, float] = field(default_factory=dict)
    """``AdditionalVersionWeights``: version → share (0–1) routed away from ``version``."""
    revision_id: str = ""

    def split(self) -> dict[str, int]:
        """The alias's traffic as whole percentages per version (adding up to 100)."""
        extra = {v: int(round(w * 100)) for v, w in self.weights.items() if v != self.version}
        return {self.version: 100 - sum(extra.values()), **extra}

    @property
    def plain(self) -> bool:
        """All the traffic on ``version``: no routing weights."""
        return not any(w > 0 for v, w in self.weights.items() if v != self.version)


def _num(v: str) -> tuple[int, str]:
    return (int(v), v) if v.isdigit() else (1 << 62, v)


class LambdaBackend:
    """One boto3 Lambda client (created on first use; every call has a timeout)."""

    def __init__(self, *, region: str | None = None, endpoint_url: str | None = None, profile: str | None = None,
                 readonly: bool = False, connect_timeout: float = 5.0, read_timeout: float = 15.0) -> None:
        self.region = region or None
        self.endpoint_url = endpoint_url or None
        self.profile = profile or None
        self.readonly = readonly
        self.connect_timeout, self.read_timeout = connect_timeout, read_timeout
        self._session: Any = None
        self._client: Any = None
        self.sent_writes = 0

    # ------------------------------------------------------------------ plumbing

    @property
    def where(self) -> str:
        return self.endpoint_url or (f"AWS Lambda in {self.region}" if self.region else "AWS Lambda")

    def _readonly_hook(self, model: Any = None, **_: Any) -> None:
        name = getattr(model, "name", "?")
        if self.readonly and not name.startswith(_READ_PREFIXES):
            raise ReadonlyError(f"readonly: Lambda {name} refused (nothing was sent)")

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3
            import botocore.exceptions as bex
            from botocore.config import Config

            try:
                self._session = boto3.session.Session(profile_name=self.profile, region_name=self.region)
            except bex.ProfileNotFound:
                raise ConfigError(f"AWS profile {sanitize(self.profile or '')!r} not found",
                                  hint="check AWS_PROFILE / --profile and ~/.aws/config") from None
            cfg = Config(connect_timeout=self.connect_timeout, read_timeout=self.read_timeout,
                         retries={"max_attempts": 2, "mode": "standard"}, user_agent_extra="rollback-cockpit")
            try:
                client = self._session.client("lambda", endpoint_url=self.endpoint_url, config=cfg)
            except bex.NoRegionError:
                raise ConfigError("no AWS region set",
                                  hint="pass --region or set AWS_REGION / AWS_DEFAULT_REGION or a profile's region") from None
            except ValueError as exc:
                raise ConfigError(f"bad --endpoint-url {sanitize(str(self.endpoint_url))!r}: {sanitize(str(exc))}") from None
            client.meta.events.register("before-call.lambda", self._readonly_hook)
            self._client = client
        return self._client

    def _credential_source(self) -> str:
        try:
            creds = self._session.get_credentials() if self._session is not None else None
        except Exception:  # noqa: BLE001 — only for naming the source in an error
            creds = None
        method = getattr(creds, "method", None) or "?"
        text = _SOURCES.get(method, method)
        if method == "shared-credentials-file":
            text += f" {os.environ.get('AWS_SHARED_CREDENTIALS_FILE', '~/.aws/credentials')}"
        if method in ("shared-credentials-file", "config-file", "assume-role", "sso") and self._session is not None:
            text += f" [profile {self._session.profile_name}]"
        return text

    def _tried(self) -> str:
        creds_file = os.environ.get("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials")
        config_file = os.environ.get("AWS_CONFIG_FILE", "~/.aws/config")
        profile = self.profile or os.environ.get("AWS_PROFILE") or "default"
        return (f"tried the environment (AWS_ACCESS_KEY_ID), {creds_file} and {config_file} [profile {profile}], "
                "SSO, container and instance metadata")

    def call(self, op: str, **kw: Any) -> dict:
        """One Lambda operation, its failures turned into the cockpit's errors."""
        import botocore.exceptions as bex

        client = self.client
        try:
            return getattr(client, op)(**kw)
        except ReadonlyError:
            raise
        except bex.NoCredentialsError:
            raise AuthenticationError(f"no AWS credentials found for {self.where}", hint=self._tried()) from None
        except (bex.EndpointConnectionError, bex.ConnectTimeoutError, bex.ReadTimeoutError,
                bex.ConnectionClosedError) as exc:
            raise UnreachableError(f"{self.where} did not answer: {sanitize(str(exc), max_len=300)}",
                                   hint="check --endpoint-url / AWS_ENDPOINT_URL, the region and the network") from None
        except bex.ClientError as exc:
            err = exc.response.get("Error", {})
            code, msg = str(err.get("Code", "")), sanitize(str(err.get("Message", "")), max_len=300)
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in _AUTH_CODES or status in (401, 403):
                raise AuthenticationError(
                    f"{self.where} refused the credentials from {self._credential_source()}: {code}",
                    hint="check the keys, the profile or the role's permissions") from None
            if code == "ResourceNotFoundException":
                raise NotFoundError(msg or f"not found ({op})") from None
            if status is not None and status >= 500 or code in ("TooManyRequestsException", "ServiceException"):
                raise UnreachableError(f"{self.where} failed {op}: {code} {msg}") from None
            raise ConfigError(f"{self.where} rejected {op}: {code} {msg}") from None
        except bex.BotoCoreError as exc:
            raise UnreachableError(f"{self.where}: {sanitize(str(exc), max_len=300)}") from None

    def _pages(self, op: str, key: str, **kw: Any) -> list[dict]:
        out: list[dict] = []
        marker = None
        while True:
            page = self.call(op, **kw, **({"Marker": marker} if marker else {}))
            out.extend(page.get(key) or [])
            marker = page.get("NextMarker")
            if not marker:
                return out

    # ------------------------------------------------------------------ reads

    def function_names(self, limit: int = 30) -> list[str]:
        names = [sanitize(str(f.get("FunctionName", ""))) for f in self._pages("list_functions", "Functions")]
        return sorted(names)[:limit]

    def check_function(self, function: str) -> None:
        """NotFoundError listing the functions there are when ``function`` is not one."""
        try:
            self.call("get_function_configuration", FunctionName=function)
        except NotFoundError:
            names = self.function_names()
            raise NotFoundError(f"no Lambda function {sanitize(function)!r} in {self.where}; "
                                f"its functions: {', '.join(names) or 'none'}") from None

    def versions(self, function: str) -> list[Version]:
        """Published versions (not ``$LATEST``), oldest first."""
        try:
            rows = self._pages("list_versions_by_function", "Versions", FunctionName=function)
        except NotFoundError:
            self.check_function(function)
            raise
        out = [Version(str(r.get("Version", "")), sanitize(str(r.get("Description") or "")),
                       sanitize(str(r.get("CodeSha256") or "")), sanitize(str(r.get("LastModified") or "")))
               for r in rows if r.get("Version") != "$LATEST"]
        return sorted(out, key=lambda v: _num(v.version))

    def aliases(self, function: str) -> list[Alias]:
        try:
            rows = self._pages("list_aliases", "Aliases", FunctionName=function)
        except NotFoundError:
            self.check_function(function)
            raise
        return sorted((_alias(r) for r in rows), key=lambda a: a.name)

    def alias(self, function: str, name: str) -> Alias:
        """The alias, or NotFoundError listing the function's aliases (or its functions)."""
        try:
            return _alias(self.call("get_alias", FunctionName=function, Name=name))
        except NotFoundError:
            names = [a.name for a in self.aliases(function)]  # a missing function raises naming the functions
            raise NotFoundError(f"function {sanitize(function)} has no alias {sanitize(name)!r}; "
                                f"its aliases: {', '.join(names) or 'none'}") from None

    def check_version(self, function: str, version: str) -> list[Version]:
        versions = self.versions(function)
        if version not in {v.version for v in versions}:
            raise NotFoundError(f"function {sanitize(function)} has no published version {sanitize(version)!r}; "
                                f"its published versions: {', '.join(v.version for v in versions) or 'none'}")
        return versions

    # ------------------------------------------------------------------ the write

    def set_alias(self, function: str, name: str, version: str, weights: Mapping[str, float] | None = None,
                  revision_id: str | None = None) -> Alias:
        """Point the alias at ``version`` with ``weights`` (version → share 0–1) routed to one
        other version, or none (all traffic on ``version``). Refused readonly before sending."""
        if self.readonly:
            raise ReadonlyError(f"readonly: not moving alias {sanitize(name)} of {sanitize(function)} (nothing was sent)")
        extra = {str(v): round(float(w), 4) for v, w in (weights or {}).items() if v != version and w > 0}
        if len(extra) > 1:
            raise ConfigError(f"Lambda routes an alias to at most one additional version, not {len(extra)}")
        kw: dict[str, Any] = {"FunctionName": function, "Name": name, "FunctionVersion": version,
                              "RoutingConfig": {"AdditionalVersionWeights": extra}}
        if revision_id:
            kw["RevisionId"] = revision_id
        try:
            out = self.call("update_alias", **kw)
        except NotFoundError:
            self.alias(function, name)
            self.check_version(function, version)
            raise
        self.sent_writes += 1
        return _alias(out)


def _alias(r: Mapping[str, Any]) -> Alias:
    weights = ((r.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {})
    return Alias(sanitize(str(r.get("Name", ""))), sanitize(str(r.get("FunctionVersion", ""))),
                 {sanitize(str(k)): float(v) for k, v in weights.items()}, str(r.get("RevisionId") or ""))


class AliasTraffic:
    """A Lambda alias as a :class:`cockpit.traffic.TrafficPort`: route = alias name, backends =
    versions. ``include`` lists versions shown at 0 % when the alias does not route to them
    (the version a shift moves traffic onto)."""

    def __init__(self, backend: LambdaBackend, function: str, include: Iterable[str] = ()) -> None:
        self.backend, self.function, self.include = backend, function, tuple(include)
        self.readonly = backend.readonly

    def get_weights(self, route: str) -> dict[str, int]:
        split = self.backend.alias(self.function, route).split()
        for v in self.include:
            split.setdefault(v, 0)
        return split

    def set_weights(self, route: str, weights: Mapping[str, int]) -> dict[str, int]:
        positive = {str(k): int(v) for k, v in weights.items() if int(v) > 0}
        if not positive:
            raise ConfigError("every version at 0%: an alias must route its traffic somewhere")
        if len(positive) > 2:
            raise ConfigError(f"Lambda routes an alias to at most two versions, not {len(positive)} "
                              f"({', '.join(positive)})")
        now = self.backend.alias(self.function, route)
        if len(positive) == 1:
            primary = next(iter(positive))
            self.backend.set_alias(self.function, route, primary, {})
        else:
            primary = now.version if now.version in positive else max(positive, key=lambda k: positive[k])
            other = next(k for k in positive if k != primary)
            total = sum(positive.values())
            self.backend.set_alias(self.function, route, primary, {other: positive[other] / total})
        return self.get_weights(route)
