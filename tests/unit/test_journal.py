"""The incident journal: records, durability, torn tails, redaction, locks, observers."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time

import pytest

from cockpit.errors import JournalError, LockedError, NotFoundError, ReadonlyError
from cockpit.journal import (
    Journal,
    default_journal_path,
    find_open_incidents,
    follow,
    read_journal,
    redact,
)


@pytest.fixture
def path(tmp_path):
    return tmp_path / "incidents" / "20240501T120000Z-shop_checkout.jsonl"


def lines(path):
    return path.read_text(encoding="utf-8").splitlines()


def test_append_writes_one_json_line_per_record(path):
    with Journal.open(path, actor="alice@bastion") as j:
        rec = j.append("verdict", value="rollback", reasons=["error rate 7%"])
        j.append("log", step=0, line="hello")
    assert rec["seq"] == 1 and rec["actor"] == "alice@bastion" and rec["type"] == "verdict"
    assert rec["ts"].endswith("Z") and len(rec["ts"]) == len("2024-05-01T12:00:00.000Z")
    records = [json.loads(line) for line in lines(path)]
    assert [r["seq"] for r in records] == [1, 2]
    assert records[0]["reasons"] == ["error rate 7%"]
    assert read_journal(path) == records


def test_seq_continues_after_reopen(path):
    with Journal.open(path, actor="a@h") as j:
        j.append("log", line="one")
    with Journal.open(path, actor="a@h") as j:
        assert j.seq == 1 and j.count == 1
        assert j.append("log", line="two")["seq"] == 2


def test_reserved_keys_are_refused(path):
    with Journal.open(path) as j, pytest.raises(ValueError):
        j.append("log", seq=99)


def test_default_actor_is_user_at_host(path):
    with Journal.open(path) as j:
        assert j.append("log", line="x")["actor"].endswith("@" + socket.gethostname())


def test_intent_is_fsynced_before_returning(path, monkeypatch):
    synced = []
    real = os.fsync

    def spy(fd):
        synced.append(path.read_text().splitlines()[-1])
        real(fd)

    monkeypatch.setattr(os, "fsync", spy)
    with Journal.open(path) as j:
        j.append("log", line="not durable")
        assert synced == []
        intent_id = j.intent("rollback", target="shop/checkout", to_revision=3)
        assert json.loads(synced[-1])["id"] == intent_id
        j.outcome(intent_id, True, result={"revision": 4})
        assert json.loads(synced[-1])["type"] == "outcome"


def test_failed_fsync_is_fatal(path, monkeypatch):
    def broken(fd):
        raise OSError(5, "Input/output error")

    with Journal.open(path) as j:
        monkeypatch.setattr(os, "fsync", broken)
        with pytest.raises(JournalError, match="Input/output error"):
            j.intent("rollback")
        monkeypatch.undo()
        with pytest.raises(JournalError, match="unusable"):  # never retried
            j.append("log", line="after")


def test_action_context_manager(path):
    with Journal.open(path) as j:
        with j.action("rollback", target="shop/checkout", to_revision=3) as act:
            act.result = {"from": 5, "to": 3}
        with pytest.raises(NotFoundError), j.action("scale", replicas=2):
            raise NotFoundError("deployment shop/checkout not found")
    intent1, ok, intent2, failed = read_journal(path)
    assert intent1["type"] == "intent" and intent1["action"] == "rollback" and intent1["to_revision"] == 3
    assert ok == {**ok, "type": "outcome", "id": intent1["id"], "ok": True, "result": {"from": 5, "to": 3}}
    assert failed["id"] == intent2["id"] and failed["ok"] is False
    assert failed["error_title"] == "Not found" and "not found" in failed["error_message"]


def test_action_leaves_intent_pending_on_system_exit(path):
    with Journal.open(path) as j, pytest.raises(SystemExit), j.action("rollback"):
        raise SystemExit(1)
    assert [r["type"] for r in read_journal(path)] == ["intent"]


def test_readonly_refuses_appends_and_does_not_create(path):
    j = Journal.open(path, readonly=True)
    with pytest.raises(ReadonlyError):
        j.append("log", line="x")
    with pytest.raises(ReadonlyError):
        j.intent("rollback")
    assert not path.exists()


# ---- torn tails


def test_torn_tail_without_newline_is_detected_and_truncated(path):
    with Journal.open(path) as j:
        j.append("log", line="good")
    good = path.read_bytes()
    path.write_bytes(good + b'{"seq": 2, "ts": "2024')
    j = Journal.open(path)
    assert j.torn is not None and j.torn.offset == len(good) and j.torn.data == b'{"seq": 2, "ts": "2024'
    assert [r["line"] for r in j.read()] == ["good"]
    assert j.append("log", line="next")["seq"] == 2
    j.close()
    assert [json.loads(x)["line"] for x in lines(path)] == ["good", "next"]
    sidecar = path.with_name(path.name + ".torn").read_bytes()
    assert b'{"seq": 2, "ts": "2024' in sidecar and b'"offset": %d' % len(good) in sidecar


def test_valid_json_without_newline_is_still_torn(path):
    path.parent.mkdir(parents=True)
    path.write_bytes(b'{"seq": 1, "ts": "x", "actor": "a", "type": "log"}')
    j = Journal.open(path)
    assert j.torn is not None and j.read() == []


def test_invalid_json_last_line_is_torn(path):
    path.parent.mkdir(parents=True)
    path.write_bytes(b'{"seq": 1, "ts": "x", "actor": "a", "type": "log"}\n{"seq": 2, gar\n')
    j = Journal.open(path)
    assert j.torn is not None and j.torn.data == b'{"seq": 2, gar\n'
    assert len(j.read()) == 1
    j.append("log", line="x")
    j.close()
    assert len(lines(path)) == 2


def test_readonly_open_reports_torn_but_never_repairs(path):
    path.parent.mkdir(parents=True)
    path.write_bytes(b'{"seq": 1, "ts": "x", "actor": "a", "type": "log"}\n{"se')
    j = Journal.open(path, readonly=True)
    assert j.torn is not None
    assert path.read_bytes().endswith(b'{"se')


def test_kill_mid_write_leaves_a_readable_journal(tmp_path):
    """A writer SIGKILLed while writing: everything before stays, the tail never glues on."""
    path = tmp_path / "j.jsonl"
    code = (
        "import sys; from cockpit.journal import Journal\n"
        "j = Journal.open(sys.argv[1])\n"
        "for i in range(1000000): j.append('log', line='x' * 300)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(path)])
    deadline = time.monotonic() + 10
    while (not path.exists() or path.stat().st_size < 200_000) and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.kill()
    proc.wait()
    j = Journal.open(path)
    before = len(j.read())
    assert before > 100
    j.append("log", line="after the crash")
    j.close()
    records = read_journal(path)
    assert len(records) == before + 1 and records[-1]["line"] == "after the crash"
    assert all(json.loads(x) for x in lines(path))


# ---- redaction


def test_secrets_never_enter_the_journal(path):
    with Journal.open(path) as j:
        j.append(
            "notification",
            channel="slack",
            ok=True,
            webhook_url="https://hooks.slack.com/services/T0/B0/XYZ",
            dsn="postgresql://app:hunter2@db:5432/shop",
            nested={"password": "hunter2", "api_key": "k-123", "ok": "fine"},
            env={"DB_PASSWORD": "hunter2"},
            line="GET https://x/?token=abc123&a=1",
        )
    text = path.read_text()
    for secret in ("hunter2", "XYZ", "k-123", "abc123"):
        assert secret not in text
    rec = read_journal(path)[0]
    assert rec["nested"]["ok"] == "fine" and rec["dsn"] == "postgresql://app:***@db:5432/shop"


def test_redact_leaves_ordinary_text_alone():
    assert redact({"line": "monkey=banana", "n": 3, "key": None}) == {"line": "monkey=banana", "n": 3, "key": None}


# ---- observers


def test_follow_tails_a_journal_written_by_another_handle(path):
    stop = threading.Event()
    seen: list[dict] = []
    writer = Journal.open(path)
    writer.append("log", line="before")

    def observe():
        for rec in follow(path, stop, poll=0.01):
            seen.append(rec)

    t = threading.Thread(target=observe)
    t.start()
    # a partial line: not yielded until completed
    with path.open("ab") as fh:
        fh.write(b'{"seq": 2, "ts": "2024-05-01T12:00:00.000Z", "actor": "a@h", "type": "lo')
    deadline = time.monotonic() + 10
    while not seen and time.monotonic() < deadline:  # the follower has read the whole line...
        time.sleep(0.01)
    time.sleep(0.1)  # ...and polled ~10 more times past the partial one
    assert [r["line"] for r in seen] == ["before"]
    with path.open("ab") as fh:
        fh.write(b'g", "line": "completed"}\n')
    writer2 = Journal.open(path)
    writer2.append("log", line="after")
    deadline = time.monotonic() + 5
    while len(seen) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()
    t.join(5)
    assert [r["line"] for r in seen] == ["before", "completed", "after"]


def test_follow_survives_torn_tail_truncation(path):
    stop = threading.Event()
    seen: list[dict] = []
    with Journal.open(path) as j:
        j.append("log", line="one")
    with path.open("ab") as fh:
        fh.write(b'{"seq": 2, "torn')
    t = threading.Thread(target=lambda: seen.extend(follow(path, stop, poll=0.01)))
    t.start()
    time.sleep(0.1)
    with Journal.open(path) as j:
        j.append("log", line="two")
    deadline = time.monotonic() + 5
    while len(seen) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()
    t.join(5)
    assert [r["line"] for r in seen] == ["one", "two"]


def test_follow_waits_for_the_file(tmp_path):
    stop = threading.Event()
    path = tmp_path / "later.jsonl"
    seen: list[dict] = []
    t = threading.Thread(target=lambda: seen.extend(follow(path, stop, poll=0.01)))
    t.start()
    time.sleep(0.05)
    with Journal.open(path) as j:
        j.append("log", line="hi")
    deadline = time.monotonic() + 5
    while not seen and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()
    t.join(5)
    assert seen[0]["line"] == "hi"


# ---- locations


def test_default_path_and_open_incidents(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    p = default_journal_path("shop/checkout")
    assert p.parent == tmp_path / "cockpit" / "incidents"
    assert p.name.endswith("-shop_checkout.jsonl") and p.name[8] == "T"
    a = tmp_path / "cockpit" / "incidents" / "20240101T000000Z-a.jsonl"
    b = tmp_path / "cockpit" / "incidents" / "20240102T000000Z-b.jsonl"
    c = tmp_path / "cockpit" / "incidents" / "20240103T000000Z-c.jsonl"
    for path, closing in ((a, None), (b, "incident_resolved"), (c, "incident_closed")):
        with Journal.open(path) as j:
            j.append("incident_opened", target=path.stem, reason="bad deploy", who="alice")
            if closing:
                j.append(closing)
    assert find_open_incidents() == [a]
    assert find_open_incidents(tmp_path / "cockpit") == [a]


def test_default_path_fallback(monkeypatch, tmp_path):
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_journal_path("x").parent == tmp_path / ".local" / "state" / "cockpit" / "incidents"


