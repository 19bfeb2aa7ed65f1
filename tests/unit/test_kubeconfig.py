"""The kubeconfig reader: contexts, merging, inline and file credentials, clear errors."""
from __future__ import annotations

import base64
from pathlib import Path

import pytest

from backends.kubernetes.kubeconfig import load
from cockpit.errors import ConfigError


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


BASE = """
apiVersion: v1
kind: Config
current-context: a
clusters:
- name: ca
  cluster: {server: "https://a.example:6443", certificate-authority-data: %s}
- name: cb
  cluster: {server: "http://127.0.0.1:1234/", insecure-skip-tls-verify: true}
contexts:
- name: a
  context: {cluster: ca, user: ua, namespace: shop}
- name: b
  context: {cluster: cb, user: ub}
users:
- name: ua
  user: {token: s3cret}
- name: ub
  user: {exec: {command: aws, apiVersion: client.authentication.k8s.io/v1}}
""" % base64.b64encode(b"CA PEM").decode()


def test_current_context_and_inline_ca(tmp_path: Path) -> None:
    c = load(str(write(tmp_path / "k", BASE)))
    assert (c.server, c.context, c.namespace, c.ca_data, c.bearer()) == (
        "https://a.example:6443", "a", "shop", b"CA PEM", "s3cret")
    assert "s3cret" not in repr(c)  # secrets stay out of reprs (and so out of logged errors)
    assert not c.needs_plugin


def test_explicit_context_exec_user_needs_plugin(tmp_path: Path) -> None:
    c = load(str(write(tmp_path / "k", BASE)), "b")
    assert c.server == "http://127.0.0.1:1234" and c.insecure and c.needs_plugin and c.namespace == "default"


def test_unknown_context_lists_known(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="contexts: a, b"):
        load(str(write(tmp_path / "k", BASE)), "nope")


def test_kubeconfig_env_merges_first_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = write(tmp_path / "one", "current-context: x\ncontexts:\n- name: x\n  context: {cluster: ca, user: ua}\n")
    second = write(tmp_path / "two", BASE)
    monkeypatch.setenv("KUBECONFIG", f"{first}:{second}")
    c = load()
    assert c.context == "x" and c.server == "https://a.example:6443" and c.namespace == "default"


def test_relative_token_file_and_missing_file(tmp_path: Path) -> None:
    (tmp_path / "tok").write_text("from-file\n")
    k = write(tmp_path / "k", "current-context: c\nclusters:\n- name: k\n  cluster: {server: 'http://h:1'}\n"
              "contexts:\n- name: c\n  context: {cluster: k, user: u}\n"
              "users:\n- name: u\n  user: {tokenFile: %s, client-certificate: missing.crt}\n" % (tmp_path / "tok"))
    with pytest.raises(ConfigError, match="cannot read client-certificate"):
        load(str(k))


@pytest.mark.parametrize(("text", "fragment"), [
    ("clusters: [\n", "not valid YAML"),
    ("- just a list\n", "expected a kubeconfig mapping"),
    ("current-context: c\ncontexts:\n- name: c\n  context: {cluster: nope}\n", "names cluster 'nope'"),
    ("contexts: []\n", "no current-context"),
])
def test_malformed_kubeconfigs_are_named(tmp_path: Path, text: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        load(str(write(tmp_path / "k", text)))


def test_missing_explicit_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load(str(tmp_path / "absent"))
