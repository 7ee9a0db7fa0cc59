// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20Minimal} from "./interfaces/IERC20Minimal.sol";
import {IERC3156FlashBorrower, IERC3156FlashLender} from "./interfaces/IERC3156.sol";
import {IUniswapV2Callee, IUniswapV2PairMinimal} from "./interfaces/IUniswapV2PairMinimal.sol";
import {IUniswapV3PoolMinimal} from "./interfaces/IUniswapV3PoolMinimal.sol";
import {IUniswapV3SwapCallback} from "./interfaces/IUniswapV3SwapCallback.sol";
import {PulseMath} from "./libraries/PulseMath.sol";

/// @title ArbExecutor
/// @notice Owner-only atomic cyclic arbitrage through genuine Uniswap V2 pairs (and forks with another fee) and
///         genuine Uniswap V3 pools, in any mix. Capital: the contract's own balance (execute), a flash swap from the
///         cycle's first pool (executeWithFlashSwap: no capital, no lender), or an ERC-3156 flash loan
///         (executeWithFlashLoan). V2 hops pay out exactly what the off-chain integer formula gives on the pair's
///         live reserves with the route's fee; V3 hops swap an exact input with a price limit, as the Quoter does;
///         so a correct prediction is realized to the wei. Profit is measured on the start token's balance and the
///         whole transaction reverts with PROFIT_TOO_LOW below minProfit: a stale trade costs gas, never principal.
/// @dev Reason strings are bare codes (PROFIT_TOO_LOW, NOT_OWNER, ...) that the chain adapter matches on; a revert
///      raised inside a pool or the lender bubbles up with that contract's reason (UniswapV2: K, SPL, ...).
contract ArbExecutor is IERC3156FlashBorrower, IUniswapV2Callee, IUniswapV3SwapCallback {
    /// @notice One hop of a cycle.
    /// @param pool The V2 pair or V3 pool.
    /// @param kind KIND_V2 or KIND_V3.
    /// @param zeroForOne True when the hop pays token0 in and takes token1 out (tokens sorted by address).
    /// @param feeBps V2 only: the fee the off-chain math used, bps (30 for Uniswap V2; 25 or 20 on some forks).
    /// @param sqrtPriceLimitX96 V3 only: the price the swap may not pass; 0 = MIN_SQRT_RATIO+1 / MAX_SQRT_RATIO-1.
    struct Hop {
        address pool;
        uint8 kind;
        bool zeroForOne;
        uint16 feeBps;
        uint160 sqrtPriceLimitX96;
    }

    /// @dev What a flash swap's callback needs: it runs in a call frame of its own, so it travels in `data`.
    struct Flash {
        address tokenIn;
        uint256 amountIn;
        uint256 minProfit;
        uint256 balanceBefore;
        Hop[] hops;
    }

    uint8 public constant KIND_V2 = 0;
    uint8 public constant KIND_V3 = 1;
    uint160 internal constant MIN_SQRT_RATIO = 4295128739;
    uint160 internal constant MAX_SQRT_RATIO = 1461446703485210103287273052203988090495616980;
    bytes32 private constant CALLBACK_SUCCESS = keccak256("ERC3156FlashBorrower.onFlashLoan");

    address public owner;

    // The pool this contract is calling right now: its swap (or flash-swap) callback is the only one accepted,
    // once. activeAmount is the most a V3 pool may ask for: the exact input it was given.
    address private transient activePool;
    uint256 private transient activeAmount;
    // Set only while executeWithFlashLoan waits for its lender's callback; loanFee carries the fee back.
    address private transient activeLender;
    uint256 private transient loanFee;

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

    /// @notice Run the cycle with `amountIn` of `tokenIn` from this contract's balance.
    /// @param opportunityId Deterministic id of the opportunity, echoed in the Arbitrage event for reconciliation.
    /// @param tokenIn The token the cycle starts and ends in.
    /// @param hops The hops, at least 2; the last returns tokenIn.
    /// @param amountIn Input, raw units of tokenIn.
    /// @param minProfit Least acceptable gain of tokenIn, raw units.
    /// @return amountOut What the cycle returned: amountIn + profit.
    /// @return profit The gain of this contract's tokenIn balance.
    function execute(bytes32 opportunityId, address tokenIn, Hop[] calldata hops, uint256 amountIn, uint256 minProfit)
        external
        onlyOwner
        returns (uint256 amountOut, uint256 profit)
    {
        Hop[] memory route = _checkRoute(hops, amountIn);
        uint256 before = _balance(tokenIn);
        _runCycle(route, tokenIn, amountIn);
        return _settle(opportunityId, tokenIn, amountIn, 0, before, minProfit);
    }

    /// @notice Run the cycle on the first pool's own tokens: take its output first and pay it `amountIn` of tokenIn
    ///         when the rest of the cycle has run (inside the pool's callback). Needs no capital and no lender; the
    ///         first pool is paid what a plain swap would pay, so the profit is the same as execute's.
    function executeWithFlashSwap(
        bytes32 opportunityId,
        address tokenIn,
        Hop[] calldata hops,
        uint256 amountIn,
        uint256 minProfit
    ) external onlyOwner returns (uint256 amountOut, uint256 profit) {
        Hop[] memory route = _checkRoute(hops, amountIn);
        uint256 before = _balance(tokenIn);
        bytes memory data = abi.encode(Flash(tokenIn, amountIn, minProfit, before, route));
        Hop memory first = route[0];
        activePool = first.pool;
        if (first.kind == KIND_V2) {
            // The pair calls back `to` only: the first output must come here, even when a V2 pair is next.
            uint256 out = _v2AmountOut(first, amountIn);
            IUniswapV2PairMinimal(first.pool).swap(
                first.zeroForOne ? 0 : out, first.zeroForOne ? out : 0, address(this), data
            );
        } else {
            activeAmount = amountIn;
            IUniswapV3PoolMinimal(first.pool).swap(
                _recipient(route, 0), first.zeroForOne, _int(amountIn), _limit(first), data
            );
        }
        require(activePool == address(0), "NO_CALLBACK");
        return _settle(opportunityId, tokenIn, amountIn, 0, before, minProfit);
    }

    /// @notice Run the cycle with amountIn borrowed from the ERC-3156 `lender`, repaid with its fee in the same
    ///         transaction.
    /// @return amountOut What the cycle returned before repaying the loan.
    /// @return profit amountOut - amountIn - fee, which must be at least minProfit.
    function executeWithFlashLoan(
        bytes32 opportunityId,
        address lender,
        address tokenIn,
        Hop[] calldata hops,
        uint256 amountIn,
        uint256 minProfit
    ) external onlyOwner returns (uint256 amountOut, uint256 profit) {
        uint256 before = _borrow(lender, tokenIn, hops, amountIn, minProfit);
        return _settle(opportunityId, tokenIn, amountIn, loanFee, before, minProfit);
    }

    /// @inheritdoc IUniswapV2Callee
    function uniswapV2Call(address sender, uint256 amount0, uint256 amount1, bytes calldata data) external {
        // Only the pair this contract is flash-swapping from, and only for a swap it started.
        require(msg.sender == activePool && msg.sender != address(0), "UNTRUSTED_POOL");
        require(sender == address(this), "UNTRUSTED_INITIATOR");
        activePool = address(0);
        Flash memory f = abi.decode(data, (Flash));
        Hop memory first = f.hops[0];
        uint256 out = first.zeroForOne ? amount1 : amount0;
        Hop memory next = f.hops[1];
        if (next.kind == KIND_V2) {
            IUniswapV2PairMinimal pair = IUniswapV2PairMinimal(first.pool);
            _safeTransfer(first.zeroForOne ? pair.token1() : pair.token0(), next.pool, out);
        }
        _runHops(f.hops, 1, out);
        _repay(f, f.amountIn, msg.sender);
    }

    /// @inheritdoc IUniswapV3SwapCallback
    function uniswapV3SwapCallback(int256 amount0Delta, int256 amount1Delta, bytes calldata data) external {
        // Only the pool this contract is calling, once, and never more than the exact input it was given.
        require(msg.sender == activePool && msg.sender != address(0), "UNTRUSTED_POOL");
        activePool = address(0);
        bool pays0 = amount0Delta > 0;
        uint256 owed = uint256(pays0 ? amount0Delta : amount1Delta);
        require(owed > 0 && owed <= activeAmount, "BAD_OWED");
        if (data.length == 0) {
            // A hop inside the cycle (or the first hop of execute): its input sits here.
            IUniswapV3PoolMinimal pool = IUniswapV3PoolMinimal(msg.sender);
            _safeTransfer(pays0 ? pool.token0() : pool.token1(), msg.sender, owed);
            return;
        }
        // The first hop of a flash swap: its output is out already; run the rest, then pay it.
        Flash memory f = abi.decode(data, (Flash));
        _runHops(f.hops, 1, uint256(-(pays0 ? amount1Delta : amount0Delta)));
        _repay(f, owed, msg.sender);
    }

    /// @inheritdoc IERC3156FlashBorrower
    function onFlashLoan(address initiator, address token, uint256 amount, uint256 fee, bytes calldata data)
        external
        returns (bytes32)
    {
        // Only the lender this contract is waiting for, once, and only for a loan this contract asked for.
        require(msg.sender == activeLender && msg.sender != address(0), "UNTRUSTED_LENDER");
        require(initiator == address(this), "UNTRUSTED_INITIATOR");
        activeLender = address(0);
        Flash memory f = abi.decode(data, (Flash));
        require(token == f.tokenIn && amount == f.amountIn, "TOKEN_MISMATCH");
        _runCycle(f.hops, token, amount);
        loanFee = fee;
        _repay(f, amount + fee, msg.sender);
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

    /// @dev Take the loan; the cycle runs in onFlashLoan. Returns the start token's balance before it.
    function _borrow(address lender, address tokenIn, Hop[] calldata hops, uint256 amountIn, uint256 minProfit)
        private
        returns (uint256 before)
    {
        Hop[] memory route = _checkRoute(hops, amountIn);
        require(lender != address(0), "BAD_LENDER");
        before = _balance(tokenIn);
        activeLender = lender;
        bool ok = IERC3156FlashLender(lender).flashLoan(
            this, tokenIn, amountIn, abi.encode(Flash(tokenIn, amountIn, minProfit, before, route))
        );
        require(ok && activeLender == address(0), "FLASH_LOAN_FAILED");
    }

    function _checkRoute(Hop[] calldata hops, uint256 amountIn) private pure returns (Hop[] memory route) {
        require(hops.length >= 2, "BAD_PATH");
        require(amountIn > 0, "ZERO_AMOUNT");
        for (uint256 i = 0; i < hops.length; ++i) {
            require(hops[i].kind <= KIND_V3, "BAD_KIND");
            require(hops[i].feeBps < PulseMath.BPS, "BAD_FEE");
        }
        route = hops;
    }

    /// @dev Put amountIn of tokenIn where the first hop takes it (a V2 pair holds its input before `swap`; a V3
    ///      pool is paid in its callback), then run every hop.
    function _runCycle(Hop[] memory route, address tokenIn, uint256 amountIn) private {
        if (route[0].kind == KIND_V2) _safeTransfer(tokenIn, route[0].pool, amountIn);
        _runHops(route, 0, amountIn);
    }

    /// @dev Swap hop by hop from `route[start]`, whose input is already in place. Each output goes straight to the
    ///      next hop when it is a V2 pair (no round trip through this contract), else here.
    function _runHops(Hop[] memory route, uint256 start, uint256 amount) private returns (uint256) {
        for (uint256 i = start; i < route.length; ++i) {
            Hop memory h = route[i];
            address to = _recipient(route, i);
            if (h.kind == KIND_V2) {
                uint256 out = _v2AmountOut(h, amount);
                IUniswapV2PairMinimal(h.pool).swap(h.zeroForOne ? 0 : out, h.zeroForOne ? out : 0, to, "");
                amount = out;
            } else {
                activePool = h.pool;
                activeAmount = amount;
                (int256 a0, int256 a1) =
                    IUniswapV3PoolMinimal(h.pool).swap(to, h.zeroForOne, _int(amount), _limit(h), "");
                require(activePool == address(0), "NO_CALLBACK");
                amount = uint256(-(h.zeroForOne ? a1 : a0));
            }
        }
        return amount;
    }

    /// @dev The V2 output for `amountIn` on the pair's live reserves with the route's fee: what the K check allows.
    function _v2AmountOut(Hop memory h, uint256 amountIn) private view returns (uint256) {
        (uint112 reserve0, uint112 reserve1,) = IUniswapV2PairMinimal(h.pool).getReserves();
        (uint256 reserveIn, uint256 reserveOut) = h.zeroForOne ? (reserve0, reserve1) : (reserve1, reserve0);
        return PulseMath.getAmountOut(amountIn, reserveIn, reserveOut, h.feeBps);
    }

    function _recipient(Hop[] memory route, uint256 i) private view returns (address) {
        return i + 1 < route.length && route[i + 1].kind == KIND_V2 ? route[i + 1].pool : address(this);
    }

    function _limit(Hop memory h) private pure returns (uint160) {
        if (h.sqrtPriceLimitX96 != 0) return h.sqrtPriceLimitX96;
        return h.zeroForOne ? MIN_SQRT_RATIO + 1 : MAX_SQRT_RATIO - 1;
    }

    function _int(uint256 amount) private pure returns (int256) {
        require(amount <= uint256(type(int256).max), "AMOUNT_TOO_LARGE");
        return int256(amount);
    }

    /// @dev Pay `owed` of the start token to `to` (the first pool, or the lender) once the cycle has returned at
    ///      least owed + minProfit: checked first, so a losing cycle reverts with the reason, not a failed transfer.
    function _repay(Flash memory f, uint256 owed, address to) private {
        uint256 balance = _balance(f.tokenIn);
        require(balance >= f.balanceBefore, "PROFIT_TOO_LOW");
        uint256 gained = balance - f.balanceBefore;
        require(gained >= owed && gained - owed >= f.minProfit, "PROFIT_TOO_LOW");
        _safeTransfer(f.tokenIn, to, owed);
    }

    /// @dev Profit = the gain of the start token's balance over the whole call (so a token that takes a cut in
    ///      transfer cannot make the reported profit exceed the real one); below minProfit everything reverts.
    function _settle(
        bytes32 opportunityId,
        address tokenIn,
        uint256 amountIn,
        uint256 fee,
        uint256 before,
        uint256 minProfit
    ) private returns (uint256 amountOut, uint256 profit) {
        uint256 balanceAfter = _balance(tokenIn);
        // Compared before subtracting, so a losing cycle reverts with the reason rather than an arithmetic panic.
        require(balanceAfter >= before && balanceAfter - before >= minProfit, "PROFIT_TOO_LOW");
        profit = balanceAfter - before;
        amountOut = amountIn + fee + profit;
        emit Arbitrage(opportunityId, tokenIn, amountIn, amountOut, profit);
    }

    function _balance(address token) private view returns (uint256) {
        return IERC20Minimal(token).balanceOf(address(this));
    }

    function _safeTransfer(address token, address to, uint256 value) private {
        (bool ok, bytes memory ret) = token.call(abi.encodeCall(IERC20Minimal.transfer, (to, value)));
        require(ok && (ret.length == 0 || abi.decode(ret, (bool))), "TRANSFER_FAILED");
    }
}
