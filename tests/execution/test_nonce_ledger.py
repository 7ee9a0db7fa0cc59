"""Nonce manager and ledger: local counting, resync, durable rows, one process per ledger."""

from __future__ import annotations

from pathlib import Path

import pytest

from base.errors import StackError
from flows.execution.ledger import FINAL, SENDING, Attempt, Entry, Ledger, read_summary
from flows.execution.nonce import NonceManager


def test_nonce_manager_counts_locally_and_resyncs() -> None:
    chain = [5]
    nonces = NonceManager(lambda: chain[0])
    assert [nonces.allocate(), nonces.allocate()] == [5, 6]
    nonces.release(6)
    assert nonces.allocate() == 6
    chain[0] = 9
    assert nonces.resync() == 9 and nonces.allocate() == 9 and nonces.resyncs == 1


def test_ledger_persists_and_locks(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    ledger = Ledger(path)
    with pytest.raises(StackError, match="in use by another process"):
        Ledger(path)
    ledger.record_decision("a", 1, True, "accepted", b"rec", {"consecutive_failures": 2})
    attempt = Attempt("0x01", "ff", "execute", 10, 1, 0)
    ledger.write_execution(Entry("a", SENDING, 3, (attempt,), {"pair": "p"}), 5)
    ledger.close()
    again = Ledger(path)
    try:
        assert again.decision("a") == b"rec" and again.decision("b") is None
        assert again.risk_state() == {"consecutive_failures": 2}
        [entry] = again.unfinished()
        assert (entry.nonce, entry.attempts, entry.context) == (3, (attempt,), {"pair": "p"})
        again.write_execution(Entry("a", FINAL, 3, (attempt,), {}, b"done"), 6)
        assert again.unfinished() == [] and again.execution("a").record == b"done"
        assert read_summary(path)["executions"] == {FINAL: 1}
        assert again.prune_decisions(2) == 1 and again.decision("a") is None
    finally:
        again.close()
