"""``helm.values_tag`` / ``cockpit helm set-tag``: an image tag set in a values file with
everything else kept byte for byte, refusals naming the key, then applied as an upgrade by
Helm's own code driving the world; the file is put back when the upgrade fails."""
from __future__ import annotations

import json

import pytest

from backends.helm.values import set_value
from cockpit.errors import ConfigError, NotFoundError
from cockpit.journal import read_journal
from tests.fixtures.helm import helm_call, helm_cli, helm_py, install_chart, write_chart  # noqa: F401 (fixture)

NS = "shop"
VALUES = """# web values (kept as written)
image:
  repository: web   # the registry
  tag: "1"
replicas: 2
sidecar: {image: {tag: 0.9}}
templated:
  tag: "{{ .Values.global.tag }}"
"""


def test_only_the_scalar_changes():
    new, old = set_value(VALUES, "image.tag", "2.10")
    assert old == "1" and new == VALUES.replace('tag: "1"', 'tag: "2.10"')
    new, old = set_value(VALUES, "sidecar.image.tag", "1.10")
    assert old == "0.9" and new == VALUES.replace("{tag: 0.9}", '{tag: "1.10"}')  # quoted: 1.10 is no float
    new, _ = set_value(VALUES.replace('tag: "1"', "tag: v1  # pinned"), "image.tag", "v2")
    assert "  tag: v2  # pinned\n" in new


def test_refusals_name_the_key():
    with pytest.raises(NotFoundError, match=r"key 'image.digest' not found \(no 'digest' under image\)"):
        set_value(VALUES, "image.digest", "x")
    with pytest.raises(ConfigError, match=r"'templated.tag' is a template expression"):
        set_value(VALUES, "templated.tag", "2")
    with pytest.raises(ConfigError, match=r"'image' is not a scalar"):
        set_value(VALUES, "image", "2")


@pytest.fixture
def installed(world, tmp_path):
    python = helm_py()
    w = world("healthy")
    chart = write_chart(tmp_path / "chart")
    install_chart(python, w.kubeconfig_path, "hweb", chart, NS, tag="2-bad")
    values = tmp_path / "values-prod.yaml"
    values.write_text(VALUES.replace('tag: "1"', 'tag: "2-bad"'))
    return w, python, chart, values


def test_set_tag_upgrades_with_helm(installed, helm_cli, tmp_path):
    w, python, chart, values = installed
    before = values.read_bytes()
    journal = tmp_path / "j.jsonl"
    rc, out, err = helm_cli("--kubeconfig", str(w.kubeconfig_path), "-n", NS, "-o", "json", "helm", "set-tag",
                            str(values), "image.tag", "1", "--release", "hweb", "--chart", str(chart), "--yes",
                            "--journal", str(journal))
    assert rc == 0, err
    data = json.loads(out)
    assert data["old"] == "2-bad" and data["revision"] == 2 and data["images"] == ["web:1"]
    assert values.read_bytes() == before.replace(b'tag: "2-bad"', b'tag: "1"')
    dep = w.store.require("deployments", NS, "hweb")
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "web:1"
    hist = helm_call(python, w.kubeconfig_path, "history", NS, "hweb")
    assert [(r["version"], r["info"]["status"]) for r in hist] == [(1, "superseded"), (2, "deployed")]
    types = [r["type"] for r in read_journal(journal)]
    assert types.index("intent") < types.index("outcome")


def test_failed_upgrade_puts_the_file_back(installed, helm_cli, tmp_path):
    w, python, chart, values = installed
    before = values.read_bytes()
    rc, out, err = helm_cli("--kubeconfig", str(w.kubeconfig_path), "-n", NS, "helm", "set-tag", str(values),
                            "image.tag", "1", "--release", "hweb", "--chart", str(tmp_path / "no-such-chart"),
                            "--yes", "--journal", str(tmp_path / "j.jsonl"))
    assert rc != 0 and "helm" in err.lower()
    assert values.read_bytes() == before
    assert "put back" in err


