// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20Minimal} from "./interfaces/IERC20Minimal.sol";
import {IUniswapV3PoolMinimal} from "./interfaces/IUniswapV3PoolMinimal.sol";

/// @title LiquidityMinter
/// @notice Mints genuine Uniswap V3 positions of an exact liquidity, paying from this contract's own balance.
/// @dev The periphery's NonfungiblePositionManager takes token amounts and derives the liquidity (rounding down),
///      so it cannot rebuild a recorded pool's tick map exactly; the pool's own `mint` takes the liquidity itself and
///      needs a caller that pays in `uniswapV3MintCallback`, which is all this contract is. Used by the local market
///      and snapshot deployer (ops/chain/uniswap.py) to give a pool exactly the liquidity net per tick a state gives.
contract LiquidityMinter {
    address public immutable owner;
    // The pool a mint is in progress on: the callback pays no one else.
    address private transient activePool;

    constructor() {
        owner = msg.sender;
    }

    /// @notice Mint `amount` liquidity on `pool` over [tickLower, tickUpper) for `recipient`.
    function mint(address pool, address recipient, int24 tickLower, int24 tickUpper, uint128 amount)
        external
        returns (uint256 amount0, uint256 amount1)
    {
        require(msg.sender == owner, "NOT_OWNER");
        activePool = pool;
        (amount0, amount1) = IUniswapV3PoolMinimal(pool).mint(recipient, tickLower, tickUpper, amount, "");
        activePool = address(0);
    }

    /// @notice Mint several positions on one pool in one transaction (arrays of equal length).
    function mintMany(
        address pool,
        address recipient,
        int24[] calldata tickLower,
        int24[] calldata tickUpper,
        uint128[] calldata amount
    ) external {
        require(msg.sender == owner, "NOT_OWNER");
        require(tickLower.length == tickUpper.length && tickLower.length == amount.length, "LENGTH_MISMATCH");
        activePool = pool;
        for (uint256 i = 0; i < amount.length; ++i) {
            IUniswapV3PoolMinimal(pool).mint(recipient, tickLower[i], tickUpper[i], amount[i], "");
        }
        activePool = address(0);
    }

    /// @notice Called by the pool during `mint`: pay what the position owes.
    function uniswapV3MintCallback(uint256 amount0Owed, uint256 amount1Owed, bytes calldata) external {
        require(msg.sender == activePool && msg.sender != address(0), "UNTRUSTED_POOL");
        IUniswapV3PoolMinimal pool = IUniswapV3PoolMinimal(msg.sender);
        if (amount0Owed > 0) _pay(pool.token0(), msg.sender, amount0Owed);
        if (amount1Owed > 0) _pay(pool.token1(), msg.sender, amount1Owed);
    }

    function _pay(address token, address to, uint256 value) private {
        (bool ok, bytes memory ret) = token.call(abi.encodeCall(IERC20Minimal.transfer, (to, value)));
        require(ok && (ret.length == 0 || abi.decode(ret, (bool))), "TRANSFER_FAILED");
    }
}
