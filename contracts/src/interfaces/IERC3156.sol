// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @notice ERC-3156 flash borrower: must return CALLBACK_SUCCESS from onFlashLoan.
interface IERC3156FlashBorrower {
    function onFlashLoan(address initiator, address token, uint256 amount, uint256 fee, bytes calldata data)
        external
        returns (bytes32);
}

/// @notice ERC-3156 flash lender.
interface IERC3156FlashLender {
    function maxFlashLoan(address token) external view returns (uint256);
    function flashFee(address token, uint256 amount) external view returns (uint256);
    function flashLoan(IERC3156FlashBorrower receiver, address token, uint256 amount, bytes calldata data)
        external
        returns (bool);
}
