"""A pool's exact on-chain state as the collector holds it, and how each log changes it (pure).

- V2 (:class:`V2State`): ``Sync`` sets both reserves (it is emitted after every change of them).
- V3 (:class:`V3State`): ``Swap`` sets ``sqrtPriceX96``, ``tick`` and the active liquidity to the values it
  carries (the pool's state after the swap); ``Initialize`` sets price and tick; ``Mint`` and ``Burn`` are
  ``UniswapV3Pool._modifyPosition``: ``liquidityGross`` of both ticks moves by the amount, ``liquidityNet`` moves
  by ``+amount`` at the lower tick and ``-amount`` at the upper one (negated for a burn), a tick whose gross
  liquidity returns to zero is cleared (``ticks.clear``, its bitmap bit flipped off), and the active liquidity
  moves when ``tick_lower <= tick < tick_upper``. A burn of 0 is a poke: nothing changes.

Ticks keep ``liquidityGross`` as well as ``liquidityNet``: a tick is initialized while its gross liquidity is
non-zero, even when its net is 0 (two adjacent positions of equal liquidity), and the swap loop stops at every
initialized tick, so dropping such a tick would change swap amounts by a few wei.

States are mutable and owned by one :class:`~flows.collector.engine.Collector` (following applies thousands of
logs a second); :meth:`V3State.net_map` is the frozen view that is published.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flows.amm.v3.pool import FrozenIntMap
from flows.collector.abi import Burn, ChainEvent, Initialize, Mint, Swap, Sync

V2 = "v2"
V3 = "v3"


@dataclass(frozen=True, slots=True)
class PoolInfo:
    """What does not change about a pool, read and checked once when it is first followed.

    Attributes:
        address: pool address, lower-case hex.
        kind: ``v2`` (constant product) or ``v3`` (concentrated liquidity).
        factory: the configured factory that created it.
        venue: VenueId of its factory.
        pool_type: PoolState ``pool_type`` number published for it.
        token0: token0 address.
        token1: token1 address.
        token0_decimals: ``decimals()`` of token0.
        token1_decimals: ``decimals()`` of token1.
        fee: V2: swap fee in bps (from the factory's configuration); V3: ``fee()`` in pips.
        tick_spacing: V3 ``tickSpacing()`` (0 for V2).
        created_block: block of the PairCreated/PoolCreated log it was discovered by (0: configured or seeded).
    """

    address: str
    kind: str
    factory: str
    venue: int
    pool_type: int
    token0: str
    token1: str
    token0_decimals: int
    token1_decimals: int
    fee: int
    tick_spacing: int = 0
    created_block: int = 0

    @property
    def fee_bps(self) -> int:
        """The fee in bps (a V3 fee in pips / 100; only whole bps are followed)."""
        return self.fee if self.kind == V2 else self.fee // 100


@dataclass(slots=True)
class V2State:
    """A V2 pair's ``getReserves()`` (the timestamp is not kept: swaps do not read it)."""

    reserve0: int
    reserve1: int


@dataclass(slots=True)
class V3State:
    """What a V3 swap reads: ``slot0`` price and tick, ``liquidity()``, and every initialized tick.

    Attributes:
        sqrt_price_x96: ``slot0.sqrtPriceX96``.
        tick: ``slot0.tick``.
        liquidity: the active liquidity.
        ticks: initialized tick -> ``(liquidityGross, liquidityNet)``.
    """

    sqrt_price_x96: int
    tick: int
    liquidity: int
    ticks: dict[int, tuple[int, int]] = field(default_factory=dict)

    def net_map(self) -> FrozenIntMap:
        """Every initialized tick -> its ``liquidityNet`` (zeros included: they are initialized ticks)."""
        return FrozenIntMap({t: net for t, (_, net) in self.ticks.items()})

    def copy(self) -> V3State:
        """An independent copy (the tick map is copied)."""
        return V3State(self.sqrt_price_x96, self.tick, self.liquidity, dict(self.ticks))


PoolChainState = V2State | V3State


class Inconsistent(ValueError):
    """A log cannot follow the state held (a burn of more than the tick holds): the state must be re-seeded."""


def _update_tick(ticks: dict[int, tuple[int, int]], tick: int, gross_delta: int, net_delta: int) -> None:
    gross, net = ticks.get(tick, (0, 0))
    gross += gross_delta
    if gross < 0:
        msg = f"tick {tick}: liquidityGross would go below zero"
        raise Inconsistent(msg)
    if gross == 0:
        ticks.pop(tick, None)  # flipped off and cleared (UniswapV3Pool._updatePosition: ticks.clear)
    else:
        ticks[tick] = (gross, net + net_delta)


def apply_event(state: PoolChainState, event: ChainEvent) -> bool:
    """Apply one log of the pool to its state, in place.

    Args:
        state: the pool's state, as of just before the log.
        event: the decoded log (events of the other pool kind, and factory events, change nothing).

    Returns:
        True when the tick map changed (a mint or a non-zero burn), so the next published state carries it.

    Raises:
        Inconsistent: the log cannot follow this state (the state was wrong: re-seed it).
    """
    if isinstance(state, V2State):
        if isinstance(event, Sync):
            state.reserve0, state.reserve1 = event.reserve0, event.reserve1
        return False
    if isinstance(event, Swap):
        state.sqrt_price_x96, state.liquidity, state.tick = event.sqrt_price_x96, event.liquidity, event.tick
        return False
    if isinstance(event, Mint | Burn):
        if event.amount == 0:
            return False  # a poke (the pool's mint refuses 0, so this is a Burn)
        delta = event.amount if isinstance(event, Mint) else -event.amount
        if event.tick_lower >= event.tick_upper:
            msg = f"position [{event.tick_lower}, {event.tick_upper}) is empty"
            raise Inconsistent(msg)
        _update_tick(state.ticks, event.tick_lower, delta, delta)
        _update_tick(state.ticks, event.tick_upper, delta, -delta)
        if event.tick_lower <= state.tick < event.tick_upper:
            state.liquidity += delta
            if state.liquidity < 0:
                msg = "active liquidity would go below zero"
                raise Inconsistent(msg)
        return True
    if isinstance(event, Initialize):
        state.sqrt_price_x96, state.tick = event.sqrt_price_x96, event.tick
    return False


def differences(pool: str, held: PoolChainState | None, chain: PoolChainState | None) -> list[str]:
    """Every way ``held`` differs from ``chain`` (a state read directly from the chain), one line each.

    Empty when they are equal: reserves, or price, tick, active liquidity and every initialized tick's gross and
    net liquidity.
    """
    if held is None or chain is None:
        return [] if held is chain else [f"{pool}: held {held!r}, chain {chain!r}"]
    if type(held) is not type(chain):
        return [f"{pool}: held a {type(held).__name__}, the chain has a {type(chain).__name__}"]
    out = []
    if isinstance(held, V2State):
        assert isinstance(chain, V2State)
        if (held.reserve0, held.reserve1) != (chain.reserve0, chain.reserve1):
            out.append(f"{pool}: reserves {held.reserve0}/{held.reserve1}, chain {chain.reserve0}/{chain.reserve1}")
        return out
    assert isinstance(held, V3State) and isinstance(chain, V3State)
    for name in ("sqrt_price_x96", "tick", "liquidity"):
        a, b = getattr(held, name), getattr(chain, name)
        if a != b:
            out.append(f"{pool}: {name} {a}, chain {b}")
    for t in sorted(set(held.ticks) | set(chain.ticks)):
        a, b = held.ticks.get(t), chain.ticks.get(t)
        if a != b:
            out.append(f"{pool}: tick {t} (gross, net) {a}, chain {b}")
    return out
