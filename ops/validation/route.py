"""The cycle a ``--pools`` run trades, sized from the pools' exact states with pulsearb's own math (pure).

The user names the two or three pools of one cycle, V2 and V3 in any mix: two pools of the same token pair, or
three pools forming a triangle (each pair of pools shares one token). From the start token, the cycle can run in
two directions; each is sized with :func:`flows.strategies.legs.size_cycle`, the detector's sizing (V2 cycles by
the proven closed form :func:`flows.amm.cycle.optimal_input`, cycles with a V3 leg by
:func:`flows.amm.mixed.optimal_input_mixed`, re-run leg by leg with the integer formulas).

The traded input is ``--amount-in`` if given, else the optimum of a direction that pays, else a *probe*: a
thousandth of what the first pool holds of the start token (a V3 pool's virtual reserve in its active range),
where a cycle that does not pay loses the least it can at a size that still moves every pool. The direction
traded is the one that ends with the most at its input. A losing prediction is still a prediction: the executor
must then refuse the trade (``PROFIT_TOO_LOW``), which is what the dry run checks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from flows.amm.cycle import Sizing
from flows.pools import PoolState
from flows.strategies.legs import amounts_along, size_cycle
from ops.simulator.chain.deploy import PairInfo

PROBE_SHARE = 1_000
"""A probe input is 1/1000 of the first pool's start-token reserve."""
_Q96 = 2**96


@dataclass(frozen=True, slots=True)
class Route:
    """One direction of the cycle: ``pools[i]`` sells ``path[i]`` for ``path[i + 1]``; ``path[0] == path[-1]``."""

    pools: tuple[PairInfo, ...]
    path: tuple[str, ...]

    @property
    def token_in(self) -> str:
        """The start (and end) token."""
        return self.path[0]


def cycle_problem(pools: Sequence[PairInfo]) -> str | None:
    """Why ``pools`` (in the order given) are not one cycle, or None when they are."""
    sets = [set(p.tokens) for p in pools]
    names = ", ".join(f"{p.address} ({p.token0}/{p.token1})" for p in pools)
    if len(pools) == 2:
        if sets[0] != sets[1]:
            return f"the two pools do not hold the same token pair, so they make no cycle: {names}"
        return None
    if len(pools) == 3:
        shared = [sets[i] & sets[(i + 1) % 3] for i in range(3)]
        if any(len(s) != 1 for s in shared) or len(set().union(*sets)) != 3:
            return f"the three pools do not form a triangle (each two sharing one token): {names}"
        return None
    return f"a cycle here is two or three pools, got {len(pools)}"


def routes(pools: Sequence[PairInfo], token_in: str) -> list[Route]:
    """Both directions of the cycle through ``pools`` from ``token_in`` (empty if it is not on the cycle)."""
    found: list[Route] = []
    n = len(pools)
    for order in (list(pools), list(reversed(pools))):
        for r in range(n):
            seq = order[r:] + order[:r]
            path = [token_in]
            for p in seq:
                if path[-1] not in p.tokens:
                    break
                path.append(p.token1 if path[-1] == p.token0 else p.token0)
            else:
                route = Route(tuple(seq), tuple(path))
                if path[-1] == token_in and len(set(path[:-1])) == n and route not in found:
                    found.append(route)
    return found


def probe_input(state: PoolState, token: str) -> int:
    """1/:data:`PROBE_SHARE` of what ``state``'s pool holds of ``token`` (at least 1 raw unit).

    A V2 pair: its reserve. A V3 pool: the virtual reserve of its active range, ``L / sqrtP`` of token0 or
    ``L * sqrtP`` of token1 (Q96 fixed point).
    """
    if state.v3 is not None:
        v3 = state.v3
        if v3.sqrt_price_x96 == 0:
            return 1
        reserve = (
            v3.liquidity * _Q96 // v3.sqrt_price_x96
            if token == state.token0
            else v3.liquidity * v3.sqrt_price_x96 // _Q96
        )
    else:
        reserve = state.reserves_for(token)[0]
    return max(1, reserve // PROBE_SHARE)


@dataclass(frozen=True, slots=True)
class Priced:
    """A direction of the cycle priced at one input.

    Attributes:
        route: the direction.
        amounts: the amount entering each pool and the last output (``amounts[0]`` the input), raw units.
        optimal: the profit-maximising sizing, None when no input pays.
        how: where the input came from: ``optimal``, ``--amount-in`` or ``probe``.
    """

    route: Route
    amounts: tuple[int, ...]
    optimal: Sizing | None
    how: str

    @property
    def amount_in(self) -> int:
        """Input, raw units of the start token."""
        return self.amounts[0]

    @property
    def amount_out(self) -> int:
        """What the cycle returns, raw units of the start token."""
        return self.amounts[-1]

    @property
    def profit(self) -> int:
        """``amount_out - amount_in`` (negative: a loss), raw units of the start token."""
        return self.amount_out - self.amount_in


def price(route: Route, states: Mapping[str, PoolState], amount_in: int | None, probe: int) -> Priced:
    """Size ``route`` on ``states`` (by pool address) and price it at the traded input (see the module doc).

    Args:
        route: the direction.
        states: every pool's exact state, by address.
        amount_in: ``--amount-in`` (None: the optimum, else ``probe``).
        probe: the input priced when no input pays (:func:`cycle_probe`).
    """
    legs = [states[p.address].leg(route.path[i]) for i, p in enumerate(route.pools)]
    found = size_cycle(legs)
    optimal = found[0] if found is not None else None
    if amount_in is not None:
        return Priced(route, amounts_along(legs, amount_in), optimal, "--amount-in")
    if found is not None:
        return Priced(route, found[1], optimal, "optimal")
    return Priced(route, amounts_along(legs, probe), None, "probe")


def cycle_probe(found: Sequence[Route], states: Mapping[str, PoolState]) -> int:
    """One probe input for every direction (so their losses compare): the smallest of their first pools'."""
    return min(probe_input(states[r.pools[0].address], r.token_in) for r in found)


def best(priced: Sequence[Priced]) -> Priced:
    """The direction that ends with the most profit (the least loss) at its input."""
    return max(priced, key=lambda p: p.profit)
