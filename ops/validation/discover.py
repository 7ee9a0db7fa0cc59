"""Identify a pool from its address alone, and refuse anything that is not a genuine Uniswap V2 pair or V3 pool.

``pulsearb validate --pools`` trades pools it did not deploy, so nothing about them is taken on trust: every fact
comes from the chain, and the checks are arranged so that a contract that lies in its answers is caught.

1. **Code.** ``eth_getCode`` must be the genuine runtime code of the npm artifacts (``@uniswap/v2-core@1.0.1``
   UniswapV2Pair, byte for byte; ``@uniswap/v3-core@1.0.1`` UniswapV3Pool, byte for byte outside its immutables,
   :func:`ops.validation.bytecode.compare_code`). A V3 pool's tokens, fee, tick spacing and factory are immutables:
   the values its calls report must be the ones in its code's slots, so once the code matches, the answers are the
   genuine code's own and cannot lie. A contract that mimics the interface (``token0()``, ``getReserves()``) with
   other code, such as a V2 fork's pair or pulsearb's own PulsePair, fails here.
2. **Origin.** Genuine code can still be deployed by anyone: a V2 pair's tokens and factory are storage, written
   once by ``initialize``, which only the deployer may call. So the pool's ``factory()`` must hold the genuine
   factory's code (UniswapV2Factory exactly; UniswapV3Factory with its own address as its immutable), and the pool
   must sit at the CREATE2 address that factory derives from the tokens (and fee) with the genuine creation code's
   hash: only that factory, running ``createPair``/``createPool`` on exactly those tokens, can have put code there.
   The factory's ``getPair``/``getPool`` must also map the tokens back to this very address, and with
   ``--factory`` the factory must be one of those named.
3. **Tokens.** Each token must answer ``decimals()`` (the executor trades ERC-20 tokens without transfer fees;
   a fee-on-transfer token makes the dry run's profit differ from the prediction, which the dry run reports).

What this cannot catch is a node that lies about everything consistently (code, storage and calls): the node is
trusted to report its chain; compare against a second node when that matters.
"""

from __future__ import annotations

from collections.abc import Sequence

from eth_abi import decode, encode
from eth_utils import function_signature_to_4byte_selector, to_checksum_address

from base.venues import VenueId
from flows.execution.chain import Chain
from flows.execution.errors import ExecutionReverted
from ops.simulator.chain.deploy import V2_FEE_BPS, PairInfo, TokenInfo
from ops.simulator.chain.uniswap import GENUINE, load_genuine, v2_pair_address, v3_pool_address
from ops.validation.bytecode import compare_code
from ops.validation.checks import max_liquidity_per_tick
from ops.validation.runner import StepFailed

WORD = 32


def _selector(signature: str) -> bytes:
    return function_signature_to_4byte_selector(signature)


def _code(name: str) -> bytes:
    return bytes.fromhex(load_genuine(name).deployed_bytecode[2:])


def _package(name: str) -> str:
    return f"the genuine {name} of {GENUINE[name][0]}"


def short(address: str) -> str:
    """``0x1234abcd…`` for messages that name several addresses."""
    return address[:10] + "…"


class Reader:
    """``eth_call`` reads that answer None when the call reverts or returns too little (a lying or foreign contract
    is an answer to report, not an error); an unreachable node still raises.

    Args:
        chain: the chain adapter.
    """

    def __init__(self, chain: Chain) -> None:
        self.chain = chain

    def raw(self, address: str, signature: str, types: Sequence[str] = (), args: Sequence[object] = ()) -> bytes | None:
        """The call's return data, or None if it reverted."""
        data = _selector(signature) + (encode(list(types), list(args)) if types else b"")
        try:
            return self.chain.call({"to": to_checksum_address(address), "data": "0x" + data.hex()})
        except ExecutionReverted:
            return None

    def word(self, address: str, signature: str, types: Sequence[str] = (), args: Sequence[object] = ()) -> int | None:
        """The first 32-byte word of the answer as an unsigned integer."""
        out = self.raw(address, signature, types, args)
        return int.from_bytes(out[:WORD], "big") if out is not None and len(out) >= WORD else None

    def address(
        self, address: str, signature: str, types: Sequence[str] = (), args: Sequence[object] = ()
    ) -> str | None:
        """The answer as an address (None unless it is a 32-byte word with 12 leading zero bytes)."""
        value = self.word(address, signature, types, args)
        if value is None or value >> 160:
            return None
        return "0x" + value.to_bytes(20, "big").hex()

    def symbol(self, token: str) -> str | None:
        """``symbol()`` as a string (ABI string, or a bytes32 as some old tokens return), None if it has none."""
        out = self.raw(token, "symbol()")
        if not out:
            return None
        try:
            text = str(decode(["string"], out)[0])
        except Exception:  # an old token's bytes32 symbol: decoded below
            text = out[:WORD].rstrip(b"\0").decode("utf-8", "replace")
        text = "".join(c for c in text if c.isprintable()).strip()
        return text[:16] or None


