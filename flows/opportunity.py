"""The arbitrage opportunity record and its deterministic id (pure, no I/O).

Inputs are market states: pool states (``pool`` is the pool address) or CEX quotes (``pool`` is the instrument,
``block_number`` 0). The opportunity's ``pair`` is its join key's token pair (sorted addresses joined by '/'); a
triangular cycle's is its three tokens sorted and joined by '/'.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from flows.amm.profit import NativePrice


@dataclass(frozen=True, slots=True)
class InputState:
    """Identity of one pool state an opportunity was computed from."""

    pool: str
    block_number: int
    source: int
    sequence: int
    timestamp_ns: int


@dataclass(frozen=True, slots=True)
class Opportunity:
    """A sized arbitrage cycle, net of costs. Amounts are raw units of ``token_in``; times ns since epoch."""

    id: str
    flow: str
    strategy: str
    pair: str
    chain_id: int
    token_in: str
    token_in_decimals: int
    path: tuple[str, ...]
    pools: tuple[str, ...]
    venues: tuple[int, ...]
    fees_bps: tuple[int, ...]
    amount_in: int
    amount_out: int
    gas_estimate: int
    gas_price_wei: int
    gas_cost: int
    flash_fee: int
    gross_profit_usd: float
    net_profit_usd: float
    inputs: tuple[InputState, ...]
    block_number: int
    detected_ns: int
    valid_until_ns: int
    kinds: tuple[str, ...] = ()
    """Each hop's pool kind, ``v2`` (constant product) or ``v3`` (concentrated liquidity); a CEX leg is ``cex``.
    Empty: not stated (a record written before kinds existed), read as every hop ``v2`` (:attr:`hop_kinds`)."""
    trace: dict[str, int] = field(default_factory=dict, compare=False)
    native_price: NativePrice | None = field(default=None, compare=False)
    """Price of 1 wei of the gas token in raw ``token_in`` units the gas cost was converted at (not serialized)."""

    @property
    def hop_kinds(self) -> tuple[str, ...]:
        """``kinds``, or ``v2`` for every pool when the record does not state them."""
        return self.kinds or ("v2",) * len(self.pools)

    @property
    def gross_profit(self) -> int:
        """amount_out - amount_in (raw units of token_in)."""
        return self.amount_out - self.amount_in

    @property
    def net_profit(self) -> int:
        """Gross profit less gas cost and flash-loan fee (raw units of token_in)."""
        return self.gross_profit - self.gas_cost - self.flash_fee


def opportunity_id(flow: str, strategy: str, states: Sequence[Any], path: Sequence[str]) -> str:
    """Deterministic id: a hash of flow, strategy, path and each input pool's (pool, block, source, sequence).

    A replay of the same inputs yields the same id, so the executor and the archive deduplicate on it.
    """
    h = hashlib.sha256()
    h.update(f"{flow}|{strategy}|{'>'.join(path)}".encode())
    for s in states:
        h.update(f"|{s.pool}:{s.block_number}:{s.source}:{s.sequence}:{s.timestamp_ns}".encode())
    return h.hexdigest()[:32]


def input_states(states: Sequence[Any]) -> tuple[InputState, ...]:
    """The identities of the market states used (pool address or CEX instrument, block, source, sequence, time)."""
    return tuple(InputState(s.pool, s.block_number, s.source, s.sequence, s.timestamp_ns) for s in states)


def to_record(opp: Opportunity) -> dict[str, Any]:
    """Avro-ready record of ``arb.opportunity`` (amounts as UInt256/Int256 bytes)."""
    from schemas.serde import i256, u256

    return {
        "id": opp.id,
        "flow": opp.flow,
        "strategy": opp.strategy,
        "pair": opp.pair,
        "chain_id": opp.chain_id,
        "token_in": opp.token_in,
        "token_in_decimals": opp.token_in_decimals,
        "path": list(opp.path),
        "pools": list(opp.pools),
        "venues": list(opp.venues),
        "fees_bps": list(opp.fees_bps),
        "kinds": list(opp.kinds),
        "amount_in": u256(opp.amount_in),
        "amount_out": u256(opp.amount_out),
        "gross_profit": i256(opp.gross_profit),
        "net_profit": i256(opp.net_profit),
        "gas_estimate": opp.gas_estimate,
        "gas_price_wei": u256(opp.gas_price_wei),
        "gas_cost": u256(opp.gas_cost),
        "flash_fee": u256(opp.flash_fee),
        "gross_profit_usd": opp.gross_profit_usd,
        "net_profit_usd": opp.net_profit_usd,
        "inputs": [
            {
                "pool": i.pool,
                "block_number": i.block_number,
                "source": i.source,
                "sequence": i.sequence,
                "timestamp_ns": i.timestamp_ns,
            }
            for i in opp.inputs
        ],
        "block_number": opp.block_number,
        "detected_ns": opp.detected_ns,
        "valid_until_ns": opp.valid_until_ns,
        "trace": dict(opp.trace),
    }


def from_record(rec: dict[str, Any]) -> Opportunity:
    """Inverse of :func:`to_record` (net and gross profit are derived, so they are not read back)."""
    from schemas.serde import from_u256

    return Opportunity(
        id=rec["id"],
        flow=rec["flow"],
        strategy=rec["strategy"],
        pair=rec["pair"],
        chain_id=rec["chain_id"],
        token_in=rec["token_in"],
        token_in_decimals=rec["token_in_decimals"],
        path=tuple(rec["path"]),
        pools=tuple(rec["pools"]),
        venues=tuple(rec["venues"]),
        fees_bps=tuple(rec["fees_bps"]),
        amount_in=from_u256(rec["amount_in"]),
        amount_out=from_u256(rec["amount_out"]),
        gas_estimate=rec["gas_estimate"],
        gas_price_wei=from_u256(rec["gas_price_wei"]),
        gas_cost=from_u256(rec["gas_cost"]),
        flash_fee=from_u256(rec["flash_fee"]),
        gross_profit_usd=rec["gross_profit_usd"],
        net_profit_usd=rec["net_profit_usd"],
        inputs=tuple(InputState(**i) for i in rec["inputs"]),
        block_number=rec["block_number"],
        detected_ns=rec["detected_ns"],
        valid_until_ns=rec["valid_until_ns"],
        kinds=tuple(rec.get("kinds", ())),
        trace=dict(rec.get("trace", {})),
    )
