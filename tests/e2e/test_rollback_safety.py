"""The three ways the first build left production on the bad release, run as an operator would:
two operators on two state directories, a retry after a crash, a retry without the journal.

The installed CLI (``python -m cockpit``, this checkout) against the simulated world over HTTP.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cockpit.world.world import World

GOOD = "registry.example/shop/checkout:1.4.2"
BAD = "registry.example/shop/checkout:1.5.0"


@pytest.fixture
def slow_world(tmp_path: Path) -> Iterator[tuple[World, Path]]:
    """bad-image, rolling out slowly enough that a rollback takes seconds (the lock is held)."""
    with World("bad-image", speed=3.0) as world:
        yield world, world.write_kubeconfig(tmp_path / "kubeconfig")


def cockpit_cmd(kubeconfig: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "cockpit", "--kubeconfig", str(kubeconfig), "-n", "shop", *args]


def env_for(state: Path) -> dict[str, str]:
    return {**os.environ, "XDG_STATE_HOME": str(state), "COCKPIT_LOCK_DIR": str(state / "locks")}


def run(cmd: list[str], env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)


def wait_for(pred, what: str, timeout: float = 30.0) -> None:  # noqa: ANN001
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def live_images(world: World) -> tuple[str, ...]:
    dep = world.store.require("deployments", "shop", "checkout")
    return tuple(c["image"] for c in dep["spec"]["template"]["spec"]["containers"])


def deployment_patches(world: World) -> int:
    return sum(1 for method, path in world.request_log if method == "PATCH" and "/deployments/checkout" in path)


def journal_types(path: Path) -> list[str]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line)["type"])
        except (ValueError, KeyError):
            pass
    return out


def test_a_second_operator_is_refused_by_the_lease_whatever_their_state_dir(slow_world, tmp_path):
    world, kc = slow_world
    # the world's rollouts hold still: alice holds her Lease until bob has been refused, however
    # slowly his process starts on a loaded machine (then the rollout goes on at its speed)
    speed, world.clock.speed = world.clock.speed, 1e-6
    first = subprocess.Popen(cockpit_cmd(kc, "rollback", "checkout", "--yes"), env=env_for(tmp_path / "alice"),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: world.store.get("leases", "shop", "cockpit-incident-checkout") is not None, "the first operator's Lease")
        second = run(cockpit_cmd(kc, "rollback", "checkout", "--yes"), env_for(tmp_path / "bob"))
        world.clock.speed = speed
        out, err = first.communicate(timeout=120)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 0, err
    assert second.returncode == 6, second.stderr
    assert "held by" in second.stderr and "since" in second.stderr and "(pid " in second.stderr
    assert "Traceback" not in second.stderr
    assert live_images(world) == (GOOD,)
    assert deployment_patches(world) == 1
    # the Lease is gone with the first operator: the history is 1, 3, 4 with the good image live
    assert world.store.get("leases", "shop", "cockpit-incident-checkout") is None


@pytest.mark.parametrize("kill_after", ["revision_chosen", "intent", "outcome"])
def test_a_retry_after_a_crash_rolls_back_exactly_once(slow_world, tmp_path, kill_after):
    world, kc = slow_world
    journal = tmp_path / "incident.jsonl"
    env = env_for(tmp_path / "state")
    cmd = cockpit_cmd(kc, "rollback", "checkout", "--yes", "--journal", str(journal))
    first = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: kill_after in journal_types(journal), f"{kill_after} in the journal")
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    retry = run(cmd, env)
    assert retry.returncode == 0, retry.stderr
    assert live_images(world) == (GOOD,)
    assert deployment_patches(world) == 1
    types = journal_types(journal)
    assert types.count("revision_chosen") == 1
    # a third run with the journal: it says so and sends nothing
    again = run(cmd + ["-o", "json"], env)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["already"] is True
    assert deployment_patches(world) == 1 and live_images(world) == (GOOD,)


def test_a_retry_with_to_revision_after_success_is_already_done(slow_world, tmp_path):
    world, kc = slow_world
    journal = tmp_path / "incident.jsonl"
    env = env_for(tmp_path / "state")
    cmd = cockpit_cmd(kc, "rollback", "checkout", "--yes", "--to-revision", "1", "--journal", str(journal))
    assert run(cmd, env).returncode == 0
    retry = run(cmd, env)
    assert retry.returncode == 0, retry.stderr
    assert "already rolled back" in retry.stdout and "to revision 1" in retry.stdout
    assert live_images(world) == ("registry.example/shop/checkout:1.4.1",)
    assert deployment_patches(world) == 1


def test_without_the_journal_a_bare_rollback_that_would_undo_the_last_one_is_refused(slow_world, tmp_path):
    world, kc = slow_world
    assert run(cockpit_cmd(kc, "rollback", "checkout", "--yes"), env_for(tmp_path / "a")).returncode == 0
    assert live_images(world) == (GOOD,)
    again = run(cockpit_cmd(kc, "rollback", "checkout", "--yes"), env_for(tmp_path / "b"))
    assert again.returncode == 6, again.stderr
    assert "was rolled back by" in again.stderr and "--to-revision" in again.stderr
    assert live_images(world) == (GOOD,) and deployment_patches(world) == 1
    # said on purpose, it rolls forward
    forced = run(cockpit_cmd(kc, "rollback", "checkout", "--yes", "--force", "--no-wait"), env_for(tmp_path / "c"))
    assert forced.returncode == 0, forced.stderr
    assert live_images(world) == (BAD,) and deployment_patches(world) == 2
