// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @notice Flash-swap callback. The name and arguments are Uniswap V2's, so existing V2 callees work unchanged.
interface IPulseCallee {
    function uniswapV2Call(address sender, uint256 amount0, uint256 amount1, bytes calldata data) external;
}
