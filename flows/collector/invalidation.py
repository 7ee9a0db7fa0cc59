"""Which followed pools a StateInvalidation names (``market.invalidation`` records; pure).

AlphaPulse's adapters send a StateInvalidation TLV (type 106) when their state of some instruments can no longer
be trusted (a disconnect, a sequence gap). Its instruments are 12-byte InstrumentIds, which name a pool by a hash
of its venue and tokens, never by its address (docs/protocol.md): a pool instrument matches every followed pool
of that venue whose :meth:`~flows.relay.protocol.InstrumentId.pool` id is the same (two fee tiers of one pair
share it; both are re-seeded), a token instrument every pool holding that token. An invalidation that lists no
instrument covers its whole venue: the pools of that DEX venue, or every pool when the venue is a chain (200-299)
or GENERIC (0).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flows.collector.state import PoolInfo
from flows.relay.protocol import AssetType, InstrumentId

_U64 = 1 << 64


def pool_instrument(info: PoolInfo) -> InstrumentId:
    """The InstrumentId AlphaPulse gives this pool (venue, and the lossy token ids of its two tokens)."""
    return InstrumentId.pool(
        info.venue, InstrumentId.token(info.venue, info.token0), InstrumentId.token(info.venue, info.token1)
    )


def token_asset_id(token: str) -> int:
    """The asset id of a token's InstrumentId (the first 8 bytes of its address)."""
    return InstrumentId.token(0, token).asset_id


def _whole_venue(venue: int) -> bool:
    return venue == 0 or 200 <= venue < 300


def invalidated_pools(record: Mapping[str, Any], pools: Mapping[str, PoolInfo]) -> set[str]:
    """The followed pools a ``market.invalidation`` record names.

    Args:
        record: the decoded record (``venue``, ``instruments`` with signed 64-bit ``asset_id``).
        pools: followed pools by address.
    """
    venue = record["venue"]
    instruments = record.get("instruments") or []
    if not instruments:
        return {p for p, info in pools.items() if _whole_venue(venue) or info.venue == venue}
    wanted_pools: set[tuple[int, int]] = set()
    wanted_tokens: set[int] = set()
    for inst in instruments:
        asset_id = inst["asset_id"] % _U64  # the record holds the u64 as a two's-complement int64
        if inst["asset_type"] == AssetType.POOL:
            wanted_pools.add((inst["venue"], asset_id))
        elif inst["asset_type"] in (AssetType.TOKEN, AssetType.STABLE_COIN, AssetType.WRAPPED_TOKEN):
            wanted_tokens.add(asset_id)
    out = set()
    for p, info in pools.items():
        named = (info.venue, pool_instrument(info).asset_id) in wanted_pools
        if named or wanted_tokens & {token_asset_id(info.token0), token_asset_id(info.token1)}:
            out.add(p)
    return out