def token_info(reader: Reader, token: str, pool: str) -> TokenInfo:
    """A pool token's decimals and symbol.

    Raises:
        StepFailed: it does not answer ``decimals()`` (not an ERC-20 the executor can trade).
    """
    decimals = reader.word(token, "decimals()")
    if decimals is None or decimals > 77:
        msg = f"token {token} of pool {pool} does not answer decimals(): not an ERC-20 the executor can trade"
        raise StepFailed(msg)
    return TokenInfo(reader.symbol(token) or short(token), token, decimals)


def identify(chain: Chain, address: str, factories: Sequence[str] = ()) -> tuple[PairInfo, dict[str, TokenInfo], str]:
    """Identify the pool at ``address`` and prove it genuine (see the module doc).

    Args:
        chain: the chain adapter.
        address: the pool, lower-case.
        factories: ``--factory``: the factories the pool must come from (empty: any genuine factory).

    Returns:
        The pool (kind, tokens in pool order, decimals, fee, tick spacing), its tokens by address, and its factory.

    Raises:
        StepFailed: one line saying what the address is instead, and the fix.
    """
    reader = Reader(chain)
    code = chain.code(address)
    if not code:
        msg = (
            f"{address} has no code on chain {chain.chain_id()}: an account or nothing, not a pool; "
            "fix --pools (or --rpc)"
        )
        raise StepFailed(msg)
    if code == _code("UniswapV2Pair"):
        kind, factory, token0, token1, fee, spacing = "v2", *_genuine_v2(reader, address), V2_FEE_BPS, 0
    else:
        found = _genuine_v3(reader, address, code)
        if found is None:
            raise StepFailed(_impostor(reader, address, code))
        kind, factory, token0, token1, fee, spacing = "v3", *found
    if factories and factory not in factories:
        msg = f"{address} was created by factory {factory}, which is not one of --factory {', '.join(factories)}"
        raise StepFailed(msg)
    tokens = {t: token_info(reader, t, address) for t in (token0, token1)}
    info = PairInfo(
        address=address,
        venue=int(VenueId.UNISWAP_V3 if kind == "v3" else VenueId.UNISWAP_V2),
        fee_bps=fee // 100 if kind == "v3" else fee,
        token0=token0,
        token1=token1,
        token0_decimals=tokens[token0].decimals,
        token1_decimals=tokens[token1].decimals,
        kind=kind,
        fee_pips=fee if kind == "v3" else 0,
        tick_spacing=spacing,
    )
    return info, tokens, factory


def _genuine_v2(reader: Reader, address: str) -> tuple[str, str, str]:
    """(factory, token0, token1) of a contract whose code is the genuine pair's, once its origin is proven."""
    token0 = reader.address(address, "token0()")
    token1 = reader.address(address, "token1()")
    factory = reader.address(address, "factory()")
    if token0 is None or token1 is None or factory is None:  # genuine code always answers: a node that lies
        msg = f"{address} has the genuine UniswapV2Pair's code but does not answer token0()/token1()/factory()"
        raise StepFailed(msg)
    what = f"{address} runs {_package('UniswapV2Pair')}, but"
    if not int(token0, 16):
        msg = f"{what} was never initialized (token0 is zero): not a pair a factory created"
        raise StepFailed(msg)
    _check_factory(reader, what, factory, "UniswapV2Factory", ())
    expected = v2_pair_address(factory, token0, token1)
    if expected != address:
        msg = (
            f"{what} is not at the address its factory() {factory} creates for {token0}/{token1} ({expected}): "
            "a copy of the code that factory did not create"
        )
        raise StepFailed(msg)
    listed = reader.address(factory, "getPair(address,address)", ["address", "address"], [token0, token1])
    if listed != address:
        msg = f"{what} its factory {factory} maps {token0}/{token1} to {listed}, not to this pair"
        raise StepFailed(msg)
    return factory, token0, token1


