"""Uniswap V3 exact integer math: one module per v3-core library, plus the swap loop of the pool.

Ported from Uniswap/v3-core v1.0.0 (the code deployed on Ethereum mainnet); every module names the Solidity it
mirrors. Amounts are raw token units, prices are Q64.96 square roots (``sqrt_price_x96``), fees are pips
(1e-6: 3000 = 0.3 %). Contract reverts raise :class:`base.errors.AmmRevert` with the contract's require string
where it has one.
"""

from flows.amm.v3.pool import V3PoolState, load_state_file, state_from_mapping

__all__ = ["V3PoolState", "load_state_file", "state_from_mapping"]