def test_a_crash_between_the_rewrite_and_the_upgrade_is_reconciled_from_the_journal(installed, helm_cli, tmp_path,
                                                                                    monkeypatch):
    """Killed after the file was rewritten and before the upgrade: the same command with the
    same --journal resumes; the step puts the file back to the value its intent recorded before
    it runs again, so a failing upgrade puts back the true original, and a passing one journals
    the true old value. Another set-tag on that journal is refused."""
    from backends.helm import helmcode
    from cockpit.errors import UnreachableError

    w, python, chart, values = installed
    before = values.read_bytes()
    j = tmp_path / "j.jsonl"

    def argv(tag: str = "1") -> tuple[str, ...]:
        return ("--kubeconfig", str(w.kubeconfig_path), "-n", NS, "-o", "json", "helm", "set-tag", str(values),
                "image.tag", tag, "--release", "hweb", "--chart", str(chart), "--yes", "--journal", str(j))

    def killed(*_a, **_k):
        raise KeyboardInterrupt  # the process dies here: no outcome, the file not put back

    def fails(*_a, **_k):
        raise UnreachableError("helm upgrade: the API server did not answer")

    with monkeypatch.context() as m:
        m.setattr(helmcode, "upgrade", killed)
        helm_cli(*argv())
    assert values.read_bytes() == before.replace(b'tag: "2-bad"', b'tag: "1"')
    assert [r["type"] for r in read_journal(j)].count("outcome") == 0
    rc, out, err = helm_cli(*argv("0.9"))  # another tag on that journal
    assert rc == 6 and "holds an interrupted run: set image.tag to 1 in" in err and "(tag differs from this command)" in err
    rc, out, err = helm_cli("--kubeconfig", str(w.kubeconfig_path), "-n", NS, "helm", "rollback", "hweb", "--yes",
                            "--journal", str(j))  # a rollback on that journal is no resume of the set-tag
    assert rc == 6 and "holds an interrupted run: set image.tag to 1 in" in err, err
    # the killed upgrade may have left the release pending: refused, the file left as it is
    from cockpit.world.resources import RESOURCES
    from tests.backends.test_helm_releases import helm_release, record

    pending = record(helm_release("hweb", NS, 2, "pending-upgrade", "web:1"))
    w.api.create(RESOURCES["secrets"], NS, pending, dry_run=False)
    rc, out, err = helm_cli(*argv())
    assert rc == 6 and "the upgrade an earlier attempt started is still pending-upgrade (revision 2)" in err, err
    assert values.read_bytes() == before.replace(b'tag: "2-bad"', b'tag: "1"')
    w.store.delete("secrets", NS, pending["metadata"]["name"])  # Helm gave up on it
    with monkeypatch.context() as m:
        m.setattr(helmcode, "upgrade", fails)
        rc, out, err = helm_cli(*argv())
    assert rc != 0 and "an interrupted set-tag is in" in err
    assert "image.tag put back to 2-bad (an earlier attempt rewrote it" in err
    assert values.read_bytes() == before  # the true original, not the rewritten file
    rc, out, err = helm_cli(*argv())
    assert rc == 0, err
    data = json.loads(out)
    assert data["old"] == "2-bad" and data["revision"] == 2 and data["images"] == ["web:1"]
    assert values.read_bytes() == before.replace(b'tag: "2-bad"', b'tag: "1"')
    intents = [r for r in read_journal(j) if r["type"] == "intent"]
    assert [i["old"] for i in intents] == ["2-bad", "2-bad", "2-bad"]  # the refused resume sent nothing


