"""``cockpit helm rollback`` against Helm's own code driving the world: a chart (Deployment +
Service) installed and upgraded to a bad image by helm-sdkpy (Helm v4's Go library), rolled
back by the cockpit through Helm's ``action.Rollback``; Helm's own History must then show the
new revision as a rollback to the chosen one, and the Deployment must run the good image."""
from __future__ import annotations

import json

import pytest

from backends.helm import helmcode
from cockpit.journal import Journal, read_journal
from cockpit.world.resources import RESOURCES
from tests.backends.test_helm_releases import helm_release, record
from tests.fixtures.helm import helm_call, helm_cli, helm_py, install_chart, write_chart  # noqa: F401 (fixture)

NS = "shop"


@pytest.fixture
def released(world, tmp_path):
    """A world with release ``hweb`` at revision 2 (web:2-bad), revision 1 running web:1."""
    python = helm_py()
    w = world("healthy")
    chart = write_chart(tmp_path / "chart")
    install_chart(python, w.kubeconfig_path, "hweb", chart, NS, tag="1")
    helm_call(python, w.kubeconfig_path, "upgrade", NS, "hweb", str(chart), {"image": {"tag": "2-bad"}})
    assert image(w) == "web:2-bad"
    return w, python


def image(w) -> str:
    return w.store.require("deployments", NS, "hweb")["spec"]["template"]["spec"]["containers"][0]["image"]


def helm_history(w, python) -> list[tuple[int, str, str]]:
    return [(r["version"], r["info"]["status"], r["info"]["description"])
            for r in helm_call(python, w.kubeconfig_path, "history", NS, "hweb")]


def test_rollback_with_helms_code_shows_in_helms_history(released, helm_cli, tmp_path):
    w, python = released
    journal = tmp_path / "j.jsonl"
    rc, out, err = helm_cli("--kubeconfig", str(w.kubeconfig_path), "-n", NS, "-o", "json", "helm", "rollback",
                            "hweb", "--to-revision", "1", "--yes", "--journal", str(journal))
    assert rc == 0, err
    data = json.loads(out)
    assert data["revision"] == 3 and data["to_revision"] == 1 and data["images"] == ["web:1"]
    assert helm_history(w, python) == [(1, "superseded", "Install complete"), (2, "superseded", "Upgrade complete"),
                                       (3, "deployed", "Rollback to 1")]
    assert image(w) == "web:1"
    from backends.helm.releases import release_of

    assert release_of(w.store.require("deployments", NS, "hweb")) == ("hweb", NS)
    assert release_of({"metadata": {"labels": {"app": "x"}, "annotations": {"meta.helm.sh/release-name": "x"}}}) is None
    records = list(read_journal(journal))
    types = [r["type"] for r in records]
    assert types.index("revision_chosen") < types.index("intent") < types.index("outcome")
    chosen = next(r for r in records if r["type"] == "revision_chosen")
    assert chosen["revision"] == 1 and chosen["from_revision"] == 2 and chosen["images"] == ["web:1"]
    intent = next(r for r in records if r["type"] == "intent")
    assert intent["action"] == "helm.rollback" and intent["to_revision"] == 1 and intent["newest_before"] == 2


def test_default_is_the_revision_before_the_newest(released, helm_cli, tmp_path):
    w, python = released
    rc, out, err = helm_cli("--kubeconfig", str(w.kubeconfig_path), "-n", NS, "helm", "rollback", "hweb", "--yes",
                            "--journal", str(tmp_path / "j.jsonl"))
    assert rc == 0, err
    assert helm_history(w, python)[-1] == (3, "deployed", "Rollback to 1") and image(w) == "web:1"


