"""Helm release records read from the world: Secrets and ConfigMaps built exactly as Helm's
storage drivers write them (JSON → gzip → base64; a Secret's data base64-encodes that once
more), read back over HTTP by ``cockpit helm history|list``."""
from __future__ import annotations

import base64
import gzip
import json

import pytest

from backends.helm.releases import HelmReleases, decode_release, diff
from backends.kubernetes.backend import connect
from cockpit.errors import NotFoundError
from cockpit.world.resources import RESOURCES
from tests.fixtures.helm import helm_cli  # noqa: F401 (fixture)


def manifest(name: str, image: str) -> str:
    return (f"---\n# Source: web/templates/service.yaml\napiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\n"
            f"---\n# Source: web/templates/deployment.yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n"
            f"  name: {name}\nspec:\n  template:\n    spec:\n      initContainers:\n        - name: migrate\n"
            f"          image: \"migrate:1\"\n      containers:\n        - name: web\n          image: \"{image}\"\n")


def helm_release(name: str, ns: str, version: int, status: str, image: str, description: str = "",
                 app_version: str = "1.0") -> dict:
    """Helm's Release JSON (pkg/release/v1), the fields Helm writes."""
    return {"name": name, "namespace": ns, "version": version,
            "info": {"first_deployed": "2026-01-05T09:00:00.123456789Z",
                     "last_deployed": f"2026-01-05T09:{version:02d}:00.987654321Z",
                     "deleted": "", "description": description or ("Install complete" if version == 1
                                                                   else "Upgrade complete"),
                     "status": status},
            "chart": {"metadata": {"name": "web", "version": "0.1.0", "apiVersion": "v2", "appVersion": app_version},
                      "templates": [], "values": {"image": {"repository": "web", "tag": "1"}}},
            "config": {"image": {"tag": image.split(":")[1]}}, "manifest": manifest(name, image), "hooks": []}


def helm_encode(release: dict) -> str:
    """storage/driver/util.go encodeRelease: json.Marshal, gzip (best compression), base64 std."""
    return base64.b64encode(gzip.compress(json.dumps(release).encode(), compresslevel=9)).decode()


def record(release: dict, driver: str = "secret") -> dict:
    """storage/driver newSecretsObject / newConfigMapsObject."""
    name = f"sh.helm.release.v1.{release['name']}.v{release['version']}"
    labels = {"name": release["name"], "owner": "helm", "status": release["info"]["status"],
              "version": str(release["version"]), "createdAt": "1767603600"}
    encoded = helm_encode(release)
    if driver == "secret":  # Data: map[string][]byte{"release": []byte(s)} — JSON shows base64(s)
        return {"apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1",
                "metadata": {"name": name, "labels": labels},
                "data": {"release": base64.b64encode(encoded.encode()).decode()}}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels},
            "data": {"release": encoded}}


def store(w, release: dict, driver: str = "secret") -> None:
    w.ensure_namespace(release["namespace"])
    kind = "secrets" if driver == "secret" else "configmaps"
    w.api.create(RESOURCES[kind], release["namespace"], record(release, driver), dry_run=False)


def seed_web(w, ns: str = "shop") -> None:
    store(w, helm_release("shopweb", ns, 1, "superseded", "web:1"))
    store(w, helm_release("shopweb", ns, 2, "superseded", "web:2"))
    store(w, helm_release("shopweb", ns, 3, "deployed", "web:3-bad", app_version="1.1"))


@pytest.fixture
def kube(world):
    w = world("healthy")
    backend = connect(str(w.kubeconfig_path), None, "shop")
    yield w, backend
    backend.close()


def test_history_of_secret_records(kube):
    w, backend = kube
    seed_web(w)
    revs = HelmReleases(backend.t, "shop").history("shopweb")
    assert [r.revision for r in revs] == [1, 2, 3]
    assert [r.status for r in revs] == ["superseded", "superseded", "deployed"]
    assert revs[2].chart == "web-0.1.0" and revs[2].app_version == "1.1" and revs[0].app_version == "1.0"
    assert revs[2].images == ("migrate:1", "web:3-bad") and revs[0].images == ("migrate:1", "web:1")
    assert revs[1].description == "Upgrade complete" and revs[0].driver == "secret"
    assert revs[2].updated is not None and revs[2].updated.minute == 3 and revs[2].updated.tzinfo is not None


def test_configmap_driver_and_pending_and_rollback_description(kube):
    w, backend = kube
    store(w, helm_release("api", "shop", 1, "superseded", "api:1"), "configmap")
    store(w, helm_release("api", "shop", 2, "deployed", "api:2"), "configmap")
    store(w, helm_release("api", "shop", 3, "pending-rollback", "api:1", description="Rollback to 1"), "configmap")
    revs = HelmReleases(backend.t, "shop").history("api")
    assert [r.driver for r in revs] == ["configmap"] * 3
    assert revs[2].pending and revs[2].rollback_to == 1 and not revs[1].pending and revs[1].rollback_to is None