def _genuine_v3(reader: Reader, address: str, code: bytes) -> tuple[str, str, str, int, int] | None:
    """(factory, token0, token1, fee pips, tick spacing) if the code is the genuine pool's (None if not)."""
    reference = _code("UniswapV3Pool")
    if len(code) != len(reference):
        return None
    token0 = reader.address(address, "token0()")
    token1 = reader.address(address, "token1()")
    factory = reader.address(address, "factory()")
    fee = reader.word(address, "fee()")
    spacing_word = reader.word(address, "tickSpacing()")
    if None in (token0, token1, factory, fee, spacing_word):
        return None
    assert token0 is not None and token1 is not None and factory is not None
    assert fee is not None and spacing_word is not None
    spacing = spacing_word - 2**256 if spacing_word >> 255 else spacing_word
    if not 0 < spacing < 2**23 or fee >= 2**24:
        return None
    immutables = (factory, token0, token1, fee, spacing, max_liquidity_per_tick(spacing), address)
    if not compare_code(code, reference, immutables).ok:
        return None
    what = f"{address} runs {_package('UniswapV3Pool')}, but"
    _check_factory(reader, what, factory, "UniswapV3Factory", (factory,))
    expected = v3_pool_address(factory, token0, token1, fee)
    if expected != address:
        msg = (
            f"{what} is not at the address its factory() {factory} creates for {token0}/{token1} at fee {fee} "
            f"({expected}): a copy of the code that factory did not create"
        )
        raise StepFailed(msg)
    listed = reader.address(
        factory, "getPool(address,address,uint24)", ["address", "address", "uint24"], [token0, token1, fee]
    )
    if listed != address:
        msg = f"{what} its factory {factory} maps {token0}/{token1} at fee {fee} to {listed}, not to this pool"
        raise StepFailed(msg)
    return factory, token0, token1, fee, spacing


def _check_factory(reader: Reader, what: str, factory: str, name: str, immutables: tuple[str, ...]) -> None:
    code = reader.chain.code(factory)
    if not code:
        msg = f"{what} its factory() {factory} has no code: a copy deployed outside a Uniswap factory"
        raise StepFailed(msg)
    result = compare_code(code, _code(name), immutables)
    if not result.ok:
        msg = f"{what} its factory() {factory} is not {_package(name)} ({result.reason})"
        raise StepFailed(msg)


def _impostor(reader: Reader, address: str, code: bytes) -> str:
    """The one line for a contract that is not a genuine pool: what it claims to be, and why it is not."""
    answers_tokens = reader.address(address, "token0()") is not None and reader.address(address, "token1()")
    if not answers_tokens:
        symbol = reader.symbol(address) if reader.word(address, "decimals()") is not None else None
        if symbol is not None:
            return f"{address} is an ERC-20 token ({symbol}), not a pool: it does not answer token0(); fix --pools"
        return (
            f"{address} does not answer token0()/token1(): not a Uniswap V2 pair or V3 pool (a contract of "
            f"{len(code):,} bytes); fix --pools"
        )
    if reader.raw(address, "getReserves()") is not None:
        reason = compare_code(code, _code("UniswapV2Pair")).reason
        return (
            f"{address} answers token0()/token1()/getReserves() like a Uniswap V2 pair, but it is not "
            f"{_package('UniswapV2Pair')} ({reason}): a fork or an imitation, not traded"
        )
    if reader.raw(address, "slot0()") is not None:
        reason = compare_code(code, _code("UniswapV3Pool")).reason
        return (
            f"{address} answers token0()/token1()/slot0() like a Uniswap V3 pool, but it is not "
            f"{_package('UniswapV3Pool')} ({reason}): a fork or an imitation, "
            "not traded"
        )
    return f"{address} answers token0()/token1() but neither getReserves() nor slot0(): not a Uniswap pool"
