"""Records for the archive tests: realistic pool syncs and executions, and random records of every schema."""

from __future__ import annotations

from typing import Any

from fastavro.utils import generate_many

from schemas.serde import codec, i256, u256

T0 = 1_760_000_000_000_000_000  # ns since epoch (2025-10-09)


def pool_sync(i: int) -> dict[str, Any]:
    """The i-th pool sync: distinct (pool, sequence) per i, exact 256-bit reserves."""
    return {
        "source": 4,
        "sequence": i,
        "timestamp_ns": T0 + i * 1_000,
        "pool": f"0x{i % 7:040x}",
        "venue": 300,
        "token0": "0x" + "a" * 40,
        "token1": "0x" + "b" * 40,
        "token0_decimals": 18,
        "token1_decimals": 6,
        "reserve0": u256(10**70 + i),
        "reserve1": u256(2 * 10**12 + i),
        "block_number": 1_000 + i // 4,
        "event_timestamp_ns": T0,
        "trace": {
            "relay_ns": T0 + i * 1_000,
            "bridge_in_ns": T0 + i * 1_000 + 500_000,
            "bridge_out_ns": T0 + i * 1_000 + 600_000,
        },
    }


def execution(opp: str, executed_ns: int, realized: int, strategy: str = "cross_dex", status: str = "mined") -> dict:
    """An arb.execution record of opportunity ``opp``."""
    return {
        "opportunity_id": opp,
        "flow": "exec",
        "strategy": strategy,
        "pair": "0xaaa/0xbbb",
        "status": status,
        "tx_hash": "0x" + "1" * 64,
        "block_number": 7,
        "gas_used": 150_000,
        "effective_gas_price": u256(30 * 10**9),
        "token_in": "0xaaa",
        "amount_in": u256(10**18),
        "realized_amount_out": u256(10**18 + realized),
        "predicted_profit": i256(realized + 5),
        "realized_profit": i256(realized),
        "gas_cost_wei": u256(4_500_000 * 10**9),
        "revert_reason": None,
        "executed_ns": executed_ns,
        "trace": {
            "decision_ns": executed_ns - 3_000_000,
            "exec_accepted_ns": executed_ns - 2_000_000,
            "exec_receipt_ns": executed_ns,
        },
    }


def _small(value: Any) -> Any:
    """Random ints made to fit every column type (UInt8 sources, UInt16 venues)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return abs(value) % 250
    if isinstance(value, dict):
        return {k: _small(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_small(v) for v in value]
    return value


def random_records(topic: str, n: int) -> list[dict[str, Any]]:
    """``n`` random records valid for ``topic``'s schema."""
    recs = [_small(r) for r in generate_many(codec(topic).schema, n)]
    if topic == "market.pool_liquidity":
        for r in recs:
            r["kind"] = "mint"
    return recs


def encode(topic: str, records: list[dict[str, Any]]) -> list[bytes]:
    """Avro single-object payloads."""
    c = codec(topic)
    return [c.encode(r) for r in records]
