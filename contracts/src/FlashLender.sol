// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20Minimal} from "./interfaces/IERC20Minimal.sol";
import {IERC3156FlashBorrower, IERC3156FlashLender} from "./interfaces/IERC3156.sol";

/// @title FlashLender
/// @notice Lends any ERC-20 it holds within one transaction for a fee of `feeBps` basis points (fixed at deploy,
///         floored: fee = amount * feeBps / 10000). ERC-3156 interface; liquidity is whatever was transferred in.
/// @dev Repayment is checked on the lender's balance, so a borrower may push amount + fee back during its callback
///      (cheapest) or approve it and let the lender pull it, as ERC-3156 describes.
contract FlashLender is IERC3156FlashLender {
    bytes32 private constant CALLBACK_SUCCESS = keccak256("ERC3156FlashBorrower.onFlashLoan");
    uint256 private constant BPS = 10_000;

    uint256 public immutable feeBps;
    address public owner;

    bool private transient locked;

    event FlashLoan(address indexed receiver, address indexed token, uint256 amount, uint256 fee);
    event Withdrawal(address indexed token, address indexed to, uint256 amount);
    event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);

    modifier onlyOwner() {
        require(msg.sender == owner, "FlashLender: NOT_OWNER");
        _;
    }

    constructor(uint256 feeBps_) {
        require(feeBps_ < BPS, "FlashLender: FEE_TOO_HIGH");
        feeBps = feeBps_;
        owner = msg.sender;
        emit OwnershipTransferred(address(0), msg.sender);
    }

    function maxFlashLoan(address token) external view returns (uint256) {
        return IERC20Minimal(token).balanceOf(address(this));
    }

    function flashFee(address, uint256 amount) public view returns (uint256) {
        return (amount * feeBps) / BPS;
    }

    /// @notice Send `amount` of `token` to `receiver`, call its onFlashLoan, and require amount + fee back.
    function flashLoan(IERC3156FlashBorrower receiver, address token, uint256 amount, bytes calldata data)
        external
        returns (bool)
    {
        // No nested loans: a reentrant loan would be repaid out of the outer one and skew both balance checks.
        require(!locked, "FlashLender: REENTRANT");
        locked = true;

        uint256 balanceBefore = IERC20Minimal(token).balanceOf(address(this));
        require(amount > 0 && amount <= balanceBefore, "FlashLender: INSUFFICIENT_LIQUIDITY");
        uint256 fee = flashFee(token, amount);

        _safeTransfer(token, address(receiver), amount);
        require(
            receiver.onFlashLoan(msg.sender, token, amount, fee, data) == CALLBACK_SUCCESS,
            "FlashLender: CALLBACK_FAILED"
        );

        uint256 due = balanceBefore + fee;
        uint256 balanceAfter = IERC20Minimal(token).balanceOf(address(this));
        if (balanceAfter < due) {
            // Not pushed back: pull the shortfall (ERC-3156 style). A failed pull ends in NOT_REPAID below.
            (bool ok, bytes memory ret) = token.call(
                abi.encodeCall(IERC20Minimal.transferFrom, (address(receiver), address(this), due - balanceAfter))
            );
            if (ok && (ret.length == 0 || abi.decode(ret, (bool)))) {
                balanceAfter = IERC20Minimal(token).balanceOf(address(this));
            }
        }
        require(balanceAfter >= due, "FlashLender: NOT_REPAID");

        locked = false;
        emit FlashLoan(address(receiver), token, amount, fee);
        return true;
    }

    /// @notice Take liquidity out of the lender.
    function withdraw(address token, address to, uint256 amount) external onlyOwner {
        _safeTransfer(token, to, amount);
        emit Withdrawal(token, to, amount);
    }

    function transferOwnership(address newOwner) external onlyOwner {
        require(newOwner != address(0), "FlashLender: ZERO_ADDRESS");
        emit OwnershipTransferred(owner, newOwner);
        owner = newOwner;
    }

    function _safeTransfer(address token, address to, uint256 value) private {
        (bool ok, bytes memory ret) = token.call(abi.encodeCall(IERC20Minimal.transfer, (to, value)));
        require(ok && (ret.length == 0 || abi.decode(ret, (bool))), "FlashLender: TRANSFER_FAILED");
    }
}
