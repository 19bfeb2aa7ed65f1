"""Pilot tests of the data panel's actions against the suite's real PostgreSQL and Redis:
backup now and restore (type the database name), cancel and terminate a long transaction
(type its pid), Redis FLUSHDB (type host:port/db). Each is journaled write-ahead (an intent,
then its outcome) in the incident it opens for the target on screen; a wrong typed name is
refused by the modal and again below the UI with nothing journaled or sent; readonly: no
keys, refused by the controller, nothing journaled."""
from __future__ import annotations

import asyncio
import threading

import psycopg
import pytest

from cockpit.errors import ConflictError, ReadonlyError
from cockpit.journal import read_journal
from tests.ui.fakes import args
from tests.ui.test_comms import screen_text
from tests.ui.test_flows import TARGET, settings, state_home, until, world  # noqa: F401 — fixtures

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("postgres")]


def pair(recs: list[dict], action: str) -> tuple[dict, dict]:
    intent = next(r for r in recs if r["type"] == "intent" and r["action"] == action)
    outcome = next(r for r in recs if r["type"] == "outcome" and r["id"] == intent["id"])
    assert intent["seq"] < outcome["seq"]
    return intent, outcome


async def open_panel(app, pilot) -> None:
    await until(pilot, lambda: app.data.snapshot is not None and app.data.target == TARGET)
    await pilot.press("D")
    await until(pilot, lambda: app.is_screen_installed("data") and app.screen is app.get_screen("data"))


async def confirm_shown(app, pilot) -> None:
    """The typed confirmation is composed and its input has the focus (pushed is not enough)."""
    from screens.data_confirm import TypedConfirm

    await until(pilot, lambda: isinstance(app.screen, TypedConfirm) and app.screen.query("#typed")
                and app.screen.query_one("#typed").has_focus, what="the typed confirmation composed")


async def type_confirm(app, pilot, typed: str) -> None:
    await confirm_shown(app, pilot)
    app.screen.query_one("#typed").value = typed
    await pilot.press("enter")


async def refused(app, pilot) -> None:
    """A wrong name typed: the modal says so (and stays)."""
    from screens.data_confirm import TypedConfirm

    await until(pilot, lambda: "does not match" in screen_text(app), what="'does not match' on screen")
    assert isinstance(app.screen, TypedConfirm)


def test_backup_now_then_restore_typed(world, state_home, pg_db, tmp_path):  # noqa: F811
    from screens.data_confirm import TypedConfirm

    dbname = pg_db.split("dbname=")[1].split()[0]
    with psycopg.connect(pg_db, autocommit=True) as c:
        c.execute("CREATE TABLE orders (id int PRIMARY KEY)")
        c.execute("INSERT INTO orders SELECT generate_series(1, 50)")
    backups = tmp_path / "backups"

    async def go():
        from cockpit.app import CockpitApp

        app = CockpitApp(args(drill=True, scenario="bad-image"),
                         settings=settings(COCKPIT_DATA__POSTGRES_DSN=pg_db, COCKPIT_DATA__BACKUPS_DIR=str(backups)),
                         world_factory=lambda *a, **k: world)
        async with app.run_test(size=(140, 48)) as pilot:
            await open_panel(app, pilot)
            await until(pilot, lambda: app.data.data_snapshot is not None, timeout=20)
            assert app.session.journal is None  # browsing opens no incident
            await pilot.press("b")
            await until(pilot, lambda: app.datalayer.acting is None and list(backups.glob("*.dump")), timeout=30)
            await until(pilot, lambda: app.data.data_snapshot.backups, timeout=20)
            assert any("backup " in line for line in app.data.redis_log)
            with psycopg.connect(pg_db, autocommit=True) as c:
                c.execute("DELETE FROM orders WHERE id > 10")  # the bad migration
            await until(pilot, lambda: app.screen.query_one("#backups").row_count > 0, what="the backup in its table")
            app.screen.query_one("#backups").focus()
            await pilot.press("R")
            await confirm_shown(app, pilot)
            await until(pilot, lambda: dbname in screen_text(app) and "pg_restore --clean" in screen_text(app),
                        what="the restore's confirmation text")
            await type_confirm(app, pilot, "postgres")  # the wrong database: the modal says so and stays
            await refused(app, pilot)
            await type_confirm(app, pilot, dbname)
            await until(pilot, lambda: not isinstance(app.screen, TypedConfirm))
            await until(pilot, lambda: app.datalayer.acting is None and any("restored" in x for x in app.data.redis_log),
                        timeout=30)
            path = app.session.journal_path
        with psycopg.connect(pg_db) as c:
            assert c.execute("SELECT count(*) FROM orders").fetchone()[0] == 50
        recs = read_journal(path)
        assert recs[0]["type"] == "incident_opened" and recs[0]["target"] == "shop/checkout"
        b_intent, b_out = pair(recs, "postgres.backup")
        assert b_out["ok"] is True and b_out["result"]["sha256"]
        r_intent, r_out = pair(recs, "postgres.restore")
        assert r_out["ok"] is True and r_intent["file"].endswith(".dump") and b_out["seq"] < r_intent["seq"]

    asyncio.run(go())