def test_crash_after_helm_ran_is_reconciled_not_sent_again(released, helm_cli, tmp_path):
    w, python = released
    path = tmp_path / "j.jsonl"
    from backends.helm.rollback import runbook_text
    from cockpit import events as ev

    text = runbook_text("hweb", NS, 1, 60, str(w.kubeconfig_path), None)
    j = Journal.open(path)
    j.write(ev.RunbookRecorded(yaml=text, revision=1))
    j.append("run_started", runbook="helm rollback hweb to revision 1", from_step=0, resume=False)
    j.append("step_started", index=0, kind="helm.rollback", name="Roll back", budget=300.0, mutating=True)
    j.intent("helm.rollback", step=0, name="Roll back", params={"release": "hweb"}, release="hweb", namespace=NS,
             to_revision=1, from_revision=2, newest_before=2, images=["web:1"])
    j.close()
    # the crash came after Helm had done it
    helmcode.rollback(helmcode.HelmRunner(None, python), release="hweb", namespace=NS, revision=1, timeout=60,
                      kubeconfig=str(w.kubeconfig_path))
    rc, out, err = helm_cli("--kubeconfig", str(w.kubeconfig_path), "-n", NS, "helm", "rollback", "hweb",
                            "--journal", str(path))
    assert rc == 0, err
    assert "interrupted" in err
    assert len(helm_history(w, python)) == 3  # not rolled back a second time
    outcome = [r for r in read_journal(path) if r["type"] == "outcome"][-1]
    assert outcome["ok"] and outcome["resumed"] and outcome["result"]["revision"] == 3


def test_crash_before_helm_ran_runs_it_once(released, helm_cli, tmp_path):
    w, python = released
    path = tmp_path / "j.jsonl"
    from backends.helm.rollback import runbook_text
    from cockpit import events as ev

    j = Journal.open(path)
    j.write(ev.RunbookRecorded(yaml=runbook_text("hweb", NS, 1, 60, str(w.kubeconfig_path), None), revision=1))
    j.append("run_started", runbook="r", from_step=0, resume=False)
    j.append("step_started", index=0, kind="helm.rollback", name="Roll back", budget=300.0, mutating=True)
    j.intent("helm.rollback", step=0, name="Roll back", params={"release": "hweb"}, release="hweb", namespace=NS,
             to_revision=1, from_revision=2, newest_before=2, images=["web:1"])
    j.close()
    rc, out, err = helm_cli("--kubeconfig", str(w.kubeconfig_path), "-n", NS, "helm", "rollback", "hweb",
                            "--journal", str(path))
    assert rc == 0, err
    assert helm_history(w, python)[-1] == (3, "deployed", "Rollback to 1") and len(helm_history(w, python)) == 3


def test_pending_release_refused_with_the_reason_and_nothing_journaled(world, helm_cli, tmp_path):
    w = world("healthy")
    w.ensure_namespace(NS)
    for rel in (helm_release("api", NS, 1, "deployed", "api:1"),
                helm_release("api", NS, 2, "pending-upgrade", "api:2")):
        w.api.create(RESOURCES["secrets"], NS, record(rel), dry_run=False)
    path = tmp_path / "j.jsonl"
    rc, out, err = helm_cli("--kubeconfig", str(w.kubeconfig_path), "-n", NS, "helm", "rollback", "api", "--yes",
                            "--journal", str(path))
    assert rc == 6 and len(err.strip().splitlines()) == 1
    assert "pending-upgrade (revision 2): another operation (install/upgrade/rollback) is in progress" in err
    assert not path.exists()
    rc, out, err = helm_cli("--kubeconfig", str(w.kubeconfig_path), "-n", NS, "helm", "rollback", "nope", "--yes",
                            "--journal", str(path))
    assert rc == 3 and "releases there: api" in err and not path.exists()


def test_readonly_refuses_before_anything(world, helm_cli, tmp_path):
    w = world("healthy")
    rc, out, err = helm_cli("--kubeconfig", str(w.kubeconfig_path), "--readonly", "-n", NS, "helm", "rollback",
                            "api", "--yes", "--journal", str(tmp_path / "j.jsonl"))
    assert rc == 5 and not (tmp_path / "j.jsonl").exists()
