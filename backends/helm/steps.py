"""Step kind ``helm.rollback``: roll a Helm release back with Helm's own code.

.. code-block:: yaml

    - kind: helm.rollback
      params: {release: onboarding-api, namespace: business-onboarding, to_revision: 0}

``prepare`` reads the release's records (:mod:`.releases`, through the ``kubernetes``
backend's transport), refuses a release in a ``pending-*`` state with Helm's reason, resolves
``to_revision`` (0: the revision before the newest, as Helm does) and journals
``revision_chosen``; the intent carries the choice and the newest revision seen before. ``run``
hands it to Helm (:mod:`.helmcode`) and reads the records back: the new revision must say
"Rollback to N" and be deployed. ``reconcile`` (after a crash) looks for that revision.
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from cockpit.errors import CockpitError, ConflictError, NotFoundError, ReadonlyError
from cockpit.runbook import Duration
from cockpit.steps import Step, StepContext, StepParams, step_kind

from backends.helm.releases import HelmReleases, HelmRevision, deployed


class HelmRollbackParams(StepParams):
    release: str = Field(min_length=1, max_length=53)
    namespace: str | None = None
    to_revision: int = Field(default=0, ge=0)
    timeout: Duration = 300.0
    wait: Literal["hookOnly", "watcher", "legacy"] = "hookOnly"
    kubeconfig: str | None = None
    context: str | None = None


def pending_reason(newest: HelmRevision) -> str:
    return (f"release {newest.release} is {newest.status} (revision {newest.revision}): another operation "
            "(install/upgrade/rollback) is in progress")


def choose(history: list[HelmRevision], to_revision: int) -> tuple[HelmRevision, HelmRevision]:
    """(newest, target): Helm's rule — 0 means the revision before the newest one."""
    newest = history[-1]
    if newest.pending:
        raise ConflictError(pending_reason(newest), hint="wait for it to finish; if it crashed, "
                                                          "helm history shows which revision is stuck")
    number = to_revision or newest.revision - 1
    target = next((r for r in history if r.revision == number), None)
    if target is None or number < 1:
        raise NotFoundError(f"release {newest.release} has no revision {number} "
                            f"(revisions: {', '.join(str(r.revision) for r in history)})")
    return newest, target


def _releases(ctx: StepContext, params: HelmRollbackParams) -> tuple[HelmReleases, str]:
    kube = ctx.backend("kubernetes")
    ns = params.namespace or getattr(kube, "namespace", None) or ctx.namespace
    return HelmReleases(kube.t, ns), ns


def _result(rev: HelmRevision, intent: dict[str, Any]) -> dict[str, Any]:
    return {"release": rev.release, "namespace": rev.namespace, "revision": rev.revision,
            "to_revision": intent.get("to_revision"), "from_revision": intent.get("from_revision"),
            "images": list(rev.images), "status": rev.status}


def _took_effect(history: list[HelmRevision], intent: dict[str, Any]) -> HelmRevision | None:
    newer = [r for r in history if r.revision > int(intent.get("newest_before") or 0)]
    for r in reversed(newer):
        if r.rollback_to == intent.get("to_revision"):
            return r
    return None