def test_cancel_and_terminate_long_transaction(world, state_home, pg_db, tmp_path):  # noqa: F811
    holder = psycopg.connect(pg_db, application_name="holder")
    holder.execute("SELECT 1")  # idle in transaction
    holder_pid = holder.info.backend_pid
    sleeper = psycopg.connect(pg_db, application_name="sleeper")
    errors: list[BaseException] = []

    def sleep() -> None:
        try:
            sleeper.execute("SELECT pg_sleep(60)")
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    t = threading.Thread(target=sleep, daemon=True)
    t.start()

    async def pick(app, pilot, pid: int) -> None:
        await until(pilot, lambda: any(x.pid == pid for x in (app.data.data_snapshot.long_tx if app.data.data_snapshot else ())),
                    timeout=20)
        await until(pilot, lambda: app.screen is app.get_screen("data") and str(pid) in app.screen.query_one("#long-tx").rows,
                    what=f"pid {pid} in the long transactions table")
        table = app.screen.query_one("#long-tx")
        table.focus()
        table.move_cursor(row=table.get_row_index(str(pid)))
        await pilot.pause(0.05)

    async def go():
        from cockpit.app import CockpitApp

        app = CockpitApp(args(drill=True, scenario="bad-image"),
                         settings=settings(COCKPIT_DATA__POSTGRES_DSN=pg_db, COCKPIT_DATA__LONG_TX_OLDER_THAN_S="0"),
                         world_factory=lambda *a, **k: world)
        async with app.run_test(size=(140, 48)) as pilot:
            await open_panel(app, pilot)
            await pick(app, pilot, sleeper.info.backend_pid)
            await pilot.press("k")
            await type_confirm(app, pilot, str(sleeper.info.backend_pid))
            await until(pilot, lambda: app.datalayer.acting is None and not t.is_alive(), timeout=20)
            assert errors and isinstance(errors[0], psycopg.errors.QueryCanceled)
            await pick(app, pilot, holder.info.backend_pid)
            await pilot.press("T")
            await type_confirm(app, pilot, "12345")  # not its pid: refused in the modal
            await refused(app, pilot)
            with pytest.raises(ConflictError):  # below the UI as well: refused before the intent
                app.datalayer.act_now("terminate_tx", target=TARGET, pid=holder_pid, confirm="12345")
            await type_confirm(app, pilot, str(holder_pid))
            await until(pilot, lambda: app.datalayer.acting is None and any("terminate pid" in x for x in app.data.redis_log),
                        timeout=20)
            path = app.session.journal_path
        with pytest.raises(psycopg.OperationalError):
            holder.execute("SELECT 1")
        recs = read_journal(path)
        ci, co = pair(recs, "postgres.cancel_backend")
        assert ci["pid"] == sleeper.info.backend_pid and co["ok"] is True and co["result"] == {"signalled": True}
        ti, to = pair(recs, "postgres.terminate_backend")
        assert sum(r["type"] == "intent" and r["action"] == "postgres.terminate_backend" for r in recs) == 1
        assert ti["pid"] == holder_pid and to["ok"] is True and co["seq"] < ti["seq"]

    try:
        asyncio.run(go())
    finally:
        sleeper.close()
        holder.close()


