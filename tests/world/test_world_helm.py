"""What Helm's client needs of the world: Secrets and ConfigMaps (its release records), sent
as protobuf by client-go, with a real API server's defaulting and validation; and, end to
end, helm-sdkpy (Helm v4's Go code) installing a chart into a served world."""
from __future__ import annotations

import base64

import pytest

from cockpit.world import protobuf
from cockpit.world.resources import RESOURCES
from cockpit.world.store import StoreError
from tests.fixtures.helm import helm_py, install_chart, write_chart
from tests.world.helpers import bare_world


def _varint(n: int) -> bytes:
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            return out


def _field(num: int, payload: bytes) -> bytes:
    return _varint(num << 3 | 2) + _varint(len(payload)) + payload


def _entry(k: str, v: bytes) -> bytes:
    return _field(1, k.encode()) + _field(2, v)


def test_protobuf_secret_as_client_go_sends_it():
    """A Secret in k8s.io/api generated.proto field numbers: data is map<string, bytes>."""
    meta = _field(1, b"sh.helm.release.v1.web.v1") + _field(11, _entry("owner", b"helm")) + \
        _field(11, _entry("version", b"1"))
    secret = _field(1, meta) + _field(2, _entry("release", b"H4sI\x00\xff")) + _field(3, b"helm.sh/release.v1")
    body = protobuf.MAGIC + _field(1, _field(1, b"v1") + _field(2, b"Secret")) + _field(2, secret)
    obj = protobuf.decode(body)
    assert obj["kind"] == "Secret" and obj["type"] == "helm.sh/release.v1"
    assert obj["metadata"]["labels"] == {"owner": "helm", "version": "1"}
    assert base64.b64decode(obj["data"]["release"]) == b"H4sI\x00\xff"
    cm = _field(1, _field(1, b"cfg")) + _field(2, _entry("release", b"abc")) + _field(3, _entry("bin", b"\x00\x01"))
    obj = protobuf.decode(protobuf.MAGIC + _field(1, _field(1, b"v1") + _field(2, b"ConfigMap")) + _field(2, cm))
    assert obj["data"] == {"release": "abc"} and obj["binaryData"] == {"bin": "AAE="}


def test_secret_defaulting_and_validation():
    w = bare_world()
    s = w.api.create(RESOURCES["secrets"], "default",
                     {"metadata": {"name": "s"}, "stringData": {"password": "hunter2"}}, dry_run=False)
    assert s["type"] == "Opaque" and "stringData" not in s
    assert base64.b64decode(s["data"]["password"]) == b"hunter2"
    with pytest.raises(StoreError) as e:
        w.api.create(RESOURCES["secrets"], "default", {"metadata": {"name": "t"}, "data": {"k": "not base64!"}},
                     dry_run=False)
    assert e.value.code == 422 and "illegal base64" in e.value.message
    with pytest.raises(StoreError) as e:
        w.api.update(RESOURCES["secrets"], "default", "s", None, dict(s, type="kubernetes.io/tls"), dry_run=False)
    assert e.value.code == 422 and "type" in e.value.message
    with pytest.raises(StoreError) as e:
        w.api.create(RESOURCES["configmaps"], "default", {"metadata": {"name": "c"}, "data": {"bad key": "v"}},
                     dry_run=False)
    assert e.value.code == 422


def test_helm_sdkpy_installs_a_chart_into_the_served_world(world, tmp_path):
    python = helm_py()
    w = world("healthy")
    chart = write_chart(tmp_path / "chart")
    install_chart(python, w.kubeconfig_path, "hweb", chart, "shop", tag="1")
    dep = w.store.require("deployments", "shop", "hweb")
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "web:1"
    assert dep["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "Helm"
    assert dep["metadata"]["annotations"]["meta.helm.sh/release-name"] == "hweb"
    assert w.store.get("services", "shop", "hweb") is not None
    secret = w.store.get("secrets", "shop", "sh.helm.release.v1.hweb.v1")
    assert secret is not None and secret["type"] == "helm.sh/release.v1"
    assert secret["metadata"]["labels"]["status"] == "deployed"


def test_protobuf_body_of_a_kind_it_cannot_decode_keeps_the_connection_usable(world):
    """The body is read whole before the 415, so the next request on the kept-alive connection
    is parsed as a request (not as "400 Bad request syntax ('k8s\\x00')")."""
    import http.client
    from urllib.parse import urlsplit

    w = world("healthy")
    u = urlsplit(w.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    body = protobuf.MAGIC + _field(1, _field(1, b"v1") + _field(2, b"PersistentVolumeClaim")) + _field(2, b"\x0a\x00")
    conn.request("POST", "/api/v1/namespaces/default/secrets", body=body,
                 headers={"Content-Type": "application/vnd.kubernetes.protobuf"})
    resp = conn.getresponse()
    assert resp.status == 415 and b"PersistentVolumeClaim" in resp.read()
    conn.request("GET", "/api/v1/namespaces/default/secrets")
    resp = conn.getresponse()
    assert resp.status == 200 and resp.read().startswith(b"{")
    conn.close()
