// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @notice The factory call a pair makes from its constructor to learn its tokens and fee.
interface IPulseFactory {
    function pairParameters() external view returns (address token0, address token1, uint16 feeBps);
}