def test_without_a_journal_a_rerun_finds_the_interrupted_set_tag_and_reconciles(installed, helm_cli, tmp_path,
                                                                                 monkeypatch):
    """The operator re-runs the same command after a crash without knowing the journal's path:
    the newest journal this command wrote for the file holds the interrupted run, and it is
    resumed (never started again from the rewritten file); a run with another tag starts anew."""
    from backends.helm import helmcode

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    w, python, chart, values = installed
    before = values.read_bytes()
    argv = ("--kubeconfig", str(w.kubeconfig_path), "-n", NS, "-o", "json", "helm", "set-tag", str(values), "image.tag",
            "1", "--release", "hweb", "--chart", str(chart), "--yes")

    def killed(*_a, **_k):
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(helmcode, "upgrade", killed)
        helm_cli(*argv)
    (journal,) = (tmp_path / "state").rglob("*-helm-values-values-prod.jsonl")
    rc, out, err = helm_cli(*argv)
    assert rc == 0 and f"an interrupted set-tag is in {journal}" in err, err
    assert "image.tag put back to 2-bad" in err
    data = json.loads(out)
    assert data["old"] == "2-bad" and data["journal"] == str(journal) and data["revision"] == 2
    assert values.read_bytes() == before.replace(b'tag: "2-bad"', b'tag: "1"')


def test_a_helmfile_set_tag_resumed_runs_its_sync_again_from_the_true_old_value(tmp_path):
    """A helmfile's sync cannot be read back: a resumed step puts the file back to the value
    its intent recorded and runs again (the sync applies the same file twice), never reports
    done from the rewritten file alone."""
    from backends.helm.steps import HelmValuesTagParams, HelmValuesTagStep
    from cockpit.steps import StepContext

    values = tmp_path / "values.yaml"
    values.write_text(VALUES)
    params = HelmValuesTagParams.model_validate({"file": str(values), "key": "image.tag", "tag": "2",
                                                 "helmfile": str(tmp_path / "helmfile.yaml")})
    step, logged = HelmValuesTagStep(), []
    ctx = StepContext(backends={}, log=logged.append)
    intent = step.prepare(ctx, params)
    assert intent["old"] == "1"
    values.write_text(VALUES.replace('tag: "1"', 'tag: "2"'))  # rewritten, then the process died
    assert step.reconcile(ctx, params, intent) is None
    assert values.read_text() == VALUES and "image.tag put back to 1" in logged[-1]
    # a number stays a number and single quotes stay single: the put-back writes the scalar
    # as it was written, not its string value quoted ("0.9")
    for written in ("0.9", "'0.9'", "42"):
        text = VALUES.replace("{tag: 0.9}", "{tag: %s}" % written)
        values.write_text(text)
        side = HelmValuesTagParams.model_validate({"file": str(values), "key": "sidecar.image.tag", "tag": "2",
                                                   "helmfile": str(tmp_path / "helmfile.yaml")})
        intent = step.prepare(ctx, side)
        assert intent["old_src"] == written
        values.write_text(text.replace("{tag: %s}" % written, "{tag: 2}"))
        assert step.reconcile(ctx, side, intent) is None and values.read_text() == text
    file_only = HelmValuesTagParams.model_validate({"file": str(values), "key": "image.tag", "tag": "1"})
    assert step.reconcile(ctx, file_only, {"old": "0"})["tag"] == "1"  # no upgrade to wait for: done


def test_bad_key_refused_before_anything(installed, helm_cli, tmp_path):
    w, python, chart, values = installed
    before = values.read_bytes()
    j = tmp_path / "j.jsonl"
    rc, out, err = helm_cli("--kubeconfig", str(w.kubeconfig_path), "-n", NS, "helm", "set-tag", str(values),
                            "templated.tag", "1", "--release", "hweb", "--chart", str(chart), "--yes",
                            "--journal", str(j))
    assert rc == 2 and "template expression" in err and len(err.strip().splitlines()) == 1
    rc, out, err = helm_cli("--kubeconfig", str(w.kubeconfig_path), "-n", NS, "helm", "set-tag", str(values),
                            "image.digest", "1", "--yes", "--journal", str(j))
    assert rc == 3 and "'image.digest' not found" in err
    assert values.read_bytes() == before and not j.exists()
