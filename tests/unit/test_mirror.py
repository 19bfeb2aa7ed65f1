"""The mirror's core without a store: the journal's listener contract (after the write, in order,
never failing an append), the status lines, the index fold, ids and URLs, and the command
line's ``--mirror`` / ``--follow URL`` and ``journal.mirror`` (a secret never echoed)."""
from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from cockpit.cli import build_parser, main
from cockpit.config import load_settings
from cockpit.errors import ConfigError
from cockpit.journal import Journal, add_open_hook, read_journal
from cockpit.mirror import (
    FollowStatus,
    MirrorStatus,
    check_url,
    configured,
    incident_id,
    index_fields,
    is_mirror_url,
    ordered,
)


def test_listeners_hear_each_record_after_it_is_on_disk_in_order(tmp_path):
    journal = Journal.open(tmp_path / "j.jsonl")
    heard: list[tuple[int, bool]] = []

    def listener(record: dict) -> None:
        on_disk = [r["seq"] for r in read_journal(journal.path)]
        heard.append((record["seq"], record["seq"] in on_disk))

    closed = threading.Event()
    journal.add_listener(listener, closed.set)
    journal.append("incident_opened", target="shop/checkout")
    journal.intent("exec", argv=["true"])  # durable: fsynced before the listener hears it
    journal.append("log", line="x")
    assert heard == [(1, True), (2, True), (3, True)]
    journal.close()
    assert closed.is_set()


def test_a_failing_listener_never_fails_an_append(tmp_path):
    journal = Journal.open(tmp_path / "j.jsonl")

    def broken(record: dict) -> None:
        raise RuntimeError("the mirror fell over")

    def broken_close() -> None:
        raise RuntimeError("and again")

    journal.add_listener(broken, broken_close)
    journal.append("incident_opened", target="shop/checkout")
    assert [r["seq"] for r in read_journal(journal.path)] == [1]
    journal.close()  # its on_close failing does not fail the close either


def test_open_hooks_see_writable_journals_only_until_removed(tmp_path):
    seen: list[Path] = []
    remove = add_open_hook(lambda j: seen.append(j.path))
    try:
        Journal.open(tmp_path / "a.jsonl").close()
        Journal.open(tmp_path / "a.jsonl", readonly=True).close()  # observers mirror nothing
        add_open_hook(lambda j: 1 / 0)()  # added and removed at once
    finally:
        remove()
    Journal.open(tmp_path / "b.jsonl").close()
    assert seen == [tmp_path / "a.jsonl"]


def test_a_hook_that_raises_never_fails_the_open(tmp_path):
    remove = add_open_hook(lambda j: 1 / 0)
    try:
        with Journal.open(tmp_path / "c.jsonl") as j:
            j.append("incident_opened", target="shop/checkout")
    finally:
        remove()


def test_the_status_line_says_behind_since_when_and_how_many():
    since = datetime(2026, 1, 1, 12, 3, 41).timestamp()
    assert MirrorStatus("pg", "i", "live", 0, None).line() == ""
    assert MirrorStatus("pg", "i", "connecting", 3, None).line() == ""
    assert MirrorStatus("pg", "i", "behind", 12, since).line() == "mirror behind since 12:03:41 (12 records)"
    assert MirrorStatus("pg", "i", "behind", 1, since).line() == "mirror behind since 12:03:41 (1 record)"


def test_the_observers_line_says_how_far_behind_the_operator():
    now = time.time()
    fresh = datetime.fromtimestamp(now - 2, timezone.utc)
    assert FollowStatus("pg", "i", seen_seq=57, store_seq=57, lag_s=0.4, heartbeat=fresh).line(now) == \
        "following the mirror: record 57, 0.4s after the operator"
    assert FollowStatus("pg", "i", seen_seq=50, store_seq=57, lag_s=3.0).line(now).endswith(", 7 behind")
    silent = datetime.fromtimestamp(now - 120, timezone.utc)
    line = FollowStatus("pg", "i", seen_seq=5, store_seq=5, heartbeat=silent).line(now)
    assert "the operator's mirror silent since " + silent.astimezone().strftime("%H:%M:%S") in line
    down = FollowStatus("pg", "i", error="connection refused", since=now - 5).line(now)
    assert down.startswith("mirror unreachable since ") and "connection refused" in down


