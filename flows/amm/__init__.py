"""Pool math in exact integers: pure functions, no I/O frameworks, no floats.

- :mod:`flows.amm.v2`: UniswapV2Library ``getAmountOut`` / ``getAmountIn`` / ``getAmountsOut`` for any fee in bps.
- :mod:`flows.amm.cycle`: optimal input of a cycle of V2 pools (closed form, then a proven integer argmax).
- :mod:`flows.amm.mixed`: optimal input of a cycle mixing V2 and V3 pools (search on the exact swaps).
- :mod:`flows.amm.profit`: net profit after EIP-1559 gas, flash-loan fee and builder tip; the execution gate.
- :mod:`flows.amm.v3`: Uniswap V3 core libraries and the pool's swap loop, to the wei of the deployed contracts.

Amounts are raw token units (no decimals applied) end to end.
"""
