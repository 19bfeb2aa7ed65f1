"""``cockpit redis ...`` headless commands against a real redis-server."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from cockpit.cli import main
from tests.fixtures.redis import ACL_PASSWORD, free_port

pytestmark = pytest.mark.xdist_group("redis")


def seed(r, prefix, n):
    r.mset({f"{prefix}{i}": 1 for i in range(n)})


def test_invalidate_yes_json_and_journal(redis_server, redis_url, capsys, tmp_path):
    r = redis_server.client()
    seed(r, "moshimoshi:", 300)
    seed(r, "keep:", 100)
    journal = tmp_path / "incident.jsonl"
    url = redis_server.url_with_password()
    rc = main(["redis", "invalidate", "moshimoshi:*", "--url", url, "--yes", "-o", "json", "--journal", str(journal)])
    out = capsys.readouterr()
    assert rc == 0, out.err
    data = json.loads(out.out)
    assert data["deleted"] == 300 and data["remaining"] == 0 and data["dbsize_after"] == 100
    assert r.dbsize() == 100
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    kinds = [rec["type"] for rec in records]
    assert kinds.index("intent") < kinds.index("outcome")
    outcome = next(rec for rec in records if rec["type"] == "outcome")
    assert outcome["ok"] is True and outcome["deleted"] == 300
    assert ACL_PASSWORD not in journal.read_text() and ACL_PASSWORD not in out.out + out.err


def test_dry_run_and_refusal_without_yes(redis_server, redis_url, capsys):
    r = redis_server.client()
    seed(r, "sess:", 40)
    assert main(["redis", "invalidate", "sess:*", "--url", redis_url, "--dry-run", "-o", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["matched"] == 40 and data["dry_run"] is True
    # no --yes and no terminal: counts, then aborts without deleting
    assert main(["redis", "invalidate", "sess:*", "--url", redis_url]) == 130
    err = capsys.readouterr().err
    assert "40 of 40 keys" in err and "Aborted" in err
    assert r.dbsize() == 40


def test_readonly_flag_refuses(redis_server, redis_url, capsys):
    r = redis_server.client()
    seed(r, "x:", 5)
    assert main(["--readonly", "redis", "invalidate", "x:*", "--url", redis_url, "--yes"]) == 5
    assert main(["redis", "flush", "--url", redis_url, "--confirm", f"127.0.0.1:{redis_server.port}/0", "--readonly"]) == 5
    assert r.dbsize() == 5
    assert "Readonly" in capsys.readouterr().err


def test_flush_wrong_and_right_confirmation(redis_server, redis_url, capsys):
    r = redis_server.client()
    seed(r, "a:", 10)
    assert main(["redis", "flush", "--url", redis_url, "--confirm", "prod"]) == 6
    assert "Confirmation mismatch" in capsys.readouterr().err and r.dbsize() == 10
    assert main(["redis", "flush", "--url", redis_url, "--confirm", f"127.0.0.1:{redis_server.port}/0", "-o", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["dbsize_before"] == 10 and data["dbsize_after"] == 0 and r.dbsize() == 0


def test_unreachable_and_bad_url_are_one_line_errors():
    port = free_port()
    for argv, code, word in (
        (["redis", "dbsize", "--url", f"redis://:hunter2@127.0.0.1:{port}/0"], 4, "Unreachable"),
        (["redis", "dbsize", "--url", "http://nope"], 2, "Bad configuration"),
    ):
        proc = subprocess.run([sys.executable, "-m", "cockpit", *argv], capture_output=True, text=True, timeout=30)
        assert proc.returncode == code, proc.stderr
        assert proc.stderr.count("\n") == 1 and word in proc.stderr and "Traceback" not in proc.stderr
        assert "hunter2" not in proc.stderr


def test_invalidate_path_imports_no_heavy_modules(redis_server, redis_url):
    pytest.importorskip("hiredis", reason="the lean path needs hiredis (without it redis-py is used)")
    code = ("import sys; from cockpit.cli import main; rc = main(['redis', 'invalidate', 'zz:*', '--url', %r, '--yes']);"
            "heavy = [m for m in ('pydantic', 'yaml', 'textual', 'kubernetes', 'redis', 'asyncio', 'docker', 'httpx') if m in sys.modules];"
            "print(heavy); sys.exit(rc)") % redis_url
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[]"
