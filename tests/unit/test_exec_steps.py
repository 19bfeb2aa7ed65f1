"""The ``exec`` and ``http`` step kinds, with real subprocesses and a real local HTTP server."""
from __future__ import annotations

import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from backends.exec import ExecParams, ExecStep
from backends.http import USER_AGENT, HttpParams, HttpStep
from cockpit.errors import Aborted, CockpitError, NotFoundError, ReadonlyError, UnreachableError
from cockpit.executor import Executor
from cockpit.journal import Journal, read_journal
from cockpit.runbook import parse_runbook
from cockpit.steps import StepContext

PY = sys.executable


def ctx(lines=None, **kw):
    return StepContext(backends={}, log=(lines.append if lines is not None else lambda line: None), **kw)


def run_exec(lines=None, ctx_kw=None, **params):
    return ExecStep().run(ctx(lines, **(ctx_kw or {})), ExecParams.model_validate(params))


# ---- exec


def test_exec_streams_stdout_and_stderr_sanitized(tmp_path):
    lines: list[str] = []
    code = "import sys; print('out \\x1b[31mred'); sys.stdout.flush(); print('err', file=sys.stderr); print('done')"
    result = run_exec(lines, argv=[PY, "-u", "-c", code], cwd=str(tmp_path))
    assert result == {"exit_code": 0, "lines": 3}
    assert lines == ["out \\e[31mred", "err", "done"]  # the escape shown inert, not executed


def test_exec_argv_is_never_a_shell(tmp_path):
    lines: list[str] = []
    run_exec(lines, argv=["echo", "$HOME; rm -rf /"])
    assert lines == ["$HOME; rm -rf /"]


def test_exec_cwd_and_env(tmp_path):
    lines: list[str] = []
    code = "import os; print(os.getcwd()); print(os.environ['FOO']); print('PATH' in os.environ)"
    run_exec(lines, argv=[PY, "-c", code], cwd=str(tmp_path), env={"FOO": "bar"})
    assert lines == [str(tmp_path), "bar", "True"]


def test_exec_nonzero_exit_names_code_and_last_lines():
    code = "import sys; [print(f'line {i}') for i in range(20)]; sys.exit(3)"
    with pytest.raises(CockpitError) as info:
        run_exec(argv=[PY, "-c", code])
    assert info.value.title == "Command failed"
    assert "exited with code 3" in info.value.message and "line 19" in info.value.message
    assert "line 5" not in info.value.message  # only the last lines


def test_exec_missing_program():
    with pytest.raises(NotFoundError, match="no-such-program"):
        run_exec(argv=["no-such-program-xyz"])


def test_exec_timeout_kills_the_process_group(tmp_path):
    pidfile = tmp_path / "child.pid"
    code = (
        "import subprocess, sys, time\n"
        f"c = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(pidfile)!r}, 'w').write(str(c.pid))\n"
        "print('started', flush=True); time.sleep(60)\n"
    )
    t0 = time.monotonic()
    with pytest.raises(CockpitError) as info:
        run_exec(argv=[PY, "-c", code], timeout="3s")  # time for two Pythons to start on a loaded machine
    assert info.value.title == "Command timed out" and time.monotonic() - t0 < 20
    grandchild = int(pidfile.read_text())
    assert not _alive(grandchild)


def test_exec_cancel_kills(tmp_path):
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    t0 = time.monotonic()
    with pytest.raises(Aborted):
        run_exec(ctx_kw={"cancel": cancel}, argv=[PY, "-c", "import time; time.sleep(60)"])
    assert time.monotonic() - t0 < 10


def test_exec_readonly_refuses_before_spawning(tmp_path):
    marker = tmp_path / "ran"
    with pytest.raises(ReadonlyError):
        run_exec(ctx_kw={"readonly": True}, argv=["touch", str(marker)])
    assert not marker.exists()