@step_kind
class HelmRollbackStep(Step):
    kind = "helm.rollback"
    mutating = True
    Params = HelmRollbackParams

    def describe(self, params: HelmRollbackParams) -> str:
        to = f"revision {params.to_revision}" if params.to_revision else "the previous revision"
        return f"helm rollback {params.release} to {to}"

    def prepare(self, ctx: StepContext, params: HelmRollbackParams) -> dict[str, Any] | None:
        from cockpit import events as ev

        rels, ns = _releases(ctx, params)
        history = rels.history(params.release, ns)
        newest, target = choose(history, params.to_revision)
        live = deployed(history)
        if ctx.journal is not None:
            ctx.journal.write(ev.RevisionChosen(
                revision=target.revision, target=f"helm:{ns}/{params.release}", images=target.images,
                from_revision=live.revision if live else None, from_images=live.images if live else (),
                why=f"helm revision {target.revision} ({target.description or target.status})",
                step=ctx.step_index))
        return {"release": params.release, "namespace": ns, "to_revision": target.revision,
                "from_revision": live.revision if live else None, "newest_before": newest.revision,
                "images": list(target.images)}

    def run(self, ctx: StepContext, params: HelmRollbackParams) -> dict[str, Any]:
        from backends.helm import helmcode

        if ctx.readonly:
            raise ReadonlyError(f"readonly: not rolling back release {params.release} (nothing was run)")
        chosen = ctx.prepared or self.prepare(ctx, params) or {}
        runner = helmcode.find_runner()
        ctx.log(f"helm rollback {chosen['release']} {chosen['to_revision']} -n {chosen['namespace']} "
                f"with {runner.describe}")
        helmcode.rollback(runner, release=chosen["release"], namespace=chosen["namespace"],
                          revision=chosen["to_revision"], timeout=params.timeout, wait=params.wait,
                          kubeconfig=params.kubeconfig, context=params.context)
        rels, _ns = _releases(ctx, params)
        history = rels.history(chosen["release"], chosen["namespace"])
        new = _took_effect(history, chosen)
        if new is None or new.status != "deployed":
            seen = history[-1]
            raise CockpitError(f"Helm returned, but release {chosen['release']}'s newest revision {seen.revision} is "
                               f"{seen.status} ({seen.description or 'no description'})", title="Not verified")
        ctx.log(f"release {new.release} is at revision {new.revision}: {new.description} "
                f"({', '.join(new.images) or 'no images'})")
        return _result(new, chosen)

    def reconcile(self, ctx: StepContext, params: HelmRollbackParams, intent: dict[str, Any]) -> dict[str, Any] | None:
        if "to_revision" not in intent or "newest_before" not in intent:
            return None
        rels, ns = _releases(ctx, params)
        new = _took_effect(rels.history(params.release, intent.get("namespace") or ns), intent)
        if new is not None and new.status == "deployed":
            return _result(new, intent)
        return None  # not taken (or stuck pending: running again refuses with Helm's reason)


class HelmValuesTagParams(StepParams):
    file: str = Field(min_length=1)
    key: str = Field(default="image.tag", min_length=1, max_length=300)
    tag: str = Field(min_length=1, max_length=128)
    release: str | None = Field(default=None, max_length=53)
    chart: str | None = None
    namespace: str | None = None
    helmfile: str | None = None
    timeout: Duration = 300.0
    wait: Literal["hookOnly", "watcher", "legacy"] = "hookOnly"
    kubeconfig: str | None = None
    context: str | None = None


def _nested(values: dict[str, Any], key: str) -> Any:
    node: Any = values
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


