"""The execution ledger: what was decided and sent, persisted before anything is broadcast (SQLite).

One file per risk_execution flow, ``<state dir>/risk_execution/<flow>.sqlite``, holding:

- ``decisions``: the encoded ``arb.decision`` record of every opportunity id decided (re-emitted unchanged when a
  replay brings the id again, so a record lost in a crash reaches Kafka and nothing is decided twice);
- ``executions``: one row per opportunity id ever sent, written (and fsynced) *before* its transaction is
  broadcast, with the nonce, every signed attempt (the raw transaction is public data: no key) and, once final,
  the encoded ``arb.execution`` record. A row here means "never send this id again", across restarts;
- ``risk_state``: the risk state (trades in flight, cooldowns, daily PnL, breaker), saved in the same
  transaction as the decision or outcome that changed it.

A second process on the same ledger is refused (an exclusive ``flock`` on ``<file>.lock``): the nonce manager
and the ledger are single-writer by design.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sqlite3
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from base.errors import StackError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS decisions (
    opportunity_id TEXT PRIMARY KEY, decided_ns INTEGER NOT NULL, accepted INTEGER NOT NULL,
    reason TEXT NOT NULL, record BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS executions (
    opportunity_id TEXT PRIMARY KEY, state TEXT NOT NULL, nonce INTEGER, body TEXT NOT NULL,
    created_ns INTEGER NOT NULL, updated_ns INTEGER NOT NULL, record BLOB
);
CREATE TABLE IF NOT EXISTS risk_state (id INTEGER PRIMARY KEY CHECK (id = 1), state TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS decisions_by_time ON decisions (decided_ns);
"""

# Execution row states: signed and persisted, broadcast not confirmed / accepted by the node / final.
SENDING, PENDING, FINAL = "sending", "pending", "final"


@dataclass(frozen=True, slots=True)
class Attempt:
    """One signed transaction for an opportunity (the original, a fee-bumped replacement, or a cancellation).

    Attributes:
        tx_hash: 0x hex.
        raw: the signed transaction, hex (public once broadcast).
        kind: ``execute``, ``flash`` or ``cancel``.
        max_fee_per_gas: wei per gas.
        max_priority_fee_per_gas: wei per gas.
        sent_ns: when it was handed to the node, ns since epoch (0 until then).
    """

    tx_hash: str
    raw: str
    kind: str
    max_fee_per_gas: int
    max_priority_fee_per_gas: int
    sent_ns: int = 0


@dataclass(frozen=True, slots=True)
class Entry:
    """An execution row.

    Attributes:
        opportunity_id: the id.
        state: ``sending``, ``pending`` or ``final``.
        nonce: the nonce every attempt uses.
        attempts: signed transactions, oldest first.
        context: what the execution record needs without the opportunity (plan, predicted amounts, trace...).
        record: the encoded ``arb.execution`` record once final.
    """

    opportunity_id: str
    state: str
    nonce: int | None
    attempts: tuple[Attempt, ...] = ()
    context: Mapping[str, Any] = field(default_factory=dict)
    record: bytes | None = None


def _attempt_dict(a: Attempt) -> dict[str, Any]:
    return {
        "tx_hash": a.tx_hash,
        "raw": a.raw,
        "kind": a.kind,
        "max_fee_per_gas": str(a.max_fee_per_gas),
        "max_priority_fee_per_gas": str(a.max_priority_fee_per_gas),
        "sent_ns": a.sent_ns,
    }


def _attempt(d: Mapping[str, Any]) -> Attempt:
    return Attempt(
        d["tx_hash"], d["raw"], d["kind"], int(d["max_fee_per_gas"]), int(d["max_priority_fee_per_gas"]), d["sent_ns"]
    )