@pytest.mark.xdist_group("redis")
def test_redis_flushdb_typed(world, state_home, redis_server, redis_url):  # noqa: F811
    from screens.data_confirm import TypedConfirm

    db0, db1 = redis_server.client(0), redis_server.client(1)
    db0.mset({f"keep:{i}": "y" for i in range(20)})
    db1.mset({f"moshimoshi:{i}": "x" for i in range(100)})
    url = redis_url.rsplit("/", 1)[0] + "/1"
    server = f"127.0.0.1:{redis_server.port}"

    async def go():
        from cockpit.app import CockpitApp

        app = CockpitApp(args(drill=True, scenario="bad-image"), settings=settings(COCKPIT_DATA__REDIS_URL=url),
                         world_factory=lambda *a, **k: world)
        async with app.run_test(size=(140, 48)) as pilot:
            await open_panel(app, pilot)
            await pilot.press("F")
            await confirm_shown(app, pilot)
            await until(pilot, lambda: all(x in screen_text(app) for x in (server, "FLUSHDB", f"{server}/1")),
                        what="the flush's confirmation text")
            await type_confirm(app, pilot, f"{server}/0")  # the other database: refused
            await refused(app, pilot)
            assert isinstance(app.screen, TypedConfirm) and db1.dbsize() == 100
            with pytest.raises(ConflictError):  # below the UI as well, before the incident or the intent
                app.datalayer.act_now("flush", target=TARGET, confirm=f"{server}/0")
            assert app.session.journal is None
            await type_confirm(app, pilot, f"{server}/1")
            await until(pilot, lambda: app.datalayer.acting is None and any("flushed" in x for x in app.data.redis_log),
                        timeout=20)
            path = app.session.journal_path
        assert db1.dbsize() == 0 and db0.dbsize() == 20  # the other database untouched
        intent, outcome = pair(read_journal(path), "redis.flush")
        assert intent["server"] == server and intent["db"] == 1 and intent["scope"] == "db"
        assert outcome["ok"] is True and outcome["result"] == {"dbsize_before": 100, "dbsize_after": 0}

    asyncio.run(go())


@pytest.mark.xdist_group("redis")
def test_readonly_no_data_actions(world, state_home, pg_db, redis_server, redis_url, tmp_path):  # noqa: F811
    kubeconfig = world.write_kubeconfig(tmp_path / "kc")
    redis_server.client(0).mset({"a": "1", "b": "2"})

    async def go():
        from cockpit.app import CockpitApp
        from screens.data_confirm import TypedConfirm

        app = CockpitApp(args(readonly=True, kubeconfig=str(kubeconfig)),
                         settings=settings(COCKPIT_DATA__POSTGRES_DSN=pg_db, COCKPIT_DATA__REDIS_URL=redis_url,
                                           COCKPIT_DATA__BACKUPS_DIR=str(tmp_path / "b")))
        async with app.run_test(size=(140, 48)) as pilot:
            await until(pilot, lambda: app.session is not None)
            await pilot.press("D")
            await until(pilot, lambda: app.is_screen_installed("data") and app.screen is app.get_screen("data"))
            for action in ("cancel_tx", "terminate_tx", "backup", "restore", "flush"):
                assert app.screen.check_action(action, ()) is False
            await until(pilot, lambda: "long transactions" in screen_text(app), what="the data panel on screen")
            for key in ("k", "T", "b", "R", "F"):
                await pilot.press(key)
            await pilot.pause(0.3)
            assert not isinstance(app.screen, TypedConfirm)
            shown = screen_text(app)
            assert "Backup now" not in shown and "Flush Redis" not in shown
            with pytest.raises(ReadonlyError):
                app.datalayer.act_now("flush", target=TARGET, confirm=f"127.0.0.1:{redis_server.port}/0")
            with pytest.raises(ReadonlyError):
                app.datalayer.act_now("backup", target=TARGET)
            app.datalayer.act("backup")  # the event-loop entry refuses too
            assert app.datalayer.acting is None
            assert app.session.journal is None
        assert redis_server.client(0).dbsize() == 2 and not (tmp_path / "b").exists()

    asyncio.run(go())