@step_kind
class HelmValuesTagStep(Step):
    """``helm.values_tag``: set an image tag in a values file (everything else byte for byte),
    then apply it as an upgrade with Helm's code (``helmfile sync`` when a helmfile is given);
    the file's original bytes are put back if the upgrade fails."""

    kind = "helm.values_tag"
    mutating = True
    Params = HelmValuesTagParams

    def describe(self, params: HelmValuesTagParams) -> str:
        then = (f" and upgrade release {params.release}" if params.release
                else " and helmfile sync" if params.helmfile else "")
        return f"set {params.key} to {params.tag} in {params.file}{then}"

    @staticmethod
    def _check(params: HelmValuesTagParams) -> tuple[str, str]:
        from pathlib import Path

        from cockpit.errors import ConfigError

        from backends.helm.values import get_value, scalar_source, set_value

        if params.release and not params.chart:
            raise ConfigError("helm.values_tag: an upgrade of the release needs the chart (params.chart)")
        path = Path(params.file)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise NotFoundError(f"values file {path} does not exist") from None
        set_value(text, params.key, params.tag, source=str(path))  # refuses a missing key or a template
        return (str(get_value(text, params.key, source=str(path))),
                scalar_source(text, params.key, source=str(path)))

    def prepare(self, ctx: StepContext, params: HelmValuesTagParams) -> dict[str, Any] | None:
        old, old_src = self._check(params)
        out: dict[str, Any] = {"file": params.file, "key": params.key, "tag": params.tag, "old": old,
                               "old_src": old_src}
        if params.release:
            rels, ns = _releases(ctx, params)  # type: ignore[arg-type]
            history = rels.history(params.release, ns)
            if history[-1].pending:
                raise ConflictError(pending_reason(history[-1]))
            out.update(release=params.release, namespace=ns, newest_before=history[-1].revision)
        return out

    def run(self, ctx: StepContext, params: HelmValuesTagParams) -> dict[str, Any]:
        from pathlib import Path

        from backends.helm import helmcode
        from backends.helm.values import rewrite_file, write_atomic

        if ctx.readonly:
            raise ReadonlyError(f"readonly: not rewriting {params.file} (nothing was changed)")
        chosen = ctx.prepared or self.prepare(ctx, params) or {}
        path = Path(params.file)
        original, old = rewrite_file(path, params.key, params.tag)
        ctx.log(f"{path}: {params.key} {old} -> {params.tag}")
        result: dict[str, Any] = {"file": str(path), "key": params.key, "tag": params.tag, "old": old}
        if not params.release and not params.helmfile:
            return result
        try:
            if params.helmfile:
                ctx.log(f"helmfile --file {params.helmfile} sync")
                helmcode.helmfile_sync(Path(params.helmfile), timeout=params.timeout, kubeconfig=params.kubeconfig)
            else:
                runner = helmcode.find_runner()
                ctx.log(f"helm upgrade {params.release} {params.chart} -f {path} with {runner.describe}")
                helmcode.upgrade(runner, release=params.release or "", namespace=chosen["namespace"],
                                 chart=params.chart or "", values_file=path, timeout=params.timeout,
                                 wait=params.wait, kubeconfig=params.kubeconfig, context=params.context)
        except Exception:
            write_atomic(path, original)
            ctx.log(f"{path}: put back as it was (the upgrade failed)")
            raise
        if params.release:
            rels, ns = _releases(ctx, params)  # type: ignore[arg-type]
            newest = rels.history(params.release, ns)[-1]
            result.update(release=params.release, namespace=ns, revision=newest.revision, status=newest.status,
                          images=list(newest.images))
            ctx.log(f"release {params.release} is at revision {newest.revision} ({newest.status}): "
                    f"{', '.join(newest.images)}")
        return result

    def reconcile(self, ctx: StepContext, params: HelmValuesTagParams, intent: dict[str, Any]) -> dict[str, Any] | None:
        """An earlier attempt stopped after its intent. With a release: its upgrade landed (a
        newer deployed revision with the tag) → done; still pending → refused (wait, then run
        again); else the file is put back to the recorded old value and the step runs again.
        With a helmfile (its sync cannot be read back) the file is put back and the step runs
        again — the sync applies the same file twice. A file-only step is done when the file
        holds the tag."""
        from pathlib import Path

        from backends.helm.values import get_value

        try:
            now = str(get_value(Path(params.file).read_text(encoding="utf-8"), params.key, source=params.file))
        except (OSError, CockpitError):
            return None
        result: dict[str, Any] = {"file": params.file, "key": params.key, "tag": params.tag, "old": intent.get("old")}
        if params.release:
            rels, ns = _releases(ctx, params)  # type: ignore[arg-type]
            history = rels.history(params.release, ns)
            before = int(intent.get("newest_before") or 0)
            if history and history[-1].revision > before and history[-1].pending:
                raise ConflictError(f"release {params.release}: the upgrade an earlier attempt started is still "
                                    f"{history[-1].status} (revision {history[-1].revision}); {params.file} is left as it is",
                                    hint="wait until Helm finishes it (`cockpit helm history` shows it), then run the same "
                                         "command again: it reads the outcome before it sends anything")
            live = deployed(history)
            if live is not None and live.revision > before and str(_nested(live.values, params.key)) == params.tag:
                result.update(release=params.release, namespace=ns, revision=live.revision, status=live.status,
                              images=list(live.images))
                return result
        elif not params.helmfile:
            return result if now == params.tag else None
        # the upgrade did not land (or cannot be read back): put the file back to the value the
        # intent recorded, so the step runs again from the true old value — and a failing upgrade
        # then puts back that one, not the rewritten file
        old, old_src = intent.get("old"), intent.get("old_src")
        if now == params.tag and isinstance(old, str) and old != params.tag and not ctx.readonly:
            from backends.helm.values import rewrite_file

            # as it was written (42 stays a number, quotes kept); an older journal has only the value
            if isinstance(old_src, str) and old_src:
                rewrite_file(Path(params.file), params.key, old_src, verbatim=True)
            else:
                rewrite_file(Path(params.file), params.key, old)
            ctx.log(f"{params.file}: {params.key} put back to {old} (an earlier attempt rewrote it and "
                    "stopped before the upgrade was done); running the step again")
        return None
