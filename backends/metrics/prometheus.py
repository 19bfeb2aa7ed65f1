"""The Prometheus HTTP API: instant and range queries, and a metrics source built on them.

Every request has a timeout and carries ``User-Agent: cockpit/<version>``; basic auth or a
bearer token come from the settings as ``SecretStr`` and never appear in errors or output
(URLs are shown through :func:`cockpit.text.redact_url`).

Default PromQL (``metrics.prometheus.queries``) follows the ``http_requests_total{code}`` /
``http_request_duration_seconds_bucket{le}`` conventions; ``{selector}`` is
``metrics.prometheus.selector`` with ``{namespace}`` and ``{deployment}`` filled in and
``{window}`` the window as a duration (``60s``). An empty result — no series, no traffic, a
target that went away — is *not measured* (``None``), never zero, and so is NaN or ±Inf.

A Prometheus that fails (5xx, 429: :class:`~cockpit.errors.ServerError`), does not answer, or
answers something that is not a query result gives a failed reading, never a crash; one that
failed most of its last checks is not believed when it answers (:mod:`.reliability`). Nothing
is retried within a check: the next check is the retry.
"""
from __future__ import annotations

import math
import time
from typing import Any

import httpx
from pydantic import SecretStr

from cockpit.decision import Reading, WindowStats
from cockpit.errors import CockpitError, ConfigError, ServerError, UnreachableError
from cockpit.text import redact_url, sanitize

from backends.metrics.http import client, short_error
from backends.metrics.reliability import Track


def _secret(v: SecretStr | str | None) -> str:
    if isinstance(v, SecretStr):
        return v.get_secret_value()
    return v or ""


def duration(seconds: float) -> str:
    """PromQL duration: whole seconds (at least 1s), or milliseconds below 10 s."""
    if seconds < 10 and seconds != int(seconds):
        return f"{max(1, int(round(seconds * 1000)))}ms"
    return f"{max(1, int(round(seconds)))}s"


class PrometheusClient:
    """A small client for ``/api/v1/query`` and ``/api/v1/query_range``."""

    def __init__(self, url: str, *, timeout: float = 5.0, username: str = "", password: SecretStr | str = "",
                 token: SecretStr | str = "", http: httpx.Client | None = None) -> None:
        if not url:
            raise ConfigError("no Prometheus URL", hint="pass --prometheus-url or set metrics.prometheus.url")
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"metrics.prometheus.url: expected an http(s):// URL, got {redact_url(url)!r}")
        self.url = url.rstrip("/")
        self.timeout = timeout
        headers = {}
        auth = None
        if _secret(token):
            headers["Authorization"] = f"Bearer {_secret(token)}"
        elif username:
            auth = httpx.BasicAuth(username, _secret(password))
        self._http = http or client(timeout, headers=headers, auth=auth)

    def __repr__(self) -> str:  # never the credentials
        return f"PrometheusClient({redact_url(self.url)!r})"

    def _get(self, path: str, params: dict[str, Any]) -> Any:
        where = redact_url(self.url)
        try:
            resp = self._http.get(self.url + path, params=params)
        except httpx.HTTPError as exc:
            raise UnreachableError(f"Prometheus at {where} did not answer: {short_error(exc)}") from None
        try:
            doc = resp.json()
        except ValueError:
            doc = None
        if resp.status_code in (401, 403):
            raise CockpitError(f"Prometheus at {where} refused us (HTTP {resp.status_code})",
                               title="Unauthorized", hint="check metrics.prometheus.username/password/token")
        if resp.status_code == 400 or (isinstance(doc, dict) and doc.get("errorType") == "bad_data"):
            msg = sanitize((doc or {}).get("error", resp.text), max_len=300) if isinstance(doc, dict) else resp.text[:300]
            raise ConfigError(f"Prometheus rejected the query {params.get('query', '')!r}: {msg}",
                              hint="check metrics.prometheus.queries / selector")
        if resp.status_code != 200 or not isinstance(doc, dict) or doc.get("status") != "success":
            msg = sanitize((doc or {}).get("error", "") if isinstance(doc, dict) else resp.text[:200], max_len=300)
            if resp.status_code == 200:
                raise self._garbage("something that is not a query result", msg)
            err = ServerError(f"Prometheus at {where} answered HTTP {resp.status_code}: {msg}", title="Prometheus error")
            err.status = resp.status_code
            retry_after = resp.headers.get("Retry-After")
            err.retry_after = float(retry_after) if retry_after and retry_after.isdigit() else None
            raise err
        data = doc.get("data")
        if not isinstance(data, dict):
            raise self._garbage("a success without data")
        return data

    def _garbage(self, what: str, detail: str = "") -> ServerError:
        return ServerError(f"Prometheus at {redact_url(self.url)} answered {what}" + (f": {detail}" if detail else ""),
                           title="Prometheus error", hint="check metrics.prometheus.url: is it a Prometheus?")

    def _number(self, value: Any, promql: str) -> float:
        try:
            return float(value)
        except (TypeError, ValueError):
            raise self._garbage(f"a value that is not a number ({sanitize(repr(value), max_len=60)}) for "
                                f"{sanitize(promql, max_len=200)!r}") from None

    def query(self, promql: str, at: float | None = None) -> list[tuple[dict[str, str], float]]:
        """Instant query → [(labels, value)] (vector or scalar results)."""
        params: dict[str, Any] = {"query": promql, "timeout": duration(self.timeout)}
        if at is not None:
            params["time"] = f"{at:.3f}"
        data = self._get("/api/v1/query", params)
        kind, result = data.get("resultType"), data.get("result")
        try:
            if kind == "scalar":
                return [({}, self._number(result[1], promql))]
            if kind == "vector":
                return [(item.get("metric") or {}, self._number(item["value"][1], promql)) for item in result]
        except (KeyError, IndexError, TypeError, AttributeError):
            raise self._garbage(f"a {sanitize(str(kind), max_len=20)} result of the wrong shape for "
                                f"{sanitize(promql, max_len=200)!r}") from None
        raise self._garbage(f"a result of type {sanitize(repr(kind), max_len=30)} to an instant query")

    def query_range(self, promql: str, start: float, end: float, step: float) -> list[tuple[dict[str, str], list[tuple[float, float]]]]:
        """Range query → [(labels, [(t, value), ...])]."""
        data = self._get("/api/v1/query_range", {"query": promql, "start": f"{start:.3f}", "end": f"{end:.3f}",
                                                 "step": duration(step), "timeout": duration(self.timeout)})
        try:
            return [(item.get("metric") or {}, [(self._number(t, promql), self._number(v, promql))
                                                for t, v in item.get("values") or []])
                    for item in data.get("result") or []]
        except (KeyError, IndexError, TypeError, AttributeError, ValueError):
            raise self._garbage(f"a range result of the wrong shape for {sanitize(promql, max_len=200)!r}") from None

    def scalar(self, promql: str, at: float | None = None) -> float | None:
        """The first sample's value; None for an empty result or NaN/Inf (0/0: no traffic)."""
        rows = self.query(promql, at)
        if not rows:
            return None
        v = rows[0][1]
        return v if math.isfinite(v) else None

    def close(self) -> None:
        self._http.close()


