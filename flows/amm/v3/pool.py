"""A Uniswap V3 pool's swap, ported from the loop of ``UniswapV3Pool.swap`` (v3-core v1.0.0).

The state is what a swap reads: ``slot0`` (price and tick), the active liquidity, the fee, the tick spacing and
every initialized tick's ``liquidityNet``. :func:`swap` walks ticks exactly as the contract does: each step goes to
the next initialized tick *within one bitmap word* (or the price limit), pays its own rounded fee, and on reaching
an initialized tick crosses it (``L += liquidityNet``, negated when moving left). Fee growth, oracle and protocol
fee bookkeeping do not change the amounts and are left out.

Without a price limit the swap runs to ``MIN_SQRT_RATIO + 1`` / ``MAX_SQRT_RATIO - 1``, the limits Uniswap's
Quoter passes for "price limit 0", so the results equal the Quoter's to the wei.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from base.errors import AmmRevert, ConfigError
from flows.amm.v3.liquidity_math import MAX_UINT128, add_delta
from flows.amm.v3.swap_math import PIPS, compute_swap_step
from flows.amm.v3.tick_bitmap import build_bitmap, next_initialized_tick_within_one_word
from flows.amm.v3.tick_math import (
    MAX_SQRT_RATIO,
    MAX_TICK,
    MIN_SQRT_RATIO,
    MIN_TICK,
    get_sqrt_ratio_at_tick,
    get_tick_at_sqrt_ratio,
)

__all__ = ["STATE_KEYS", "FrozenIntMap", "SwapResult", "V3PoolState", "load_state_file", "state_from_mapping", "swap"]

_MAX_INT128 = 2**127 - 1
_MAX_INT256 = 2**255 - 1

STATE_KEYS = ("sqrt_price_x96", "tick", "liquidity", "fee", "tick_spacing", "ticks")
"""Keys of the state file ``pulsearb amm quote --v3-state`` reads."""


class FrozenIntMap(Mapping[int, int]):
    """A read-only ``int -> int`` mapping that, unlike ``MappingProxyType``, pickles, deep-copies and hashes.

    Pool states live in Bytewax state, which is snapshotted by pickling.
    """

    __slots__ = ("_data", "_hash")

    def __init__(self, data: Mapping[int, int] | Iterable[tuple[int, int]] = ()) -> None:
        self._data = dict(data)
        self._hash: int | None = None

    def __getitem__(self, key: int) -> int:
        return self._data[key]

    def get(self, key: int, default: int | None = None) -> int | None:  # type: ignore[override]
        """Return the value of ``key``, or ``default`` (fast path for the swap loop)."""
        return self._data.get(key, default)

    def __iter__(self) -> Iterator[int]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(frozenset(self._data.items()))
        return self._hash

    def __reduce__(self) -> tuple[type[FrozenIntMap], tuple[dict[int, int]]]:
        return (type(self), (self._data,))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._data!r})"


@dataclass(frozen=True, slots=True)
class V3PoolState:
    """What a Uniswap V3 swap reads from the pool.

    Attributes:
        sqrt_price_x96: ``slot0.sqrtPriceX96``, Q64.96 square root of token1/token0 in raw units.
        tick: ``slot0.tick``.
        liquidity: active liquidity, ``uint128``.
        fee: swap fee in pips (3000 = 0.3 %).
        tick_spacing: the pool's tick spacing.
        ticks: every initialized tick -> its ``liquidityNet`` (``int128``); kept as a read-only copy.
        bitmap: the tick bitmap words, derived from ``ticks`` (pass only to reuse one already built).

    Raises:
        ValueError: if a field is out of its on-chain range.
    """

    sqrt_price_x96: int
    tick: int
    liquidity: int
    fee: int
    tick_spacing: int
    ticks: Mapping[int, int]
    bitmap: Mapping[int, int] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        problems = []
        if not MIN_SQRT_RATIO <= self.sqrt_price_x96 < MAX_SQRT_RATIO:
            problems.append(f"sqrt_price_x96 {self.sqrt_price_x96} outside [MIN_SQRT_RATIO, MAX_SQRT_RATIO)")
        if not MIN_TICK <= self.tick <= MAX_TICK:
            problems.append(f"tick {self.tick} outside [{MIN_TICK}, {MAX_TICK}]")
        if not 0 <= self.liquidity <= MAX_UINT128:
            problems.append(f"liquidity {self.liquidity} is not a uint128")
        if not 0 <= self.fee < PIPS:
            problems.append(f"fee {self.fee} pips outside [0, {PIPS})")
        if self.tick_spacing <= 0:
            problems.append(f"tick_spacing {self.tick_spacing} must be positive")
        if problems:
            raise ValueError("; ".join(problems))
        if self.bitmap is None:
            ticks = dict(self.ticks)
            for tick, net in ticks.items():
                if tick % self.tick_spacing or not MIN_TICK <= tick <= MAX_TICK:
                    msg = f"initialized tick {tick} is not a multiple of {self.tick_spacing} in the tick range"
                    raise ValueError(msg)
                if not -_MAX_INT128 <= net <= _MAX_INT128:
                    msg = f"liquidity_net {net} of tick {tick} is not an int128"
                    raise ValueError(msg)
            object.__setattr__(self, "ticks", FrozenIntMap(ticks))
            object.__setattr__(self, "bitmap", FrozenIntMap(build_bitmap(ticks, self.tick_spacing)))

    def swap_exact_in(
        self, amount_in: int, zero_for_one: bool, sqrt_price_limit_x96: int | None = None
    ) -> tuple[int, V3PoolState]:
        """Swap an exact input; see :func:`swap`.

        Args:
            amount_in: input, raw units of token0 (``zero_for_one``) or token1, fee included.
            zero_for_one: direction: token0 in, token1 out when True.
            sqrt_price_limit_x96: price the swap may not pass; None for the Quoter's "0" (no limit). If the
                limit is reached first, only part of ``amount_in`` is used (as on chain).

        Returns:
            ``(amount_out, new_state)``; ``amount_out`` equals ``Quoter.quoteExactInputSingle``.

        Raises:
            AmmRevert: ``AS`` for a zero amount, ``SPL`` for a bad limit, or a library revert.
        """
        if amount_in <= 0:
            msg = "AS"
            raise AmmRevert(msg)
        result = swap(self, zero_for_one, amount_in, sqrt_price_limit_x96)
        return -(result.amount1 if zero_for_one else result.amount0), result.state

    def swap_exact_out(
        self, amount_out: int, zero_for_one: bool, sqrt_price_limit_x96: int | None = None
    ) -> tuple[int, V3PoolState]:
        """Swap for an exact output; see :func:`swap`.

        Args:
            amount_out: wanted output, raw units of token1 (``zero_for_one``) or token0.
            zero_for_one: direction: token0 in, token1 out when True.
            sqrt_price_limit_x96: price the swap may not pass; None for ``MIN_SQRT_RATIO + 1`` /
                ``MAX_SQRT_RATIO - 1``. If the pool runs out of liquidity first, less than ``amount_out`` is
                delivered (use :func:`swap` to see how much).

        Returns:
            ``(amount_in, new_state)``, ``amount_in`` fee included; equals ``Quoter.quoteExactOutputSingle``
            called with those explicit limits.

        Raises:
            AmmRevert: ``AS`` for a zero amount, ``SPL`` for a bad limit, or a library revert.
        """
        if amount_out <= 0:
            msg = "AS"
            raise AmmRevert(msg)
        result = swap(self, zero_for_one, -amount_out, sqrt_price_limit_x96)
        return (result.amount0 if zero_for_one else result.amount1), result.state


@dataclass(frozen=True, slots=True)
class SwapResult:
    """What ``UniswapV3Pool.swap`` returns, plus the pool state after it.

    Attributes:
        amount0: token0 delta of the pool, raw units (positive: paid in, negative: paid out).
        amount1: token1 delta of the pool, raw units.
        state: the pool after the swap (price, tick and liquidity moved; ticks unchanged).
    """

    amount0: int
    amount1: int
    state: V3PoolState


def swap(
    state: V3PoolState, zero_for_one: bool, amount_specified: int, sqrt_price_limit_x96: int | None = None
) -> SwapResult:
    """Run ``UniswapV3Pool.swap``'s loop on a state.

    Args:
        state: the pool before the swap.
        zero_for_one: True for token0 in, token1 out.
        amount_specified: exact input (> 0) or exact output (< 0), raw units, fee included for input.
        sqrt_price_limit_x96: price the swap may not pass (Q64.96); None for ``MIN_SQRT_RATIO + 1`` when
            ``zero_for_one`` else ``MAX_SQRT_RATIO - 1``.

    Returns:
        The pool's signed deltas and the new state.

    Raises:
        AmmRevert: ``AS`` if ``amount_specified == 0``; ``SPL`` if the limit is on the wrong side of the price
            or beyond the price range; ``LS``/``LA`` on a liquidity underflow/overflow; ``SafeCast`` if the
            amount does not fit ``int256``.
    """
    if amount_specified == 0:
        msg = "AS"
        raise AmmRevert(msg)
    if not -_MAX_INT256 - 1 <= amount_specified <= _MAX_INT256:
        msg = "SafeCast: amount does not fit int256"
        raise AmmRevert(msg)
    if sqrt_price_limit_x96 is None:
        sqrt_price_limit_x96 = MIN_SQRT_RATIO + 1 if zero_for_one else MAX_SQRT_RATIO - 1
    if zero_for_one:
        valid_limit = MIN_SQRT_RATIO < sqrt_price_limit_x96 < state.sqrt_price_x96
    else:
        valid_limit = state.sqrt_price_x96 < sqrt_price_limit_x96 < MAX_SQRT_RATIO
    if not valid_limit:
        msg = "SPL"
        raise AmmRevert(msg)

    exact_input = amount_specified > 0
    remaining = amount_specified
    calculated = 0
    sqrt_price = state.sqrt_price_x96
    tick = state.tick
    liquidity = state.liquidity
    bitmap = state.bitmap
    assert bitmap is not None  # set by __post_init__

    while remaining != 0 and sqrt_price != sqrt_price_limit_x96:
        step_start = sqrt_price
        tick_next, initialized = next_initialized_tick_within_one_word(bitmap, tick, state.tick_spacing, zero_for_one)
        # The bitmap knows nothing of the tick range's ends.
        tick_next = min(max(tick_next, MIN_TICK), MAX_TICK)
        sqrt_price_next = get_sqrt_ratio_at_tick(tick_next)
        beyond_limit = (
            sqrt_price_next < sqrt_price_limit_x96 if zero_for_one else sqrt_price_next > sqrt_price_limit_x96
        )
        step = compute_swap_step(
            sqrt_price,
            sqrt_price_limit_x96 if beyond_limit else sqrt_price_next,
            liquidity,
            remaining,
            state.fee,
        )
        sqrt_price = step.sqrt_price_next_x96
        if exact_input:
            remaining -= step.amount_in + step.fee_amount
            calculated -= step.amount_out
        else:
            remaining += step.amount_out
            calculated += step.amount_in + step.fee_amount

        if sqrt_price == sqrt_price_next:
            if initialized:
                net = state.ticks[tick_next]
                # Moving left, the range below gains what the range above had to add.
                liquidity = add_delta(liquidity, -net if zero_for_one else net)
            tick = tick_next - 1 if zero_for_one else tick_next
        elif sqrt_price != step_start:
            tick = get_tick_at_sqrt_ratio(sqrt_price)

    if zero_for_one == exact_input:
        amount0, amount1 = amount_specified - remaining, calculated
    else:
        amount0, amount1 = calculated, amount_specified - remaining
    new_state = replace(state, sqrt_price_x96=sqrt_price, tick=tick, liquidity=liquidity)
    return SwapResult(amount0, amount1, new_state)


def _as_int(value: Any, where: str) -> int:
    # JSON may carry big integers as numbers or as decimal/hex strings; a float has lost digits already.
    if isinstance(value, bool) or not isinstance(value, int | str):
        msg = f"{where}: expected an integer, got {value!r}"
        raise ConfigError(msg)
    if isinstance(value, int):
        return value
    text = value.strip()
    try:
        if text.lower().startswith(("0x", "-0x")):
            return int(text, 16)
        if text.lstrip("-").isdigit() and text.isascii():
            return int(text)
    except ValueError:
        pass
    msg = f"{where}: expected an integer, got {value!r}"
    raise ConfigError(msg)


def state_from_mapping(data: Mapping[str, Any], source: str = "state") -> V3PoolState:
    """Build a state from the state-file mapping.

    Format: ``{"sqrt_price_x96", "tick", "liquidity", "fee" (pips), "tick_spacing",
    "ticks": {"<tick>": liquidity_net}}``; integers may be JSON numbers or decimal (or ``0x``) strings.

    Args:
        data: the parsed JSON object.
        source: name used in error messages (the file path).

    Returns:
        The pool state.

    Raises:
        ConfigError: naming the source and key, for a missing key, a non-integer or an out-of-range value.
    """
    if not isinstance(data, Mapping):
        msg = f"{source}: expected a JSON object with keys {', '.join(STATE_KEYS)}"
        raise ConfigError(msg)
    missing = [k for k in STATE_KEYS if k not in data]
    if missing:
        msg = f"{source}: missing key(s) {', '.join(missing)}; a V3 state needs {', '.join(STATE_KEYS)}"
        raise ConfigError(msg)
    raw_ticks = data["ticks"]
    if not isinstance(raw_ticks, Mapping):
        msg = f'{source}: ticks: expected an object {{"<tick>": liquidity_net}}, got {type(raw_ticks).__name__}'
        raise ConfigError(msg)
    ticks = {_as_int(k, f"{source}: ticks key"): _as_int(v, f"{source}: ticks[{k}]") for k, v in raw_ticks.items()}
    try:
        return V3PoolState(
            sqrt_price_x96=_as_int(data["sqrt_price_x96"], f"{source}: sqrt_price_x96"),
            tick=_as_int(data["tick"], f"{source}: tick"),
            liquidity=_as_int(data["liquidity"], f"{source}: liquidity"),
            fee=_as_int(data["fee"], f"{source}: fee"),
            tick_spacing=_as_int(data["tick_spacing"], f"{source}: tick_spacing"),
            ticks=ticks,
        )
    except ValueError as exc:
        msg = f"{source}: {exc}"
        raise ConfigError(msg) from exc


def load_state_file(path: str | Path) -> V3PoolState:
    """Read a V3 pool state file (see :func:`state_from_mapping` for the format).

    Args:
        path: the JSON file.

    Returns:
        The pool state.

    Raises:
        ConfigError: if the file cannot be read, is not JSON, or does not hold a valid state.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        msg = f"{path}: cannot read the V3 state file ({exc.strerror or exc})"
        raise ConfigError(msg) from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        msg = f"{path}:{exc.lineno}: not valid JSON ({exc.msg})"
        raise ConfigError(msg) from exc
    return state_from_mapping(data, str(path))
