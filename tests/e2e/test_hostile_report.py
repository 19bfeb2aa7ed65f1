"""Issue 13, the reproduction as filed: an image named with Markdown in it (the API accepts
it), rolled back to with a runbook, then ``cockpit report --format md`` rendered by a real
Markdown renderer: no link, no image, no HTML — and the image reads as itself. The installed
CLI against the simulated world over HTTP."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from markdown_it import MarkdownIt

from cockpit.world.world import World

EVIL_IMAGE = "x:[Grafana](https://evil.example/steal) ![x](https://evil.example/pixel.png)"
SCENARIO = f"""\
name: evil-image
deployments:
  - name: checkout
    namespace: shop
    replicas: 2
    revisions:
      - image: "{EVIL_IMAGE}"
        change_cause: "\\e]0;pwned\\a[docs](https://evil.example/docs)"
      - image: registry.example/shop/checkout:1.5.0
"""
RUNBOOK = """\
name: roll back checkout
target: {kind: deployment, namespace: shop, name: checkout}
steps:
  - {kind: kubernetes.rollback, params: {to_revision: 0, timeout: 120}}
"""


def test_an_image_with_markdown_rolled_back_to_is_text_in_the_rendered_report(tmp_path: Path) -> None:
    (tmp_path / "evil.yaml").write_text(SCENARIO)
    (tmp_path / "rb.yaml").write_text(RUNBOOK)
    journal = tmp_path / "j.jsonl"
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state"), "COCKPIT_LOCK_DIR": str(tmp_path / "locks")}
    with World(tmp_path / "evil.yaml", speed=50.0) as world:
        kubeconfig = world.write_kubeconfig(tmp_path / "kubeconfig")
        cockpit = [sys.executable, "-m", "cockpit", "--kubeconfig", str(kubeconfig), "--journal", str(journal)]
        # a change-cause made only of escapes and Markdown is shown inert, never as <none>
        hist = subprocess.run(cockpit + ["history", "checkout", "-n", "shop"], capture_output=True, timeout=60, env=env)
        assert hist.returncode == 0 and b"\x1b" not in hist.stdout and b"\x07" not in hist.stdout
        assert "\\e]0;pwned\\a[docs](https://evil.example/docs)" in hist.stdout.decode()
        assert "<none>" not in hist.stdout.decode().splitlines()[1]
        run = subprocess.run(cockpit + ["run", str(tmp_path / "rb.yaml")], capture_output=True, text=True,
                             timeout=180, env=env)
        assert run.returncode == 0, run.stdout + run.stderr
        live = world.store.require("deployments", "shop", "checkout")["spec"]["template"]["spec"]["containers"][0]
        assert live["image"] == EVIL_IMAGE  # the API accepted it and the rollback put it back
    rep = subprocess.run(cockpit + ["report", str(journal), "--format", "md"], capture_output=True, text=True,
                         timeout=60, env=env)
    assert rep.returncode == 0, rep.stderr
    for renderer in (MarkdownIt("commonmark"), MarkdownIt("gfm-like").enable(["linkify"])):
        html = renderer.render(rep.stdout)
        assert "<a " not in html and "<img" not in html, html
        assert "x:[Grafana](https://evil.example/steal) ![x](https://evil.example/pixel.png)" in html
