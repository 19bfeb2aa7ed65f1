"""Shared fixtures. Each real server lives in its own plugin module under tests/fixtures/.

No test writes into the real state directory: before anything imports ``cockpit.journal``
(this file is loaded first), the suite points ``XDG_STATE_HOME`` at a session-wide temporary
directory, removed at the end of the session. A test that needs its own sets it with
``monkeypatch.setenv`` (restored to the session's afterwards) or passes it to a subprocess.
"""
from __future__ import annotations

import os
import shutil
import tempfile

SESSION_STATE_HOME = tempfile.mkdtemp(prefix="cockpit-test-state-")
REAL_STATE_HOME = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
os.environ["XDG_STATE_HOME"] = SESSION_STATE_HOME
# Every `python -m cockpit` a test starts imports *this* tree, wherever the editable install
# points (a second checkout, a CI clone): PYTHONPATH comes before the editable finder.
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ["PYTHONPATH"] = os.pathsep.join([_ROOT, *filter(None, [os.environ.get("PYTHONPATH")])])

# Hypothesis's 200 ms per-example deadline is a timing assert: on a loaded 2-core CI machine an
# example that takes 0.3 ms idle took 349 ms once. Speed lives in bench/, not in the properties.
from hypothesis import settings as _hypothesis  # noqa: E402

_hypothesis.register_profile("cockpit", deadline=None)
_hypothesis.load_profile("cockpit")

pytest_plugins = [
    "tests.fixtures.prometheus",
    "tests.fixtures.world",
    "tests.fixtures.postgres",
    "tests.fixtures.mariadb",
    "tests.fixtures.redis",
    "tests.fixtures.memcached",
    "tests.fixtures.docker",
    "tests.fixtures.receiver",
    "tests.fixtures.haproxy",
    "tests.fixtures.moto",
    "tests.fixtures.unleash",
]


def pytest_unconfigure(config: object) -> None:
    shutil.rmtree(SESSION_STATE_HOME, ignore_errors=True)
