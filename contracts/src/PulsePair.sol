// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20Minimal} from "./interfaces/IERC20Minimal.sol";
import {IPulseCallee} from "./interfaces/IPulseCallee.sol";
import {IPulseFactory} from "./interfaces/IPulseFactory.sol";

/// @title PulsePair
/// @notice Constant-product pool with Uniswap V2's interface, events and math, except that the swap fee is a
///         per-pair number of basis points fixed at creation (30 bps reproduces V2's 997/1000 exactly).
/// @dev The pair is its own LP token. There is no protocol fee (no feeTo/kLast), so mint and burn are the plain
///      V2 formulas. Tokens, fee and factory are immutables read from the factory during construction, which keeps
///      the creation code constant (CREATE2 addresses depend on the tokens only) and makes them cheap to read.
contract PulsePair {
    uint256 public constant MINIMUM_LIQUIDITY = 1000;
    uint256 private constant BPS = 10_000;

    string public constant name = "Pulse LP";
    string public constant symbol = "PULSE-LP";
    uint8 public constant decimals = 18;
    uint256 public totalSupply;
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;

    address public immutable factory;
    address public immutable token0;
    address public immutable token1;
    uint16 public immutable feeBps;

    // One storage slot, as in V2: 112 + 112 + 32 bits.
    uint112 private reserve0;
    uint112 private reserve1;
    uint32 private blockTimestampLast;

    uint256 public price0CumulativeLast;
    uint256 public price1CumulativeLast;

    bool private transient locked;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);
    event Mint(address indexed sender, uint256 amount0, uint256 amount1);
    event Burn(address indexed sender, uint256 amount0, uint256 amount1, address indexed to);
    event Swap(
        address indexed sender,
        uint256 amount0In,
        uint256 amount1In,
        uint256 amount0Out,
        uint256 amount1Out,
        address indexed to
    );
    event Sync(uint112 reserve0, uint112 reserve1);

    modifier lock() {
        // Reentrancy guard in transient storage: costs a few hundred gas instead of two storage writes.
        require(!locked, "PulsePair: LOCKED");
        locked = true;
        _;
        locked = false;
    }

    constructor() {
        (address t0, address t1, uint16 fee) = IPulseFactory(msg.sender).pairParameters();
        factory = msg.sender;
        token0 = t0;
        token1 = t1;
        feeBps = fee;
    }

    function getReserves() public view returns (uint112 _reserve0, uint112 _reserve1, uint32 _blockTimestampLast) {
        return (reserve0, reserve1, blockTimestampLast);
    }

    // ---------------------------------------------------------------- pool

    /// @notice Mint LP tokens to `to` for the token amounts sent to the pair since the last sync.
    function mint(address to) external lock returns (uint256 liquidity) {
        (uint112 r0, uint112 r1,) = getReserves();
        uint256 balance0 = IERC20Minimal(token0).balanceOf(address(this));
        uint256 balance1 = IERC20Minimal(token1).balanceOf(address(this));
        uint256 amount0 = balance0 - r0;
        uint256 amount1 = balance1 - r1;

        uint256 supply = totalSupply;
        if (supply == 0) {
            uint256 root = _sqrt(amount0 * amount1);
            require(root > MINIMUM_LIQUIDITY, "PulsePair: INSUFFICIENT_LIQUIDITY_MINTED");
            liquidity = root - MINIMUM_LIQUIDITY;
            // Locked forever so the share price can never be pushed to where one LP wei is unaffordable.
            _mint(address(0), MINIMUM_LIQUIDITY);
        } else {
            liquidity = _min((amount0 * supply) / r0, (amount1 * supply) / r1);
        }
        require(liquidity > 0, "PulsePair: INSUFFICIENT_LIQUIDITY_MINTED");
        _mint(to, liquidity);

        _update(balance0, balance1, r0, r1);
        emit Mint(msg.sender, amount0, amount1);
    }

    /// @notice Burn the LP tokens held by the pair and send the pro-rata token amounts to `to`.
    function burn(address to) external lock returns (uint256 amount0, uint256 amount1) {
        (uint112 r0, uint112 r1,) = getReserves();
        address t0 = token0;
        address t1 = token1;
        uint256 balance0 = IERC20Minimal(t0).balanceOf(address(this));
        uint256 balance1 = IERC20Minimal(t1).balanceOf(address(this));
        uint256 liquidity = balanceOf[address(this)];

        uint256 supply = totalSupply;
        amount0 = (liquidity * balance0) / supply;
        amount1 = (liquidity * balance1) / supply;
        require(amount0 > 0 && amount1 > 0, "PulsePair: INSUFFICIENT_LIQUIDITY_BURNED");
        _burn(address(this), liquidity);
        _safeTransfer(t0, to, amount0);
        _safeTransfer(t1, to, amount1);

        balance0 = IERC20Minimal(t0).balanceOf(address(this));
        balance1 = IERC20Minimal(t1).balanceOf(address(this));
        _update(balance0, balance1, r0, r1);
        emit Burn(msg.sender, amount0, amount1, to);
    }

    /// @notice Send the requested outputs to `to`, optionally call it back (flash swap), then require the input
    ///         received to keep balance0Adjusted * balance1Adjusted >= reserve0 * reserve1 * 10000**2.
    function swap(uint256 amount0Out, uint256 amount1Out, address to, bytes calldata data) external lock {
        require(amount0Out > 0 || amount1Out > 0, "PulsePair: INSUFFICIENT_OUTPUT_AMOUNT");
        (uint112 r0, uint112 r1,) = getReserves();
        require(amount0Out < r0 && amount1Out < r1, "PulsePair: INSUFFICIENT_LIQUIDITY");

        uint256 balance0;
        uint256 balance1;
        {
            address t0 = token0;
            address t1 = token1;
            require(to != t0 && to != t1, "PulsePair: INVALID_TO");
            // Optimistic transfer first: the K check below decides whether the caller paid enough.
            if (amount0Out > 0) _safeTransfer(t0, to, amount0Out);
            if (amount1Out > 0) _safeTransfer(t1, to, amount1Out);
            if (data.length > 0) IPulseCallee(to).uniswapV2Call(msg.sender, amount0Out, amount1Out, data);
            balance0 = IERC20Minimal(t0).balanceOf(address(this));
            balance1 = IERC20Minimal(t1).balanceOf(address(this));
        }
        // Checked here (and again in _update) so the products below cannot overflow 256 bits.
        require(balance0 <= type(uint112).max && balance1 <= type(uint112).max, "PulsePair: OVERFLOW");

        uint256 amount0In = balance0 > r0 - amount0Out ? balance0 - (r0 - amount0Out) : 0;
        uint256 amount1In = balance1 > r1 - amount1Out ? balance1 - (r1 - amount1Out) : 0;
        require(amount0In > 0 || amount1In > 0, "PulsePair: INSUFFICIENT_INPUT_AMOUNT");
        {
            // The fee is charged on the input only, which makes the largest passing output exactly
            // in*(10000-fee)*rOut / (rIn*10000 + in*(10000-fee)), the quote PulseMath and off-chain code use.
            uint256 fee = feeBps;
            uint256 balance0Adjusted = balance0 * BPS - amount0In * fee;
            uint256 balance1Adjusted = balance1 * BPS - amount1In * fee;
            require(
                balance0Adjusted * balance1Adjusted >= uint256(r0) * uint256(r1) * (BPS * BPS), "PulsePair: K"
            );
        }

        _update(balance0, balance1, r0, r1);
        emit Swap(msg.sender, amount0In, amount1In, amount0Out, amount1Out, to);
    }

    /// @notice Send tokens held above the reserves to `to`.
    function skim(address to) external lock {
        address t0 = token0;
        address t1 = token1;
        _safeTransfer(t0, to, IERC20Minimal(t0).balanceOf(address(this)) - reserve0);
        _safeTransfer(t1, to, IERC20Minimal(t1).balanceOf(address(this)) - reserve1);
    }

    /// @notice Set the reserves to the balances.
    function sync() external lock {
        _update(
            IERC20Minimal(token0).balanceOf(address(this)),
            IERC20Minimal(token1).balanceOf(address(this)),
            reserve0,
            reserve1
        );
    }

    function _update(uint256 balance0, uint256 balance1, uint112 r0, uint112 r1) private {
        require(balance0 <= type(uint112).max && balance1 <= type(uint112).max, "PulsePair: OVERFLOW");
        // Timestamps are kept mod 2**32 and the accumulators are meant to wrap, exactly as V2 oracles expect.
        unchecked {
            uint32 blockTimestamp = uint32(block.timestamp);
            uint32 elapsed = blockTimestamp - blockTimestampLast;
            if (elapsed > 0 && r0 != 0 && r1 != 0) {
                // UQ112x112 prices, as V2's UQ112x112.encode(r1).uqdiv(r0).
                price0CumulativeLast += ((uint256(r1) << 112) / r0) * elapsed;
                price1CumulativeLast += ((uint256(r0) << 112) / r1) * elapsed;
            }
            blockTimestampLast = blockTimestamp;
        }
        reserve0 = uint112(balance0);
        reserve1 = uint112(balance1);
        emit Sync(uint112(balance0), uint112(balance1));
    }

    // ---------------------------------------------------------------- LP token

    function approve(address spender, uint256 value) external returns (bool) {
        allowance[msg.sender][spender] = value;
        emit Approval(msg.sender, spender, value);
        return true;
    }

    function transfer(address to, uint256 value) external returns (bool) {
        _transfer(msg.sender, to, value);
        return true;
    }

    function transferFrom(address from, address to, uint256 value) external returns (bool) {
        uint256 allowed = allowance[from][msg.sender];
        if (allowed != type(uint256).max) {
            require(allowed >= value, "PulsePair: INSUFFICIENT_ALLOWANCE");
            unchecked {
                allowance[from][msg.sender] = allowed - value;
            }
        }
        _transfer(from, to, value);
        return true;
    }

    function _transfer(address from, address to, uint256 value) private {
        uint256 fromBalance = balanceOf[from];
        require(fromBalance >= value, "PulsePair: INSUFFICIENT_BALANCE");
        unchecked {
            balanceOf[from] = fromBalance - value;
            balanceOf[to] += value;
        }
        emit Transfer(from, to, value);
    }

    function _mint(address to, uint256 value) private {
        totalSupply += value;
        unchecked {
            balanceOf[to] += value;
        }
        emit Transfer(address(0), to, value);
    }

    function _burn(address from, uint256 value) private {
        balanceOf[from] -= value;
        unchecked {
            totalSupply -= value;
        }
        emit Transfer(from, address(0), value);
    }

    // ---------------------------------------------------------------- helpers

    function _safeTransfer(address token, address to, uint256 value) private {
        // Low-level call so tokens that return nothing (USDT-style) work as well as ones that return a bool.
        (bool ok, bytes memory ret) = token.call(abi.encodeCall(IERC20Minimal.transfer, (to, value)));
        require(ok && (ret.length == 0 || abi.decode(ret, (bool))), "PulsePair: TRANSFER_FAILED");
    }

    function _min(uint256 a, uint256 b) private pure returns (uint256) {
        return a < b ? a : b;
    }

    /// @dev Floor square root by Newton's method (Babylonian), as V2 uses for the first mint.
    function _sqrt(uint256 y) private pure returns (uint256 z) {
        if (y > 3) {
            z = y;
            uint256 x = y / 2 + 1;
            while (x < z) {
                z = x;
                x = (y / x + x) / 2;
            }
        } else if (y != 0) {
            z = 1;
        }
    }
}
