// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @notice The subset of ERC-20 the pools, the executor and the lender call.
interface IERC20Minimal {
    function balanceOf(address account) external view returns (uint256);
    function transfer(address to, uint256 amount) external returns (bool);
    function transferFrom(address from, address to, uint256 amount) external returns (bool);
    function approve(address spender, uint256 amount) external returns (bool);
}