class Ledger:
    """The SQLite ledger of one flow.

    Args:
        path: the database file (its directory is created with mode 0700).

    Raises:
        StackError: another process holds the ledger.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._lock_fd = os.open(f"{self.path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(self._lock_fd, 32).decode(errors="replace").strip() or "?"
            os.close(self._lock_fd)
            msg = (
                f"ledger {self.path} is in use by another process (pid {holder}): one risk_execution process per "
                "state directory and signing key; stop the other one first"
            )
            raise StackError(msg) from None
        os.ftruncate(self._lock_fd, 0)
        os.write(self._lock_fd, str(os.getpid()).encode())
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        self._synchronous = ""

    @contextlib.contextmanager
    def _tx(self, durable: bool = True) -> Iterator[sqlite3.Connection]:
        # FULL fsyncs the write-ahead log at commit: execution rows are on disk before their transaction is
        # broadcast. Decisions commit with NORMAL (no fsync of their own): the next durable commit, or the OS,
        # writes them, and a decision lost in a power cut is only decided again.
        mode = "FULL" if durable else "NORMAL"
        if mode != self._synchronous:
            self._db.execute(f"PRAGMA synchronous={mode}")
            self._synchronous = mode
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def close(self) -> None:
        """Close the database and release the lock."""
        self._db.close()
        with contextlib.suppress(OSError):
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)

    # risk state ---------------------------------------------------------------------------------------------
    def risk_state(self) -> dict[str, Any] | None:
        """The saved risk state (JSON-ready dict), or None."""
        row = self._db.execute("SELECT state FROM risk_state WHERE id = 1").fetchone()
        return json.loads(row[0]) if row else None

    def _save_state(self, db: sqlite3.Connection, state: Mapping[str, Any] | None) -> None:
        if state is not None:
            db.execute("INSERT OR REPLACE INTO risk_state (id, state) VALUES (1, ?)", (json.dumps(state),))

    def save_risk_state(self, state: Mapping[str, Any]) -> None:
        """Save the risk state alone."""
        with self._tx() as db:
            self._save_state(db, state)

    # decisions ----------------------------------------------------------------------------------------------
    def decision(self, opportunity_id: str) -> bytes | None:
        """The stored decision record of an id, or None if it was never decided."""
        row = self._db.execute("SELECT record FROM decisions WHERE opportunity_id = ?", (opportunity_id,)).fetchone()
        return bytes(row[0]) if row else None

    def record_decision(
        self,
        opportunity_id: str,
        decided_ns: int,
        accepted: bool,
        reason: str,
        record: bytes,
        state: Mapping[str, Any] | None = None,
    ) -> None:
        """Store a decision (and the risk state it produced) in one transaction (not fsynced on its own)."""
        with self._tx(durable=False) as db:
            db.execute(
                "INSERT OR IGNORE INTO decisions VALUES (?, ?, ?, ?, ?)",
                (opportunity_id, decided_ns, int(accepted), reason, record),
            )
            self._save_state(db, state)

    def prune_decisions(self, older_than_ns: int) -> int:
        """Forget decisions older than ``older_than_ns`` (beyond the input topic's retention); returns the count."""
        with self._tx() as db:
            return db.execute("DELETE FROM decisions WHERE decided_ns < ?", (older_than_ns,)).rowcount

    # executions ---------------------------------------------------------------------------------------------
    def _entry(self, row: tuple[Any, ...]) -> Entry:
        body = json.loads(row[3])
        return Entry(
            opportunity_id=row[0],
            state=row[1],
            nonce=row[2],
            attempts=tuple(_attempt(a) for a in body.get("attempts", [])),
            context=body.get("context", {}),
            record=bytes(row[4]) if row[4] is not None else None,
        )

    def execution(self, opportunity_id: str) -> Entry | None:
        """The execution row of an id, or None if it was never sent."""
        row = self._db.execute(
            "SELECT opportunity_id, state, nonce, body, record FROM executions WHERE opportunity_id = ?",
            (opportunity_id,),
        ).fetchone()
        return self._entry(row) if row else None

    def unfinished(self) -> list[Entry]:
        """Rows not final yet (sent before a stop or crash), oldest nonce first."""
        rows = self._db.execute(
            "SELECT opportunity_id, state, nonce, body, record FROM executions WHERE state != ? ORDER BY nonce",
            (FINAL,),
        ).fetchall()
        return [self._entry(r) for r in rows]

    def write_execution(self, entry: Entry, now_ns: int, state: Mapping[str, Any] | None = None) -> None:
        """Insert or update an execution row (and the risk state) in one durable transaction."""
        body = json.dumps({"attempts": [_attempt_dict(a) for a in entry.attempts], "context": dict(entry.context)})
        with self._tx() as db:
            db.execute(
                "INSERT INTO executions VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (opportunity_id) DO UPDATE SET "
                "state = excluded.state, nonce = excluded.nonce, body = excluded.body, "
                "updated_ns = excluded.updated_ns, record = excluded.record",
                (entry.opportunity_id, entry.state, entry.nonce, body, now_ns, now_ns, entry.record),
            )
            self._save_state(db, state)

    def counts(self) -> dict[str, int]:
        """Rows per execution state (for status displays)."""
        return dict(self._db.execute("SELECT state, count(*) FROM executions GROUP BY state").fetchall())


def read_summary(path: Path) -> dict[str, Any]:
    """Read a ledger without taking its lock (read-only, safe while the flow runs): risk state and row counts."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        row = db.execute("SELECT state FROM risk_state WHERE id = 1").fetchone()
        counts = dict(db.execute("SELECT state, count(*) FROM executions GROUP BY state").fetchall())
        decided = db.execute("SELECT count(*) FROM decisions").fetchone()[0]
    finally:
        db.close()
    return {"risk_state": json.loads(row[0]) if row else None, "executions": counts, "decisions": decided}
