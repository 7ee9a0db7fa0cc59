// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @notice The subset of the genuine Uniswap V2 pair (v2-core 1.0.1, and its forks) the executor calls.
interface IUniswapV2PairMinimal {
    function token0() external view returns (address);
    function token1() external view returns (address);
    function getReserves() external view returns (uint112 reserve0, uint112 reserve1, uint32 blockTimestampLast);
    function swap(uint256 amount0Out, uint256 amount1Out, address to, bytes calldata data) external;
}

/// @notice What a V2 pair calls on `to` during a flash swap (a swap with non-empty `data`).
interface IUniswapV2Callee {
    function uniswapV2Call(address sender, uint256 amount0, uint256 amount1, bytes calldata data) external;
}
