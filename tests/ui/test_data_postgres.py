"""Pilot tests of the data panel against a real PostgreSQL (tests/fixtures/postgres.py):
migration history, backups in the backups directory and long transactions shown, hostile
migration names and query text inert, the DSN's password never on screen; readonly: the
backend is built readonly and refuses a write."""
from __future__ import annotations

import asyncio
import re

import psycopg
import pytest

from cockpit.errors import ReadonlyError
from tests.fixtures.postgres import PASSWORD
from tests.ui.fakes import HOSTILE, args
from tests.ui.test_comms import screen_text
from tests.ui.test_flows import settings, state_home, until, world  # noqa: F401 — fixtures

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("postgres")]
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
EVIL = HOSTILE[0] + " " + HOSTILE[2] + HOSTILE[4]  # [@click=app.quit], ESC/OSC, bidi


@pytest.fixture
def seeded(postgres_server, pg_db, pg_password_dsn, tmp_path):
    """Django and Alembic migration tables (one hostile name), a real pg_dump backup, and
    the password role allowed to read them."""
    dbname = pg_db.split("dbname=")[1].split()[0]
    with postgres_server.admin(dbname) as conn:
        conn.execute("CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY)")
        conn.execute("INSERT INTO alembic_version VALUES ('3f2a1b9c0d17')")
        conn.execute("CREATE TABLE django_migrations (id serial PRIMARY KEY, app varchar(255), name varchar(255), "
                     "applied timestamptz)")
        conn.execute("INSERT INTO django_migrations (app, name, applied) VALUES ('orders', '0041_refunds', now() - "
                     "interval '2 days'), ('orders', %s, now())", (EVIL,))
        conn.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO cockpit_pw")
    from backends.postgres.client import PostgresBackend

    backups = tmp_path / "backups"
    PostgresBackend(pg_db).backup_now(backups)
    return pg_password_dsn, backups


def data_env(dsn: str, backups) -> dict[str, str]:
    return {"COCKPIT_DATA__POSTGRES_DSN": dsn, "COCKPIT_DATA__BACKUPS_DIR": str(backups),
            "COCKPIT_DATA__LONG_TX_OLDER_THAN_S": "0"}


def test_data_panel_shows_migrations_backups_long_transactions(world, state_home, seeded):  # noqa: F811
    dsn, backups = seeded
    holder = psycopg.connect(dsn, application_name=EVIL[:60])
    holder.execute("SELECT %s::text AS evil", (EVIL,))  # leaves the transaction open: idle in transaction
    holder.execute(f"SELECT '{EVIL.replace(chr(39), '')}' AS evil")

    async def go():
        from cockpit.app import CockpitApp

        app = CockpitApp(args(drill=True, scenario="bad-image"), settings=settings(**data_env(dsn, backups)),
                         world_factory=lambda *a, **k: world)
        async with app.run_test(size=(140, 48)) as pilot:
            await until(pilot, lambda: app.session is not None)
            await pilot.press("D")
            await until(pilot, lambda: app.data.data_snapshot is not None and app.data.data_snapshot.long_tx, timeout=20)
            snap = app.data.data_snapshot
            assert not snap.errors
            names = [m.name for h in snap.migrations for m in h.migrations]
            assert "3f2a1b9c0d17" in names and "orders.0041_refunds" in names
            assert {h.framework for h in snap.migrations} == {"alembic", "django"}
            assert len(snap.backups) == 1 and snap.backups[0].sha256
            tx = next(t for t in snap.long_tx if t.pid == holder.info.backend_pid)
            assert tx.state == "idle in transaction" and "[@click=app.quit]" in tx.query
            await until(pilot, lambda: "3f2a1b9c0d17" in screen_text(app) and snap.backups[0].path.name[:30] in screen_text(app)
                        and "[@click=app.quit]" in screen_text(app), what="the data panel on screen")
            await pilot.click("#data-targets")  # a click on anything must not trigger data-borne actions
            await pilot.pause(0.2)
            assert app.is_running
            shown = screen_text(app)
            assert "3f2a1b9c0d17" in shown and snap.backups[0].path.name[:30] in shown
            assert "[@click=app.quit]" in shown  # literal, not an action
            assert not CONTROL.search(shown.replace("\n", "")), "a control character reached the screen"
            assert PASSWORD not in shown and "cockpit_pw:***@" in shown
            assert PASSWORD not in app.export_screenshot()

    try:
        asyncio.run(go())
    finally:
        holder.close()


def test_readonly_data_backend_refuses(world, state_home, seeded, tmp_path):  # noqa: F811
    dsn, backups = seeded
    kubeconfig = world.write_kubeconfig(tmp_path / "kc")
    holder = psycopg.connect(dsn)
    holder.execute("SELECT 1")

    async def go():
        from cockpit.app import CockpitApp

        app = CockpitApp(args(readonly=True, kubeconfig=str(kubeconfig)), settings=settings(**data_env(dsn, backups)))
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.session is not None)
            await pilot.press("D")
            await until(pilot, lambda: app.data.data_snapshot is not None)
            pg = app.datalayer.postgres
            assert pg.readonly
            with pytest.raises(ReadonlyError):
                pg.terminate_backend(holder.info.backend_pid)
            assert app.screen.check_action("invalidate", ()) is False
        assert holder.execute("SELECT 2").fetchone() == (2,)  # still alive

    try:
        asyncio.run(go())
    finally:
        holder.close()