class PrometheusSource:
    """``MetricsSource`` over the Prometheus API for one deployment."""

    def __init__(self, client: PrometheusClient, *, namespace: str, deployment: str, selector: str,
                 queries: Any, name: str = "prometheus") -> None:
        self.client = client
        self.name = name
        self.selector = selector.format(namespace=namespace, deployment=deployment)
        self.queries = queries
        self.track = Track()

    def describe(self) -> str:
        return f"prometheus {redact_url(self.client.url)} {{{self.selector}}}"

    def promql(self, which: str, window_s: float) -> str:
        template = getattr(self.queries, which)
        return template.format(selector=self.selector, window=duration(window_s))

    def sample(self, window_s: float, now: float | None = None) -> Reading:
        """One check: three instant queries. Any failure fails the check (never a partial
        reading); an answer from a source that failed most of its last checks is not used."""
        now = time.time() if now is None else now
        try:
            err = self.client.scalar(self.promql("error_rate", window_s))
            p95 = self.client.scalar(self.promql("p95_ms", window_s))
            rate = self.client.scalar(self.promql("request_rate", window_s))
        except ConfigError:
            raise  # a bad query is the operator's to fix, not staleness
        except CockpitError as exc:
            return self.track.judge(Reading(self.name, at=now, ok=False, error=exc.message))
        if rate is not None and rate <= 0:
            err = None  # no traffic: no error rate (and the ratio was 0/0 anyway)
        return self.track.judge(Reading(self.name, at=now, window_s=window_s, error_rate=err, p95_ms=p95,
                                        request_rate=rate))

    def history(self, span_s: float, now: float | None = None, step_s: float | None = None, *,
                rate_window_s: float = 60.0) -> list[tuple[float, float | None, float | None]]:
        """The last ``span_s`` seconds as ``[(t, error_rate, p95_ms)]``, oldest first, one point
        per ``step_s`` (default: ``span_s / 240``, at least 1 s), each measured as :meth:`sample`
        measures it over ``rate_window_s`` — three range queries, so panes that start with it show
        what happened before the cockpit was opened (the moment of a bad release).

        A value is None where Prometheus has none (no series, NaN, ±Inf) and the error rate is
        None where there was no traffic; steps where neither is known are left out. Raises
        :class:`~cockpit.errors.CockpitError` when Prometheus fails (:class:`ConfigError` for a
        query it rejects); nothing is retried, and the source's reliability track is untouched
        (a history is not a check)."""
        now = time.time() if now is None else now
        now = math.floor(now * 1000) / 1000  # Prometheus keeps milliseconds: never a point after ``now``
        step = max(1.0, step_s if step_s is not None else span_s / 240.0)
        start = now - span_s

        def series(which: str) -> dict[float, float]:
            rows = self.client.query_range(self.promql(which, rate_window_s), start, now, step)
            if not rows:
                return {}
            return {round(t, 3): v for t, v in rows[0][1] if math.isfinite(v)}

        err, p95, rate = series("error_rate"), series("p95_ms"), series("request_rate")
        out = []
        for t in sorted(set(err) | set(p95)):
            e = err.get(t)
            if t in rate and rate[t] <= 0:
                e = None  # no traffic: no error rate
            if e is None and p95.get(t) is None:
                continue
            out.append((t, e, p95.get(t)))
        return out

    def window_stats(self, start: float, end: float) -> WindowStats:
        """One window's averages, evaluated at ``end`` over ``end - start`` (for before/after)."""
        w = max(1.0, end - start)
        return WindowStats(start=start, end=end, samples=1,
                           error_rate=self.client.scalar(self.promql("error_rate", w), at=end),
                           p95_ms=self.client.scalar(self.promql("p95_ms", w), at=end),
                           request_rate=self.client.scalar(self.promql("request_rate", w), at=end))

    def close(self) -> None:
        self.client.close()