def test_not_helm_records_are_ignored(kube):
    w, backend = kube
    seed_web(w)
    forged = record(helm_release("shopweb", "shop", 9, "deployed", "evil:1"))
    forged["type"] = "Opaque"  # labelled like Helm's but not of Helm's type: not a release record
    forged["metadata"]["name"] = "imposter"
    w.api.create(RESOURCES["secrets"], "shop", forged, dry_run=False)
    assert [r.revision for r in HelmReleases(backend.t, "shop").history("shopweb")] == [1, 2, 3]


def test_diff_values_and_manifest_against_deployed(kube):
    w, backend = kube
    seed_web(w)
    d = diff(HelmReleases(backend.t, "shop").history("shopweb"), 2)
    assert d.against == 3
    assert "-  tag: 3-bad" in d.values and "+  tag: '2'" in d.values
    assert '-          image: "web:3-bad"' in d.manifest and '+          image: "web:2"' in d.manifest
    assert not any("migrate" in line and line[0] in "+-" for line in d.manifest)


def test_list_newest_revision_per_release_and_all_namespaces(kube):
    w, backend = kube
    seed_web(w)
    store(w, helm_release("api", "shop", 1, "deployed", "api:1"), "configmap")
    store(w, helm_release("gone", "shop", 1, "uninstalled", "gone:1"))
    store(w, helm_release("batch", "jobs", 1, "failed", "batch:1"))
    rels = HelmReleases(backend.t, "shop")
    assert [(r.release, r.revision) for r in rels.list()] == [("api", 1), ("shopweb", 3)]
    assert [(r.namespace, r.release, r.status) for r in rels.list(all_namespaces=True)] == [
        ("jobs", "batch", "failed"), ("shop", "api", "deployed"), ("shop", "shopweb", "deployed")]


def test_unknown_release_and_revision_name_what_exists(kube):
    w, backend = kube
    seed_web(w)
    rels = HelmReleases(backend.t, "shop")
    with pytest.raises(NotFoundError, match=r"release 'nope' not found in namespace shop \(releases there: shopweb\)"):
        rels.history("nope")
    with pytest.raises(NotFoundError, match=r"no revision 7 \(revisions: 1, 2, 3\)"):
        diff(rels.history("shopweb"), 7)


def test_decode_plain_json_records_and_refuse_garbage():
    rel = {"name": "a", "version": 1}
    plain = base64.b64encode(json.dumps(rel).encode()).decode()  # Helm 2-era records were not gzipped
    assert decode_release(plain, secret=False) == rel
    from backends.helm.releases import BadRecord

    with pytest.raises(BadRecord):
        decode_release("not base64!", secret=True)


# ---------------------------------------------------------------------------- the commands


def test_cli_history_list_and_diff(kube, helm_cli):
    w, _ = kube
    seed_web(w)
    kc = str(w.kubeconfig_path)
    rc, out, err = helm_cli("--kubeconfig", kc, "-n", "shop", "helm", "history", "shopweb")
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["REVISION", "UPDATED", "STATUS"]
    assert "deployed" in lines[3] and "web:3-bad" in lines[3] and "migrate:1" in lines[3]
    rc, out, err = helm_cli("--kubeconfig", kc, "-n", "shop", "-o", "json", "helm", "history", "shopweb")
    data = json.loads(out)
    assert [r["status"] for r in data["revisions"]] == ["superseded", "superseded", "deployed"]
    rc, out, err = helm_cli("--kubeconfig", kc, "helm", "list", "-A", "-o", "json")
    assert rc == 0 and [r["release"] for r in json.loads(out)["releases"]] == ["shopweb"]
    rc, out, err = helm_cli("--kubeconfig", kc, "-n", "shop", "helm", "history", "shopweb", "--revision", "1")
    assert rc == 0 and '+          image: "web:1"' in out and "# values" in out


def test_cli_bad_release_and_revision_exit_3_one_line(kube, helm_cli):
    w, _ = kube
    seed_web(w)
    kc = str(w.kubeconfig_path)
    rc, out, err = helm_cli("--kubeconfig", kc, "-n", "shop", "helm", "history", "nope")
    assert rc == 3 and len(err.strip().splitlines()) == 1 and "releases there: shopweb" in err
    rc, out, err = helm_cli("--kubeconfig", kc, "-n", "shop", "helm", "history", "shopweb", "--revision", "9")
    assert rc == 3 and len(err.strip().splitlines()) == 1 and "revisions: 1, 2, 3" in err
    rc, out, err = helm_cli("--kubeconfig", kc, "-n", "empty", "helm", "history", "shopweb")
    assert rc == 3 and "releases there: none" in err
