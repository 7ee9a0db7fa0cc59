// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @notice What a genuine Uniswap V3 pool (v3-core 1.0.1) calls on `msg.sender` during `swap`: pay the input.
/// @dev amount0Delta / amount1Delta are the pool's token deltas: positive = owed to the pool, negative = paid out.
interface IUniswapV3SwapCallback {
    function uniswapV3SwapCallback(int256 amount0Delta, int256 amount1Delta, bytes calldata data) external;
}
