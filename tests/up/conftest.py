"""The execution tests' deployment on anvil (genuine contracts, reverted after each test), for the market tests."""

from tests.execution.conftest import _env, env, ledger  # noqa: F401 - fixtures used by tests/up/test_competition.py
