// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20Minimal} from "../interfaces/IERC20Minimal.sol";
import {IERC3156FlashBorrower, IERC3156FlashLender} from "../interfaces/IERC3156.sol";
import {IPulseCallee} from "../interfaces/IPulseCallee.sol";
import {IPulsePair} from "../interfaces/IPulsePair.sol";

/// @title TestFlashBorrower
/// @notice Test-only borrower that repays FlashLender loans in a chosen (possibly wrong) way and performs
///         PulsePair flash swaps, so tests can exercise the lender's and the pair's repayment checks.
contract TestFlashBorrower is IERC3156FlashBorrower, IPulseCallee {
    bytes32 private constant CALLBACK_SUCCESS = keccak256("ERC3156FlashBorrower.onFlashLoan");

    /// @notice 0: push amount + fee back; 1: approve amount + fee for the lender to pull;
    ///         2: push one wei short; 3: push in full but return a wrong callback value.
    uint8 public mode;

    function setMode(uint8 mode_) external {
        mode = mode_;
    }

    function borrow(address lender, address token, uint256 amount) external {
        IERC3156FlashLender(lender).flashLoan(this, token, amount, "");
    }

    function onFlashLoan(address, address token, uint256 amount, uint256 fee, bytes calldata)
        external
        returns (bytes32)
    {
        uint256 owed = amount + fee;
        if (mode == 1) {
            IERC20Minimal(token).approve(msg.sender, owed);
        } else if (mode == 2) {
            IERC20Minimal(token).transfer(msg.sender, owed - 1);
        } else {
            IERC20Minimal(token).transfer(msg.sender, owed);
        }
        return mode == 3 ? bytes32(0) : CALLBACK_SUCCESS;
    }

    /// @notice Take outputs from `pair` first and pay `repay0`/`repay1` back inside the uniswapV2Call callback.
    function flashSwap(address pair, uint256 amount0Out, uint256 amount1Out, uint256 repay0, uint256 repay1)
        external
    {
        IPulsePair(pair).swap(amount0Out, amount1Out, address(this), abi.encode(repay0, repay1));
    }

    function uniswapV2Call(address, uint256, uint256, bytes calldata data) external {
        (uint256 repay0, uint256 repay1) = abi.decode(data, (uint256, uint256));
        IPulsePair pair = IPulsePair(msg.sender);
        if (repay0 > 0) IERC20Minimal(pair.token0()).transfer(msg.sender, repay0);
        if (repay1 > 0) IERC20Minimal(pair.token1()).transfer(msg.sender, repay1);
    }
}