def test_exec_env_secrets_never_logged_nor_journaled(tmp_path):
    rb = parse_runbook(
        "name: t\ntarget: {name: x}\nsteps:\n"
        f"  - {{kind: exec, params: {{argv: [{PY}, -c, 'import os; print(os.environ[\"SESAME\"])'],"
        " env: {SESAME: open-sesame-42}}}\n"
    )
    shown: list[str] = []
    with Journal.open(tmp_path / "j.jsonl") as j:
        assert Executor(rb, j, ctx(shown)).run().ok
    text = (tmp_path / "j.jsonl").read_text()
    assert "open-sesame-42" not in text and "open-sesame-42" not in " ".join(shown)
    assert any(r.get("line") == "***" for r in read_journal(tmp_path / "j.jsonl"))


# ---- http


class Handler(BaseHTTPRequestHandler):
    seen: list[dict] = []

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        Handler.seen.append({"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body})
        status = int(self.path.rsplit("/", 1)[-1]) if self.path.rsplit("/", 1)[-1].isdigit() else 200
        payload = b"nope: broken\nmore" if status >= 400 else b"ok"
        self.send_response(status)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    Handler.seen = []
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def run_http(lines=None, ctx_kw=None, **params):
    return HttpStep().run(ctx(lines, **(ctx_kw or {})), HttpParams.model_validate(params))


def test_http_get(server):
    lines: list[str] = []
    result = run_http(lines, url=server + "/health")
    assert result["status"] == 200 and lines[0].startswith(f"GET {server}/health -> 200")
    assert Handler.seen[0]["headers"]["User-Agent"] == USER_AGENT


def test_http_unexpected_status(server):
    with pytest.raises(CockpitError) as info:
        run_http(url=server + "/503")
    assert info.value.title == "Unexpected status"
    assert "503, expected 200: nope: broken" in info.value.message
    assert run_http(url=server + "/404", expect_status=[200, 404])["status"] == 404


def test_http_post_json_with_secret_header(server):
    run_http(url=server + "/deploy", method="POST", body={"a": 1}, headers={"Authorization": "Bearer t0k"},
             expect_status=200)
    req = Handler.seen[0]
    assert req["method"] == "POST" and json.loads(req["body"]) == {"a": 1}
    assert req["headers"]["Authorization"] == "Bearer t0k"


def test_http_readonly_allows_reads_refuses_writes(server):
    assert run_http(ctx_kw={"readonly": True}, url=server + "/x", method="HEAD")["status"] == 200
    with pytest.raises(ReadonlyError):
        run_http(ctx_kw={"readonly": True}, url=server + "/x", method="DELETE")
    assert [r["method"] for r in Handler.seen] == ["HEAD"]
    assert not HttpStep().is_mutating(HttpParams(url=server, method="GET"))
    assert HttpStep().is_mutating(HttpParams(url=server, method="PUT"))


def test_http_unreachable_names_host():
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    with pytest.raises(UnreachableError, match="127.0.0.1"):
        run_http(url=f"http://127.0.0.1:{port}/", timeout="2s")


def test_http_in_a_runbook_journals_without_secrets(server, tmp_path):
    rb = parse_runbook(
        "name: t\ntarget: {name: x}\nsteps:\n"
        f"  - {{kind: http, params: {{url: '{server}/ok', method: GET}}}}\n"
        f"  - {{kind: http, params: {{url: '{server}/hook?token=abc', method: POST, headers: {{X-Key: k3y}}}}}}\n"
    )
    with Journal.open(tmp_path / "j.jsonl") as j:
        assert Executor(rb, j, ctx()).run().ok
    records = read_journal(tmp_path / "j.jsonl")
    assert [r["type"] for r in records].count("intent") == 1  # the GET is a read
    text = (tmp_path / "j.jsonl").read_text()
    assert "k3y" not in text and "abc" not in text


def _alive(pid: int) -> bool:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        # a zombie reparented to init may linger briefly
        try:
            with open(f"/proc/{pid}/stat") as fh:
                if fh.read().split(") ")[1].startswith("Z"):
                    return False
        except OSError:
            return False
        time.sleep(0.05)
    return True
