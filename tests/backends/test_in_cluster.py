"""In-cluster configuration (``backends/kubernetes/kubeconfig.py``): with no kubeconfig, the
service account's token, CA and namespace and ``KUBERNETES_SERVICE_HOST/PORT`` — against the
world served over real TLS with a certificate signed by a CA made here."""
from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

import pytest

from backends.kubernetes import kubeconfig
from backends.kubernetes.backend import connect
from cockpit.errors import CockpitError, UnreachableError
from cockpit.world.world import World

TOKEN = "eyJhbGciOiJSUzI1NiJ9.sa-token-for-the-watcher.c2lnbmF0dXJlXzEyMzQ"


def _ca_and_cert(tmp: Path) -> tuple[bytes, Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubernetes-ca (test)")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=1))
          .not_valid_after(now + datetime.timedelta(hours=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=1)).not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                        x509.DNSName("kubernetes.default.svc")]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    cert_file, key_file = tmp / "apiserver.crt", tmp / "apiserver.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return ca.public_bytes(serialization.Encoding.PEM), cert_file, key_file


@pytest.fixture
def tls_world(tmp_path):
    ca, cert, key = _ca_and_cert(tmp_path)
    w = World("bad-image", speed=10, services=False, tls=(str(cert), str(key)), ca=ca).start()
    yield w, ca
    w.stop()


@pytest.fixture
def pod(tmp_path, monkeypatch, tls_world):
    """This process as a pod: a service-account directory, the service env, no kubeconfig."""
    w, ca = tls_world
    sa = tmp_path / "serviceaccount"
    sa.mkdir()
    (sa / "token").write_text(TOKEN + "\n")
    (sa / "ca.crt").write_bytes(ca)
    (sa / "namespace").write_text("shop")
    monkeypatch.setattr(kubeconfig, "SA_DIR", sa)  # /var/run/secrets/kubernetes.io/serviceaccount in a pod
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(w.port))
    return w, sa


def test_in_cluster_config_talks_tls_with_the_service_account(pod) -> None:
    w, _sa = pod
    conn = kubeconfig.load()
    assert (conn.server, conn.context, conn.namespace) == (f"https://127.0.0.1:{w.port}", "in-cluster", "shop")
    kube = connect()
    assert kube.namespace == "shop"  # the pod's namespace is the default
    assert [d.name for d in kube.list_deployments("shop")] == ["cart", "checkout"]
    assert f"Bearer {TOKEN[-8:]}" in w.api.credentials  # the service account's token went with it
    assert "Bearer" not in repr(conn) and TOKEN not in repr(conn)


def test_in_cluster_refuses_a_server_its_ca_did_not_sign(pod, tmp_path, capfd) -> None:
    w, sa = pod
    (tmp_path / "other").mkdir()
    other_ca, _c, _k = _ca_and_cert(tmp_path / "other")
    (sa / "ca.crt").write_bytes(other_ca)
    with pytest.raises(CockpitError) as err:
        connect().list_deployments("shop")
    assert "certificate verify failed" in str(err.value), str(err.value)
    assert "\n" not in str(err.value)
    assert not [p for m, p in w.request_log if p.endswith("/deployments")]  # nothing was served
    import time

    time.sleep(0.5)  # the server's request thread has seen the refused handshake by now
    err_out = capfd.readouterr().err
    assert "Traceback" not in err_out and "SSLError" not in err_out, err_out  # ordinary network life, as a real server


def test_outside_a_cluster_without_a_kubeconfig_is_one_clear_line(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(UnreachableError, match="no kubeconfig found and not running in a cluster"):
        kubeconfig.load()


def test_an_ipv6_service_host_is_bracketed(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(kubeconfig, "SA_DIR", tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "fd00:10:96::1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    conn = kubeconfig.load()
    assert conn.server == "https://[fd00:10:96::1]:443" and conn.namespace == "default"


def test_a_rotated_service_account_token_is_sent_from_the_next_request_on(pod) -> None:
    """The kubelet swaps the projected token (atomically) while the watcher runs; a transport
    made before the swap sends the new token from its next request, without reconnecting."""
    import os

    w, sa = pod
    kube = connect()
    kube.list_deployments("shop")
    assert w.api.credentials == {f"Bearer {TOKEN[-8:]}"}
    rotated = TOKEN[:-8] + "R0tAtEd1"
    (sa / "token.new").write_text(rotated + "\n")
    os.replace(sa / "token.new", sa / "token")
    kube.list_deployments("shop")
    assert f"Bearer {rotated[-8:]}" in w.api.credentials
    for mid_swap in ("missing", "empty"):  # the last token is kept, never an empty one sent
        w.api.credentials.clear()
        if mid_swap == "missing":
            (sa / "token").unlink()
        else:
            (sa / "token").write_text("")
        kube.list_deployments("shop")
        assert w.api.credentials == {f"Bearer {rotated[-8:]}"}, mid_swap


def test_a_token_file_never_read_is_one_clear_line(tmp_path) -> None:
    from backends.kubernetes.kubeconfig import TokenFile
    from cockpit.errors import ConfigError

    empty = tmp_path / "token"
    empty.write_text("\n")
    for path, why in ((tmp_path / "absent", "No such file or directory"), (empty, "the file is empty")):
        with pytest.raises(ConfigError) as err:
            TokenFile(str(path)).read()
        assert str(err.value) == f"cannot read token file {path}: {why}"
