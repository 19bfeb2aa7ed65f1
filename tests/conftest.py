"""Shared fixtures. Each real server lives in its own plugin module under tests/fixtures/."""

pytest_plugins = [
    "tests.fixtures.prometheus",
    "tests.fixtures.world",
    "tests.fixtures.postgres",
    "tests.fixtures.redis",
    "tests.fixtures.docker",
    "tests.fixtures.receiver",
]
