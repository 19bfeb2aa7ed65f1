"""Unleash's Admin API as a :class:`cockpit.flags.FlagService`.

Request shapes (Unleash's Admin API documentation):

- ``GET  {url}/api/admin/projects/{project}/features/{feature}``: the flag with
  ``environments: [{name, enabled, ...}]`` (404 when it does not exist);
- ``GET  {url}/api/admin/projects/{project}/features``: the project's flags (``features``);
- ``POST {url}/api/admin/projects/{project}/features/{feature}/environments/{env}/on|off``.

Every request carries the admin API token in ``Authorization`` (a ``SecretStr``: never shown,
journaled or put in a message; a refused one is named by where it came from), a
``User-Agent`` and a timeout. Readonly refuses in :meth:`UnleashService.set_enabled` and again
at the transport (an httpx event hook that refuses every non-GET request), before a byte is
sent.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
from pydantic import SecretStr

from cockpit import __version__
from cockpit.errors import ConfigError, NotFoundError, ReadonlyError, UnreachableError
from cockpit.flags import FlagNotFound, FlagRef, FlagState
from cockpit.text import redact_url, sanitize

USER_AGENT = f"cockpit/{__version__}"
URL_ENV = ("COCKPIT_FLAGS__UNLEASH_URL", "UNLEASH_URL")
TOKEN_ENV = ("COCKPIT_FLAGS__UNLEASH_API_TOKEN", "UNLEASH_API_TOKEN")


def _q(part: str) -> str:
    return quote(part, safe="")


def resolve(url: str | None, token: SecretStr | str | None,
            env: Mapping[str, str] | None = None) -> tuple[str, SecretStr, str]:
    """The server URL, the admin token and where the token came from (never its value)."""
    env = os.environ if env is None else env
    url = url or next((env[n] for n in URL_ENV if env.get(n)), "")
    if not url:
        raise ConfigError("no Unleash URL: pass --url or set $UNLEASH_URL", title="Not configured")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"Unleash URL {sanitize(redact_url(url), max_len=200)!r} is not http(s)://HOST[:PORT]")
    if token:
        return url.rstrip("/"), (token if isinstance(token, SecretStr) else SecretStr(token)), "the settings"
    for name in TOKEN_ENV:
        if env.get(name):
            return url.rstrip("/"), SecretStr(env[name]), f"${name}"
    raise ConfigError(f"no Unleash admin API token: set {' or '.join('$' + n for n in TOKEN_ENV)}",
                      title="Not configured")


class UnleashService:
    provider = "unleash"

    def __init__(self, url: str, token: SecretStr, *, token_source: str = "the settings", readonly: bool = False,
                 timeout: float = 10.0, transport: httpx.BaseTransport | None = None) -> None:
        self.url, self.token, self.token_source = url.rstrip("/"), token, token_source
        self.readonly, self.timeout = readonly, timeout
        self.requests_sent = 0
        self._client = httpx.Client(
            base_url=self.url, timeout=timeout, transport=transport,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
            event_hooks={"request": [self._guard]},
        )

    @classmethod
    def from_env(cls, *, url: str | None = None, token: SecretStr | str | None = None, readonly: bool = False,
                 env: Mapping[str, str] | None = None, **kw: Any) -> UnleashService:
        base, secret, source = resolve(url, token, env)
        return cls(base, secret, token_source=source, readonly=readonly, **kw)

    def __enter__(self) -> UnleashService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def target(self) -> str:
        return redact_url(self.url)

    # ---- transport

    def _guard(self, request: httpx.Request) -> None:
        if self.readonly and request.method not in ("GET", "HEAD"):
            raise ReadonlyError(f"readonly: refused {request.method} {request.url.path} to Unleash; nothing was sent")
        self.requests_sent += 1

    def _scrub(self, text: str) -> str:
        secret = self.token.get_secret_value()
        return sanitize(text.replace(secret, "***") if secret else text, max_len=300)

    def _send(self, method: str, path: str, json: Any = None) -> httpx.Response:
        headers = {"Authorization": self.token.get_secret_value()}
        try:
            resp = self._client.request(method, path, json=json, headers=headers)
        except ReadonlyError:
            raise
        except httpx.TimeoutException:
            raise UnreachableError(f"Unleash at {self.target()} did not answer within {self.timeout:g} s "
                                   f"({method} {path})") from None
        except httpx.HTTPError as exc:
            raise UnreachableError(f"Unleash at {self.target()} is unreachable: "
                                   f"{self._scrub(type(exc).__name__ + ': ' + str(exc))}") from None
        if resp.status_code in (401, 403):
            raise ConfigError(f"Unleash refused the admin API token from {self.token_source} "
                              f"({resp.status_code}{self._why(resp)})", title="Credentials refused")
        if resp.status_code >= 500:
            raise UnreachableError(f"Unleash at {self.target()} answered {resp.status_code}{self._why(resp)} "
                                   f"to {method} {path}")
        return resp

    def _why(self, resp: httpx.Response) -> str:
        try:
            data = resp.json()
        except ValueError:
            return ""
        msg = ""
        if isinstance(data, dict):
            msg = data.get("message") or data.get("details") or ""
            if isinstance(msg, list):
                msg = "; ".join(str(m.get("message", m)) if isinstance(m, dict) else str(m) for m in msg)
        return f": {self._scrub(str(msg))}" if msg else ""

    def _json(self, resp: httpx.Response, what: str) -> Any:
        try:
            return resp.json()
        except ValueError:
            raise UnreachableError(f"Unleash at {self.target()} answered {what} with something that is not JSON "
                                   f"({resp.status_code})") from None

    # ---- the port

    def list_flags(self, project: str) -> list[str]:
        resp = self._send("GET", f"/api/admin/projects/{_q(project)}/features")
        if resp.status_code == 404:
            raise NotFoundError(f"Unleash has no project {sanitize(project, max_len=80)!r}{self._why(resp)}",
                                title="Unknown project")
        if resp.status_code != 200:
            raise UnreachableError(f"Unleash answered {resp.status_code}{self._why(resp)} listing project "
                                   f"{sanitize(project, max_len=80)!r}'s flags")
        data = self._json(resp, "the flag list")
        feats = data.get("features", []) if isinstance(data, dict) else []
        return sorted(sanitize(str(f.get("name", "")), max_len=120) for f in feats if isinstance(f, dict))

    def get(self, ref: FlagRef) -> FlagState:
        resp = self._send("GET", f"/api/admin/projects/{_q(ref.project)}/features/{_q(ref.feature)}")
        if resp.status_code == 404:
            raise FlagNotFound(f"no flag {ref.feature!r} in project {ref.project!r}")
        if resp.status_code != 200:
            raise UnreachableError(f"Unleash answered {resp.status_code}{self._why(resp)} reading "
                                   f"{sanitize(ref.describe(), max_len=200)}")
        data = self._json(resp, "the flag")
        envs = [e for e in (data.get("environments") or []) if isinstance(e, dict)] if isinstance(data, dict) else []
        names = tuple(sanitize(str(e.get("name", "")), max_len=80) for e in envs)
        for e in envs:
            if e.get("name") == ref.environment:
                return FlagState(ref, bool(e.get("enabled")), names)
        raise NotFoundError(f"flag {sanitize(ref.feature, max_len=120)!r} has no environment "
                            f"{sanitize(ref.environment, max_len=80)!r} in project "
                            f"{sanitize(ref.project, max_len=80)!r}; its environments: {', '.join(names) or 'none'}",
                            title="Unknown environment")

    def set_enabled(self, ref: FlagRef, enabled: bool) -> None:
        if self.readonly:
            raise ReadonlyError(f"readonly: not switching {sanitize(ref.describe(), max_len=200)} "
                                f"{'on' if enabled else 'off'} on Unleash; nothing was sent")
        path = (f"/api/admin/projects/{_q(ref.project)}/features/{_q(ref.feature)}"
                f"/environments/{_q(ref.environment)}/{'on' if enabled else 'off'}")
        resp = self._send("POST", path)
        if resp.status_code == 404:
            raise NotFoundError(f"Unleash: {sanitize(ref.describe(), max_len=200)} not found{self._why(resp)}")
        if resp.status_code >= 300:
            raise UnreachableError(f"Unleash refused switching {sanitize(ref.describe(), max_len=200)} "
                                   f"{'on' if enabled else 'off'}: {resp.status_code}{self._why(resp)}")
