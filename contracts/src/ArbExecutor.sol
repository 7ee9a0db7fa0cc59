// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20Minimal} from "./interfaces/IERC20Minimal.sol";
import {IERC3156FlashBorrower, IERC3156FlashLender} from "./interfaces/IERC3156.sol";
import {IPulsePair} from "./interfaces/IPulsePair.sol";
import {PulseMath} from "./libraries/PulseMath.sol";

/// @title ArbExecutor
/// @notice Owner-only atomic cyclic arbitrage through PulsePairs, funded from its own balance (execute) or from a
///         flash loan (executeWithFlashLoan). Each hop's output is computed from the pair's live reserves and fee
///         with the integer formula off-chain code uses, so a correct prediction is realized to the wei; the whole
///         transaction reverts with PROFIT_TOO_LOW unless the cycle returns at least amountIn (+ loan fee) + minProfit.
/// @dev Reason strings are bare codes (PROFIT_TOO_LOW, NOT_OWNER, ...) that the chain adapter matches on; a revert
///      raised inside a pair or the lender bubbles up with that contract's prefixed reason.
contract ArbExecutor is IERC3156FlashBorrower {
    bytes32 private constant CALLBACK_SUCCESS = keccak256("ERC3156FlashBorrower.onFlashLoan");

    address public owner;

    // Set only while executeWithFlashLoan waits for its lender's callback: onFlashLoan accepts no other caller.
    address private transient activeLender;
    // Carries the callback's result back to executeWithFlashLoan's return values (useful under eth_call).
    uint256 private transient flashAmountOut;
    uint256 private transient flashProfit;

    event Arbitrage(
        bytes32 indexed opportunityId, address tokenIn, uint256 amountIn, uint256 amountOut, uint256 profit
    );
    event Withdrawal(address indexed token, address indexed to, uint256 amount);
    event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);

    modifier onlyOwner() {
        require(msg.sender == owner, "NOT_OWNER");
        _;
    }

    constructor() {
        owner = msg.sender;
        emit OwnershipTransferred(address(0), msg.sender);
    }

    /// @notice Run the cycle `path[0] -> pairs[0] -> path[1] -> ... -> path[n]` (path[n] == path[0]) with `amountIn`
    ///         of path[0] from this contract's balance.
    /// @param opportunityId Deterministic id of the opportunity, echoed in the Arbitrage event for reconciliation.
    /// @param pairs The pairs, one per hop.
    /// @param path The tokens, pairs.length + 1 of them, first == last.
    /// @param amountIn Input in raw units of path[0].
    /// @param minProfit Least acceptable amountOut - amountIn, raw units of path[0].
    /// @return amountOut What the cycle returned to this contract.
    /// @return profit amountOut - amountIn.
    function execute(
        bytes32 opportunityId,
        address[] calldata pairs,
        address[] calldata path,
        uint256 amountIn,
        uint256 minProfit
    ) external onlyOwner returns (uint256 amountOut, uint256 profit) {
        _checkRoute(pairs, path, amountIn);
        amountOut = _runCycle(pairs, path, amountIn);
        // Compared before subtracting, so a losing cycle reverts with the reason rather than an arithmetic panic.
        require(amountOut >= amountIn && amountOut - amountIn >= minProfit, "PROFIT_TOO_LOW");
        profit = amountOut - amountIn;
        emit Arbitrage(opportunityId, path[0], amountIn, amountOut, profit);
    }

    /// @notice Same cycle, with amountIn borrowed from `lender` and repaid with its fee in the same transaction.
    /// @param lender An ERC-3156 lender (FlashLender) holding at least amountIn of path[0].
    /// @return amountOut What the cycle returned before repaying the loan.
    /// @return profit amountOut - amountIn - fee, which must be at least minProfit.
    function executeWithFlashLoan(
        bytes32 opportunityId,
        address lender,
        address[] calldata pairs,
        address[] calldata path,
        uint256 amountIn,
        uint256 minProfit
    ) external onlyOwner returns (uint256 amountOut, uint256 profit) {
        _checkRoute(pairs, path, amountIn);
        require(lender != address(0), "BAD_LENDER");
        activeLender = lender;
        bool ok = IERC3156FlashLender(lender).flashLoan(
            this, path[0], amountIn, abi.encode(opportunityId, pairs, path, minProfit)
        );
        require(ok, "FLASH_LOAN_FAILED");
        activeLender = address(0);
        (amountOut, profit) = (flashAmountOut, flashProfit);
        flashAmountOut = 0;
        flashProfit = 0;
    }

    /// @inheritdoc IERC3156FlashBorrower
    function onFlashLoan(address initiator, address token, uint256 amount, uint256 fee, bytes calldata data)
        external
        returns (bytes32)
    {
        // Only the lender this contract is waiting for, and only for a loan this contract asked for.
        require(msg.sender == activeLender && msg.sender != address(0), "UNTRUSTED_LENDER");
        require(initiator == address(this), "UNTRUSTED_INITIATOR");
        (bytes32 opportunityId, address[] memory pairs, address[] memory path, uint256 minProfit) =
            abi.decode(data, (bytes32, address[], address[], uint256));
        require(token == path[0], "TOKEN_MISMATCH");

        uint256 amountOut = _runCycle(pairs, path, amount);
        uint256 owed = amount + fee;
        require(amountOut >= owed && amountOut - owed >= minProfit, "PROFIT_TOO_LOW");
        uint256 profit = amountOut - owed;
        _safeTransfer(token, msg.sender, owed);

        flashAmountOut = amountOut;
        flashProfit = profit;
        emit Arbitrage(opportunityId, token, amount, amountOut, profit);
        return CALLBACK_SUCCESS;
    }

    /// @notice Move tokens out of the executor.
    function withdraw(address token, address to, uint256 amount) external onlyOwner {
        _safeTransfer(token, to, amount);
        emit Withdrawal(token, to, amount);
    }

    function transferOwnership(address newOwner) external onlyOwner {
        require(newOwner != address(0), "ZERO_ADDRESS");
        emit OwnershipTransferred(owner, newOwner);
        owner = newOwner;
    }

    function _checkRoute(address[] calldata pairs, address[] calldata path, uint256 amountIn) private pure {
        require(pairs.length >= 2 && path.length == pairs.length + 1, "BAD_PATH");
        require(path[0] == path[pairs.length], "NOT_A_CYCLE");
        require(amountIn > 0, "ZERO_AMOUNT");
    }

    /// @dev Send amountIn into the first pair, swap hop by hop with each output sent straight to the next pair (no
    ///      round trip through this contract), the last one back here. Returns what actually arrived, measured on
    ///      the balance, so a token that takes a cut in transfer cannot make the reported profit exceed the real one.
    function _runCycle(address[] memory pairs, address[] memory path, uint256 amountIn)
        private
        returns (uint256 amountOut)
    {
        address tokenIn = path[0];
        _safeTransfer(tokenIn, pairs[0], amountIn);
        uint256 balanceBefore = IERC20Minimal(tokenIn).balanceOf(address(this));

        uint256 hops = pairs.length;
        uint256 hopAmount = amountIn;
        for (uint256 i = 0; i < hops; ++i) {
            address to = i + 1 < hops ? pairs[i + 1] : address(this);
            hopAmount = _swapHop(IPulsePair(pairs[i]), path[i], path[i + 1], hopAmount, to);
        }
        amountOut = IERC20Minimal(tokenIn).balanceOf(address(this)) - balanceBefore;
    }

    /// @dev Swap `amountIn` of tokenIn, already sitting in `pair`, for the most tokenOut the K check allows.
    function _swapHop(IPulsePair pair, address tokenIn, address tokenOut, uint256 amountIn, address to)
        private
        returns (uint256 amountOut)
    {
        (uint112 reserve0, uint112 reserve1,) = pair.getReserves();
        address token0 = pair.token0();
        address token1 = pair.token1();
        if (tokenIn == token0 && tokenOut == token1) {
            amountOut = PulseMath.getAmountOut(amountIn, reserve0, reserve1, pair.feeBps());
            pair.swap(0, amountOut, to, "");
        } else {
            require(tokenIn == token1 && tokenOut == token0, "PAIR_TOKEN_MISMATCH");
            amountOut = PulseMath.getAmountOut(amountIn, reserve1, reserve0, pair.feeBps());
            pair.swap(amountOut, 0, to, "");
        }
    }

    function _safeTransfer(address token, address to, uint256 value) private {
        (bool ok, bytes memory ret) = token.call(abi.encodeCall(IERC20Minimal.transfer, (to, value)));
        require(ok && (ret.length == 0 || abi.decode(ret, (bool))), "TRANSFER_FAILED");
    }
}
