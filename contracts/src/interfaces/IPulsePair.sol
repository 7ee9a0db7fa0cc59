// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @notice What the executor needs from a pair: the Uniswap V2 surface plus the per-pair fee.
interface IPulsePair {
    function token0() external view returns (address);
    function token1() external view returns (address);
    function feeBps() external view returns (uint16);
    function getReserves() external view returns (uint112 reserve0, uint112 reserve1, uint32 blockTimestampLast);
    function swap(uint256 amount0Out, uint256 amount1Out, address to, bytes calldata data) external;
}
