// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {PulsePair} from "./PulsePair.sol";

/// @title PulseFactory
/// @notice Creates PulsePairs, one per token pair, each with its swap fee in basis points. Two factories with
///         different fees act as two venues. Same registry surface and PairCreated event as Uniswap V2's factory.
contract PulseFactory {
    /// @notice Highest fee a pair may charge: 10 %; anything higher is a typo, not a venue.
    uint16 public constant MAX_FEE_BPS = 1_000;

    mapping(address => mapping(address => address)) public getPair;
    address[] public allPairs;

    // Handed to the pair's constructor through pairParameters() during createPair only.
    address private transient pendingToken0;
    address private transient pendingToken1;
    uint16 private transient pendingFeeBps;

    event PairCreated(address indexed token0, address indexed token1, address pair, uint256 allPairsLength);

    function allPairsLength() external view returns (uint256) {
        return allPairs.length;
    }

    /// @notice keccak256 of PulsePair's creation code, for computing pair addresses off chain (CREATE2 with salt
    ///         keccak256(abi.encodePacked(token0, token1))).
    function pairCodeHash() external pure returns (bytes32) {
        return keccak256(type(PulsePair).creationCode);
    }

    /// @notice Read by a pair's constructor: its sorted tokens and its fee.
    function pairParameters() external view returns (address token0, address token1, uint16 feeBps) {
        return (pendingToken0, pendingToken1, pendingFeeBps);
    }

    /// @notice Create the pair for two tokens with a swap fee of `feeBps` basis points (30 = 0.3 %).
    function createPair(address tokenA, address tokenB, uint16 feeBps) external returns (address pair) {
        require(tokenA != tokenB, "PulseFactory: IDENTICAL_ADDRESSES");
        (address token0, address token1) = tokenA < tokenB ? (tokenA, tokenB) : (tokenB, tokenA);
        require(token0 != address(0), "PulseFactory: ZERO_ADDRESS");
        // A pair over an address without code would accept "transfers" that move nothing.
        require(token0.code.length > 0 && token1.code.length > 0, "PulseFactory: NOT_A_CONTRACT");
        require(feeBps <= MAX_FEE_BPS, "PulseFactory: FEE_TOO_HIGH");
        require(getPair[token0][token1] == address(0), "PulseFactory: PAIR_EXISTS");

        pendingToken0 = token0;
        pendingToken1 = token1;
        pendingFeeBps = feeBps;
        pair = address(new PulsePair{salt: keccak256(abi.encodePacked(token0, token1))}());
        pendingToken0 = address(0);
        pendingToken1 = address(0);
        pendingFeeBps = 0;

        getPair[token0][token1] = pair;
        getPair[token1][token0] = pair;
        allPairs.push(pair);
        emit PairCreated(token0, token1, pair, allPairs.length);
    }
}
