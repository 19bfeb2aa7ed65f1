"""Issue 13, "Exit codes and errors" and the CLI's hostile-text sinks: the installed CLI
(``python -m cockpit``, this checkout) run as an operator would, against the simulated world
over HTTP where a cluster is needed. Each case is a reproduction from the issue; README's
exit-code table is what these assert."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cockpit.world.world import World

# Bytes a terminal would act on: ESC, BEL, the 8-bit CSI/OSC/ST in UTF-8, bidi overrides.
TERMINAL_CONTROLS = (b"\x1b", b"\x07", b"\xc2\x9b", b"\xc2\x9d", b"\xc2\x9c", "\u202e".encode(), "\u2028".encode())


def cockpit(*args: str, env: dict[str, str], kubeconfig: Path | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[bytes]:
    cmd = [sys.executable, "-m", "cockpit"] + (["--kubeconfig", str(kubeconfig)] if kubeconfig else []) + list(args)
    return subprocess.run(cmd, capture_output=True, timeout=timeout, env=env)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    state = tmp_path / "state"
    return {**os.environ, "XDG_STATE_HOME": str(state), "COCKPIT_LOCK_DIR": str(state / "locks"),
            "XDG_CONFIG_HOME": str(tmp_path / "config")}


def inert(*outputs: bytes) -> bool:
    return not any(c in out for out in outputs for c in TERMINAL_CONTROLS)


def one_line(err: bytes) -> str:
    text = err.decode()
    assert text.count("\n") == 1 and text.endswith("\n"), text
    return text


# --------------------------------------------------------------------------- journal show


def hostile_journal(path: Path) -> Path:
    good = lambda i: json.dumps({"seq": i, "ts": f"2024-05-01T12:00:{i:02d}.000Z", "actor": "alice@bastion",  # noqa: E731
                                 "type": "phase", "phase": "identify"})
    lines = [good(i) for i in range(1, 14)]
    lines[2] = json.dumps({"seq": 3, "ts": "2024-05-01T12:00:03.000Z", "actor": "\u001b]0;pwned\u0007evil",
                           "type": "phase\u009b31m", "phase": "x\u202ey"})
    lines[3] = '{"seq": 4, "ts": "\\ud800", "actor": null, "type": "note", "text": "\\ud800\\u2028two"}'
    lines[4] = '{"seq": 5, "ts": 17, "actor": ["a"], "type": "phase", "phase": null}'
    lines += ["garbage \x1b]0;title-never-ended", "{not json", good(16)]
    path.write_bytes(("\n".join(lines) + "\n").encode("utf-8"))
    return path


def test_journal_show_sanitizes_every_field_and_counts_unreadable_records(tmp_path: Path, env: dict) -> None:
    p = cockpit("journal", "show", str(hostile_journal(tmp_path / "j.jsonl")), env=env)
    assert p.returncode == 0, p.stderr
    assert inert(p.stdout, p.stderr)
    out = p.stdout.decode()
    assert "\\e]0;pwned\\aevil" in out and "phase\\x9b31m" in out and "x\\u202ey" in out  # shown, inert
    assert "\\ud800" in out and "\\ud800 two" in out  # a lone surrogate is shown, not a crash
    assert "line 14: unreadable record: garbage \\e]0;title-never-ended" in out
    assert "line 15: unreadable record: {not json" in out
    assert out.rstrip().endswith("2 unreadable records at lines 14, 15")
    assert "(14 records, 2 unreadable)" in out.splitlines()[0]


def test_journal_show_json_is_ascii_and_names_unreadable_lines(tmp_path: Path, env: dict) -> None:
    p = cockpit("journal", "show", str(hostile_journal(tmp_path / "j.jsonl")), "-o", "json", env=env)
    assert p.returncode == 0, p.stderr
    assert p.stdout.isascii() and inert(p.stdout)
    doc = json.loads(p.stdout)
    assert [u["line"] for u in doc["unreadable"]] == [14, 15] and len(doc["records"]) == 14
    assert doc["records"][2]["actor"] == "\u001b]0;pwned\u0007evil"  # the data itself, losslessly, as JSON escapes


@pytest.mark.parametrize("what", ["directory", "device"])
def test_journal_show_of_something_not_a_journal_is_exit_8(tmp_path: Path, env: dict, what: str) -> None:
    path = str(tmp_path) if what == "directory" else "/dev/full"
    p = cockpit("journal", "show", path, env=env, timeout=20)
    assert p.returncode == 8
    assert f"cannot use {path} as a journal" in one_line(p.stderr) and "not a regular file" in p.stderr.decode()


# --------------------------------------------------------------------------- arguments echoed


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[World, Path]]:
    with World("healthy", speed=50.0) as w:
        yield w, w.write_kubeconfig(tmp_path / "kubeconfig")


@pytest.mark.parametrize("command", ["history", "status", "rollback"])
def test_not_found_errors_echo_the_argument_sanitized(world, env: dict, command: str) -> None:
    _, kubeconfig = world
    evil = "\x1b]0;pwned\x07"
    p = cockpit(command, evil, *(["--yes"] if command == "rollback" else []), env=env, kubeconfig=kubeconfig)
    assert p.returncode == 3, p.stderr
    assert inert(p.stdout, p.stderr)
    assert "\\e]0;pwned\\a" in one_line(p.stderr)


def test_a_usage_error_echoes_the_argument_sanitized(env: dict) -> None:
    p = cockpit("\x1b[31mhistory\u202e", env=env)
    assert p.returncode == 2 and inert(p.stdout, p.stderr)
    assert "[31mhistory\\u202e" in one_line(p.stderr)  # argparse's repr or the sanitizer's form: inert either way


@pytest.mark.parametrize("value", ["abc", "1e9", "-1", "2.5"])
@pytest.mark.parametrize("flag", [("rollback", "web", "--yes", "--to-revision"), ("history", "web", "--revision")])
def test_a_bad_revision_is_one_line_naming_the_expected_form(env: dict, value: str, flag: tuple[str, ...]) -> None:
    p = cockpit(*flag, value, env=env)
    assert p.returncode == 2
    line = one_line(p.stderr)
    assert "expected a revision number such as 3 (0: the previous revision)" in line and repr(value) in line
    assert "usage: cockpit" not in line  # not argparse's usage block


# --------------------------------------------------------------------------- journals that cannot be


def immutable_dir(tmp_path: Path) -> Path:
    d = tmp_path / "immutable"
    d.mkdir()
    if subprocess.run(["chattr", "+i", str(d)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available here")
    return d


JOURNAL_CASES = {
    "proc": lambda tmp: Path("/proc/x.jsonl"),
    "directory": lambda tmp: tmp,
    "under-a-file": lambda tmp: (tmp / "a-file").write_text("x") and tmp / "a-file" / "x.jsonl",
    "immutable-dir": lambda tmp: immutable_dir(tmp) / "x.jsonl",
    "dev-full": lambda tmp: Path("/dev/full"),
}
RUNBOOK = "name: t\ntarget: {name: web, namespace: default}\nsteps:\n  - {kind: exec, params: {argv: [touch, %s]}}\n"


@pytest.fixture
def journal_case(request, tmp_path: Path) -> Iterator[Path]:
    path = JOURNAL_CASES[request.param](tmp_path)
    yield path
    if request.param == "immutable-dir":
        subprocess.run(["chattr", "-i", str(path.parent)], check=False)


@pytest.mark.parametrize("journal_case", sorted(JOURNAL_CASES), indirect=True)
def test_run_with_a_journal_that_cannot_be_written_is_exit_8(tmp_path: Path, env: dict, journal_case: Path) -> None:
    marker = tmp_path / "ran"
    rb = tmp_path / "rb.yaml"
    rb.write_text(RUNBOOK % marker)
    p = cockpit("run", str(rb), "--journal", str(journal_case), env=env, timeout=30)
    assert p.returncode == 8, p.stderr
    line = one_line(p.stderr)
    assert str(journal_case) in line and line.startswith("cockpit: Journal: ")
    assert "internal error" not in line
    assert not marker.exists()  # nothing ran


@pytest.mark.parametrize("journal_case", ["proc", "directory", "dev-full"], indirect=True)
def test_rollback_with_a_journal_that_cannot_be_written_sends_nothing(world, env: dict, journal_case: Path) -> None:
    w, kubeconfig = world
    w.clear_request_log()
    p = cockpit("rollback", "web", "--yes", "--journal", str(journal_case), env=env, kubeconfig=kubeconfig)
    assert p.returncode == 8, p.stderr
    assert str(journal_case) in one_line(p.stderr)
    assert [m for m, _ in w.request_log if m != "GET"] == []  # no PATCH, not even a Lease


def test_a_declined_rollback_leaves_no_empty_journal(world, env: dict, tmp_path: Path) -> None:
    _, kubeconfig = world
    journal = tmp_path / "j.jsonl"
    p = cockpit("rollback", "web", "--journal", str(journal), env=env, kubeconfig=kubeconfig)  # no terminal: not confirmed
    assert p.returncode == 130 and not journal.exists()


# --------------------------------------------------------------------------- files that are not what they say


def test_run_of_a_binary_file_is_exit_2_naming_it(tmp_path: Path, env: dict) -> None:
    binary = tmp_path / "rollback.png"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe")
    p = cockpit("run", str(binary), env=env)
    assert p.returncode == 2
    assert f"{binary}:1: not a runbook" in one_line(p.stderr)


@pytest.mark.parametrize("path", ["/dev/zero", "DIR"])
def test_run_of_something_not_a_file_is_exit_2(tmp_path: Path, env: dict, path: str) -> None:
    path = str(tmp_path) if path == "DIR" else path
    p = cockpit("run", path, env=env, timeout=20)
    assert p.returncode == 2 and f"cannot read runbook {path}: not a regular file" in one_line(p.stderr)


GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "incident_resolved.jsonl"


@pytest.mark.parametrize("out", ["/proc/x.md", "DIR"])
def test_report_to_a_path_that_cannot_take_it_names_path_and_reason(tmp_path: Path, env: dict, out: str) -> None:
    out = str(tmp_path) if out == "DIR" else out
    p = cockpit("report", str(GOLDEN), "--out", out, env=env)
    assert p.returncode == 1
    line = one_line(p.stderr)
    assert line.startswith("cockpit: Report not written: cannot write the report to " + out)
    assert "internal error" not in line


def test_report_of_a_directory_is_exit_8(tmp_path: Path, env: dict) -> None:
    p = cockpit("report", str(tmp_path), env=env)
    assert p.returncode == 8 and "it is a directory" in one_line(p.stderr)


# --------------------------------------------------------------------------- resume of nothing


def test_resume_with_a_journal_that_does_not_exist_resumes_nothing(tmp_path: Path, env: dict) -> None:
    marker, rb, journal = tmp_path / "ran", tmp_path / "rb.yaml", tmp_path / "new.jsonl"
    rb.write_text(RUNBOOK % marker)
    p = cockpit("run", str(rb), "--resume", "--journal", str(journal), env=env)
    assert p.returncode == 3
    assert "nothing to resume" in one_line(p.stderr) and str(journal) in p.stderr.decode()
    assert not marker.exists() and not journal.exists()  # nothing ran, no incident opened


def test_resume_with_a_journal_of_another_incident_resumes_nothing(tmp_path: Path, env: dict) -> None:
    marker, rb, journal = tmp_path / "ran", tmp_path / "rb.yaml", tmp_path / "other.jsonl"
    rb.write_text(RUNBOOK % marker)
    journal.write_text(json.dumps({"seq": 1, "ts": "2024-05-01T12:00:00.000Z", "actor": "a@b", "type": "incident_opened",
                                   "target": "shop/checkout", "reason": "x"}) + "\n")
    before = journal.read_bytes()
    p = cockpit("run", str(rb), "--resume", "--journal", str(journal), env=env)
    assert p.returncode == 3 and "nothing to resume" in one_line(p.stderr)
    assert not marker.exists() and journal.read_bytes() == before


# --------------------------------------------------------------------------- status


SCENARIO = """\
name: prefixes
deployments:
  - name: hg0
    namespace: shop
    replicas: 1
    revisions: [{image: registry.example/hg0:1}, {image: registry.example/hg0:2}]
  - name: hg04
    namespace: shop
    replicas: 2
    revisions: [{image: registry.example/hg04:1}, {image: registry.example/hg04:2}]