def test_the_index_folds_the_incidents_life():
    opened = index_fields({"seq": 1, "ts": "2026-01-01T00:00:00.000Z", "actor": "a@b", "type": "incident_opened",
                           "target": "shop/checkout", "who": "", "drill": True})
    assert opened["target"] == "shop/checkout" and opened["who"] == "a@b" and opened["drill"] is True
    assert opened["opened"] == datetime(2026, 1, 1, tzinfo=timezone.utc) and opened["phase"] == "declare"
    assert index_fields({"type": "phase", "phase": "verify"}) == {"phase": "verify"}
    resolved = index_fields({"type": "incident_resolved", "ts": "2026-01-01T01:00:00.000Z"})
    assert resolved["phase"] == "resolved" and resolved["resolved"] - opened["opened"] == timedelta(hours=1)
    assert index_fields({"type": "log", "line": "x"}) == {}
    assert index_fields({"type": "phase", "phase": ["not", "a", "phase"]}) == {}


def test_ordered_keeps_each_seq_once_in_increasing_order():
    records = [{"seq": s} for s in (1, 2, 2, 5, 3, 6)]
    assert [r["seq"] for r in ordered(records, 1)] == [2, 5, 6]


def test_ids_and_urls():
    assert incident_id("/x/20260101T000000Z-shop_checkout.jsonl", "bastion-1") == "20260101T000000Z-shop_checkout@bastion-1"
    assert incident_id("/x/a b;\x1b.jsonl", "h") == "a_b_@h"
    for url in ("postgresql://u@h/db", "postgres://h/db", "redis://h:6379/0", "rediss://:pw@h/1", "REDIS://h"):
        assert is_mirror_url(url)
    for not_url in ("/var/lib/x.jsonl", "http://h", "host=h dbname=d", "", None, Path("redis://x")):
        assert not is_mirror_url(not_url)
    with pytest.raises(ConfigError) as err:
        check_url("http://user:s3cr3t@h/")
    assert "s3cr3t" not in err.value.message


def test_follow_keeps_a_mirror_url_whole_and_a_path_a_path():
    parser = build_parser([])
    assert parser.parse_args(["--follow", "postgresql://app:pw@db:5432/team"]).follow == "postgresql://app:pw@db:5432/team"
    assert parser.parse_args(["--follow", "redis://h:6379/0"]).follow == "redis://h:6379/0"
    assert parser.parse_args(["--follow", "incident.jsonl"]).follow == Path("incident.jsonl")
    assert parser.parse_args(["--mirror", "redis://h/0"]).mirror == "redis://h/0"


def test_a_bad_mirror_flag_is_one_line_and_exit_2(capsys):
    assert main(["journal", "show", "/nonexistent", "--mirror", "http://app:s3cr3t@x/"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a mirror URL" in err and "s3cr3t" not in err


def test_journal_mirror_is_a_secret_validated_and_never_echoed(tmp_path):
    s = load_settings(use_file=False, env={"COCKPIT_JOURNAL__MIRROR": "postgresql://app:s3cr3t@db/team"})
    assert s.journal.mirror.get_secret_value() == "postgresql://app:s3cr3t@db/team"
    assert "s3cr3t" not in repr(s) and "s3cr3t" not in str(s.model_dump(mode="json"))
    with pytest.raises(ConfigError) as err:
        load_settings(use_file=False, env={"COCKPIT_JOURNAL__MIRROR": "mysql://app:s3cr3t@db/team"})
    assert "COCKPIT_JOURNAL__MIRROR" in err.value.message and "s3cr3t" not in str(err.value)
    cfg = tmp_path / "config.yaml"
    cfg.write_text("journal:\n  mirror: redis://:s3cr3t@cache:6379/2\n  mirror_queue: 50\n")
    got = configured({"COCKPIT_CONFIG_FILE": str(cfg)})
    assert (got.url, got.capacity, got.flush_s) == ("redis://:s3cr3t@cache:6379/2", 50, 3.0)
    assert configured({"XDG_CONFIG_HOME": str(tmp_path / "empty")}).url is None
