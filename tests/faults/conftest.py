"""The fault tests' fixtures: the fault-injecting proxy (tests/fixtures/faultproxy.py)."""
from tests.fixtures.faultproxy import fault_proxy  # noqa: F401 — a fixture