"""


@pytest.fixture
def prefixes(tmp_path: Path) -> Iterator[tuple[World, Path]]:
    scenario = tmp_path / "prefixes.yaml"
    scenario.write_text(SCENARIO)
    with World(scenario, speed=50.0) as w:
        yield w, w.write_kubeconfig(tmp_path / "kubeconfig", namespace="shop")


def test_status_lists_only_the_events_of_its_deployment_and_its_pods(prefixes, env: dict) -> None:
    w, kubeconfig = prefixes
    others = [e for e in w.store.list("events", "shop") if e["involvedObject"]["name"].startswith("hg04")]
    assert others  # the world did record events for hg04 and its pods
    p = cockpit("status", "hg0", "-o", "json", env=env, kubeconfig=kubeconfig)
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    objects = {e["object"] for e in doc["events"]}
    assert objects and not [o for o in objects if o.split("/", 1)[1].startswith("hg04")], objects
    assert any(o == "deployment/hg0" for o in objects)
    assert {p["name"].rsplit("-", 2)[0] for p in doc["pods"]} == {"hg0"}


def test_status_shows_what_it_could_get_when_only_the_events_fail(prefixes, env: dict) -> None:
    w, kubeconfig = prefixes
    w.forbid("events")
    p = cockpit("status", "hg0", env=env, kubeconfig=kubeconfig)
    out = p.stdout.decode()
    assert "deployment shop/hg0" in out and "POD" in out and "hg0-" in out  # the rest is shown
    assert "events: NOT AVAILABLE — Forbidden" in out
    assert p.returncode == 1  # the exit code of the part that failed (README), after everything else was shown
    j = cockpit("status", "hg0", "-o", "json", env=env, kubeconfig=kubeconfig)
    doc = json.loads(j.stdout)
    assert doc["events"] is None and doc["errors"]["events"]["title"] == "Forbidden" and doc["pods"]
