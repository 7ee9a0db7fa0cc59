// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @notice Constant-product quote shared by the executor; the pair enforces the same bound through its K check.
library PulseMath {
    uint256 internal constant BPS = 10_000;

    /// @notice Largest output a pair with `feeBps` pays for `amountIn`:
    ///         out = in*(10000-fee)*rOut / (rIn*10000 + in*(10000-fee)), floored. For fee 30 this is Uniswap's
    ///         997/1000 formula scaled by 10.
    function getAmountOut(uint256 amountIn, uint256 reserveIn, uint256 reserveOut, uint256 feeBps)
        internal
        pure
        returns (uint256)
    {
        require(amountIn > 0, "PulseMath: INSUFFICIENT_INPUT_AMOUNT");
        require(reserveIn > 0 && reserveOut > 0, "PulseMath: INSUFFICIENT_LIQUIDITY");
        uint256 amountInWithFee = amountIn * (BPS - feeBps);
        return (amountInWithFee * reserveOut) / (reserveIn * BPS + amountInWithFee);
    }
}
