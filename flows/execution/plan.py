"""From an accepted opportunity to a transaction plan: calldata, on-chain profit guard, EIP-1559 fee caps (pure).

No web3 here: calldata is ABI-encoded with eth_abi and checked against the committed ArbExecutor artifact by the
tests. The contract (contracts/README.md) takes the cycle as a route of hops, each
``(address pool, uint8 kind, bool zeroForOne, uint16 feeBps, uint160 sqrtPriceLimitX96)``:

- ``kind``: 0 for a V2 pair (and forks), 1 for a V3 pool, from the opportunity's ``kinds``;
- ``zeroForOne``: the hop pays in its pool's token0, the numerically smaller address (V2 and V3 both sort them);
- ``feeBps``: a V2 hop's fee as the off-chain math used it (``fees_bps``), so forks charging 25 or 20 bps trade
  with the formula that priced them; 0 for V3 hops (the pool applies its own fee);
- ``sqrtPriceLimitX96``: 0, i.e. no limit (MIN_SQRT_RATIO+1 / MAX_SQRT_RATIO-1), what the prediction assumed.

Three capital modes (``risk.execution.capital``), one entry point each:

- ``own``: ``execute(bytes32 opportunityId, address tokenIn, Hop[] hops, uint256 amountIn, uint256 minProfit)``
  from the executor's balance;
- ``flash_swap`` (default): ``executeWithFlashSwap`` (same arguments): the first pool pays out first and is paid
  ``amountIn`` at the end, so no capital and no lender is needed and the profit is the same;
- ``flash_loan``: ``executeWithFlashLoan(bytes32, address lender, address tokenIn, Hop[], uint256, uint256)``
  borrows from an ERC-3156 lender; its profit is net of the lender's fee.

The on-chain guard ``minProfit`` is the opportunity's gas cost (in the start token) plus the configured minimum
net profit, so a trade that would end below the floor after gas reverts (``PROFIT_TOO_LOW``) instead of losing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from eth_abi import encode
from eth_utils import function_signature_to_4byte_selector, keccak, to_checksum_address

from flows.opportunity import Opportunity

HOP_TYPE = "(address,uint8,bool,uint16,uint160)"
EXECUTE_SIGNATURE = f"execute(bytes32,address,{HOP_TYPE}[],uint256,uint256)"
FLASH_SWAP_SIGNATURE = f"executeWithFlashSwap(bytes32,address,{HOP_TYPE}[],uint256,uint256)"
FLASH_LOAN_SIGNATURE = f"executeWithFlashLoan(bytes32,address,address,{HOP_TYPE}[],uint256,uint256)"
EXECUTE_SELECTOR = function_signature_to_4byte_selector(EXECUTE_SIGNATURE)
FLASH_SWAP_SELECTOR = function_signature_to_4byte_selector(FLASH_SWAP_SIGNATURE)
FLASH_LOAN_SELECTOR = function_signature_to_4byte_selector(FLASH_LOAN_SIGNATURE)
CAPITAL_MODES = ("own", "flash_swap", "flash_loan")
"""``risk.execution.capital``: where the cycle's input comes from."""
PLAN_KINDS = {"own": "execute", "flash_swap": "flash_swap", "flash_loan": "flash_loan"}
"""Capital mode -> the plan's (and ledger attempt's) kind."""
HOP_KINDS = {"v2": 0, "v3": 1}
"""An opportunity's hop kind -> the contract's ``Hop.kind``."""
CANCEL_GAS = 21_000
BPS = 10_000


class RouteError(ValueError):
    """An opportunity cannot be encoded as a route (a hop of unknown kind, a malformed path)."""


@dataclass(frozen=True, slots=True)
class Hop:
    """One hop of the executor's route, as the contract's ``Hop`` struct.

    Attributes:
        pool: pair or pool address.
        kind: ``v2`` or ``v3``.
        zero_for_one: the hop pays in token0 (the smaller address) and takes token1.
        fee_bps: a V2 hop's fee, bps (0 for V3).
        sqrt_price_limit_x96: a V3 hop's price limit (0: none).
    """

    pool: str
    kind: str
    zero_for_one: bool
    fee_bps: int = 0
    sqrt_price_limit_x96: int = 0

    def abi(self) -> tuple[str, int, bool, int, int]:
        """The struct's ABI tuple."""
        pool = to_checksum_address(self.pool)
        return pool, HOP_KINDS[self.kind], self.zero_for_one, self.fee_bps, self.sqrt_price_limit_x96


def zero_for_one(token_in: str, token_out: str) -> bool:
    """True when ``token_in`` is its pool's token0: pairs and pools sort their tokens by numeric address."""
    return int(token_in, 16) < int(token_out, 16)


def route_of(opp: Opportunity) -> tuple[Hop, ...]:
    """The opportunity's cycle as the executor's hops.

    Raises:
        RouteError: a hop's kind is not ``v2``/``v3`` or the path does not fit the pools.
    """
    kinds = opp.hop_kinds
    if len(opp.path) != len(opp.pools) + 1 or len(kinds) != len(opp.pools) or len(opp.fees_bps) != len(opp.pools):
        msg = f"opportunity {opp.id}: path, pools, kinds and fees_bps do not describe one cycle"
        raise RouteError(msg)
    hops = []
    for i, pool in enumerate(opp.pools):
        if kinds[i] not in HOP_KINDS:
            msg = f"opportunity {opp.id}: hop {i} is a {kinds[i]!r} leg; the executor trades only v2 and v3 pools"
            raise RouteError(msg)
        fee = opp.fees_bps[i] if kinds[i] == "v2" else 0
        hops.append(Hop(pool, kinds[i], zero_for_one(opp.path[i], opp.path[i + 1]), fee))
    return tuple(hops)


def expected_profit(opp: Opportunity, capital: str, lender_fee: int | None = None) -> int:
    """The profit the executor should report, raw units of the start token: the cycle's gain, less the lender's
    fee when the capital (or plan kind) is ``flash_loan``: ``lender_fee`` (what the lender's ``flashFee`` says),
    else the fee the opportunity was priced with."""
    if capital != "flash_loan":
        return opp.gross_profit
    return opp.gross_profit - (opp.flash_fee if lender_fee is None else lender_fee)


def opportunity_id_bytes32(opportunity_id: str) -> bytes:
    """The ``bytes32`` the executor logs for an opportunity id.

    pulsearb ids are 32 hex digits (16 bytes): they are left-aligned and zero-padded, so the event's topic reads
    back as the id followed by zeros. Any other id is hashed (keccak256).
    """
    text = opportunity_id.removeprefix("0x")
    if len(text) <= 64 and len(text) % 2 == 0:
        try:
            return bytes.fromhex(text).ljust(32, b"\x00")
        except ValueError:
            pass
    return keccak(text=opportunity_id)


@dataclass(frozen=True, slots=True)
class Fees:
    """EIP-1559 fee caps, wei per gas."""

    max_fee_per_gas: int
    max_priority_fee_per_gas: int


def fee_caps(base_fee_wei: int, priority_fee_wei: int, cap_wei: int) -> Fees:
    """Fee caps for the next block: ``maxFee = min(cap, 2 * baseFee + tip)``, ``tip = min(priority, maxFee)``.

    Twice the base fee survives six full blocks of base-fee growth; the cap (the risk limit
    ``max_gas_price_wei``) bounds what is ever paid, since the effective price is ``min(maxFee, baseFee + tip)``.

    Raises:
        ValueError: the base fee is above the cap (the risk engine rejects such opportunities before this).
    """
    if base_fee_wei > cap_wei:
        msg = f"base fee {base_fee_wei} wei is above the gas price cap {cap_wei} wei"
        raise ValueError(msg)
    max_fee = min(cap_wei, 2 * base_fee_wei + priority_fee_wei)
    return Fees(max_fee, min(priority_fee_wei, max_fee))


def bumped(fees: Fees, bump_bps: int, cap_wei: int) -> Fees | None:
    """Fees for a replacement with the same nonce: both caps raised by at least ``bump_bps`` (rounded up).

    Nodes accept a replacement only if it raises both the fee cap and the tip by their minimum (geth: 10 %).
    Returns None when the raised fee cap would exceed ``cap_wei``: the transaction cannot be replaced under the
    limit.
    """
    max_fee = -(-fees.max_fee_per_gas * (BPS + bump_bps) // BPS)
    tip = -(-fees.max_priority_fee_per_gas * (BPS + bump_bps) // BPS)
    if max_fee == fees.max_fee_per_gas:
        max_fee += 1
    if tip == fees.max_priority_fee_per_gas:
        tip += 1
    if max_fee > cap_wei:
        return None
    return Fees(max_fee, min(tip, max_fee))


@dataclass(frozen=True, slots=True)
class TxPlan:
    """A transaction to sign, minus its nonce.

    Attributes:
        opportunity_id: the opportunity it executes ("" for a cancellation).
        kind: ``execute`` (own capital), ``flash_swap``, ``flash_loan`` or ``cancel``.
        chain_id: EIP-155 chain id.
        to: target address (checksummed).
        data: calldata.
        value: wei sent along (always 0 here).
        gas_limit: gas limit, units of gas.
        fees: EIP-1559 caps.
        min_profit: the on-chain profit guard, raw units of the start token (0 for a cancellation).
    """

    opportunity_id: str
    kind: str
    chain_id: int
    to: str
    data: bytes
    value: int
    gas_limit: int
    fees: Fees
    min_profit: int

    def tx(self, nonce: int) -> dict[str, Any]:
        """The EIP-1559 (type 2) transaction dict for the signer."""
        return {
            "type": 2,
            "chainId": self.chain_id,
            "nonce": nonce,
            "to": self.to,
            "value": self.value,
            "data": self.data,
            "gas": self.gas_limit,
            "maxFeePerGas": self.fees.max_fee_per_gas,
            "maxPriorityFeePerGas": self.fees.max_priority_fee_per_gas,
        }

    def call(self, sender: str) -> dict[str, Any]:
        """The ``eth_call`` request that simulates this plan from ``sender``."""
        return {"from": sender, "to": self.to, "data": "0x" + self.data.hex(), "gas": self.gas_limit}

    def with_fees(self, fees: Fees) -> TxPlan:
        """The same transaction with other fee caps (a replacement)."""
        return replace(self, fees=fees)


def on_chain_min_profit(opp: Opportunity, min_net_profit: int) -> int:
    """The ``minProfit`` guard: the gas cost in the start token plus the required net profit (never negative)."""
    return max(0, opp.gas_cost + min_net_profit)


def calldata(opp: Opportunity, min_profit: int, capital: str = "flash_swap", flash_lender: str = "") -> bytes:
    """ABI-encoded call of the entry point of ``capital`` (see the module doc).

    Raises:
        RouteError: the route cannot be encoded.
        ValueError: an unknown capital mode, or ``flash_loan`` without a lender.
    """
    oid = opportunity_id_bytes32(opp.id)
    hops = [h.abi() for h in route_of(opp)]
    token_in = to_checksum_address(opp.token_in)
    tail = [hops, opp.amount_in, min_profit]
    route = f"{HOP_TYPE}[]"
    if capital == "own":
        return EXECUTE_SELECTOR + encode(["bytes32", "address", route, "uint256", "uint256"], [oid, token_in, *tail])
    if capital == "flash_swap":
        args = encode(["bytes32", "address", route, "uint256", "uint256"], [oid, token_in, *tail])
        return FLASH_SWAP_SELECTOR + args
    if capital == "flash_loan":
        if not flash_lender:
            msg = "capital flash_loan needs a flash lender address"
            raise ValueError(msg)
        args = encode(
            ["bytes32", "address", "address", route, "uint256", "uint256"],
            [oid, to_checksum_address(flash_lender), token_in, *tail],
        )
        return FLASH_LOAN_SELECTOR + args
    msg = f"unknown capital mode {capital!r}: expected one of {', '.join(CAPITAL_MODES)}"
    raise ValueError(msg)


def plan_execution(
    opp: Opportunity,
    *,
    chain_id: int,
    executor: str,
    fees: Fees,
    gas_limit: int,
    min_net_profit: int,
    capital: str = "flash_swap",
    flash_lender: str = "",
) -> TxPlan:
    """Plan the transaction that executes ``opp``.

    Args:
        opp: the accepted opportunity.
        chain_id: the chain's id.
        executor: the ArbExecutor address.
        fees: fee caps from :func:`fee_caps`.
        gas_limit: gas limit, units of gas.
        min_net_profit: the risk limit's net-profit floor for the start token, raw units.
        capital: ``own``, ``flash_swap`` or ``flash_loan``.
        flash_lender: FlashLender address (``flash_loan`` only).

    Raises:
        RouteError: the route cannot be encoded.
        ValueError: an unknown capital mode, or ``flash_loan`` without a lender.
    """
    min_profit = on_chain_min_profit(opp, min_net_profit)
    return TxPlan(
        opportunity_id=opp.id,
        kind=PLAN_KINDS.get(capital, capital),
        chain_id=chain_id,
        to=to_checksum_address(executor),
        data=calldata(opp, min_profit, capital, flash_lender),
        value=0,
        gas_limit=gas_limit,
        fees=fees,
        min_profit=min_profit,
    )


def cancel_plan(sender: str, chain_id: int, fees: Fees) -> TxPlan:
    """A cancellation: a 0-value transfer to oneself, sent with the nonce of the transaction to cancel."""
    return TxPlan("", "cancel", chain_id, to_checksum_address(sender), b"", 0, CANCEL_GAS, fees, 0)


def plan_to_dict(plan: TxPlan) -> dict[str, Any]:
    """JSON-ready form for the ledger."""
    return {
        "opportunity_id": plan.opportunity_id,
        "kind": plan.kind,
        "chain_id": plan.chain_id,
        "to": plan.to,
        "data": plan.data.hex(),
        "value": plan.value,
        "gas_limit": plan.gas_limit,
        "max_fee_per_gas": str(plan.fees.max_fee_per_gas),
        "max_priority_fee_per_gas": str(plan.fees.max_priority_fee_per_gas),
        "min_profit": str(plan.min_profit),
    }


def plan_from_dict(data: Mapping[str, Any]) -> TxPlan:
    """Inverse of :func:`plan_to_dict`."""
    return TxPlan(
        opportunity_id=data["opportunity_id"],
        kind=data["kind"],
        chain_id=int(data["chain_id"]),
        to=data["to"],
        data=bytes.fromhex(data["data"]),
        value=int(data["value"]),
        gas_limit=int(data["gas_limit"]),
        fees=Fees(int(data["max_fee_per_gas"]), int(data["max_priority_fee_per_gas"])),
        min_profit=int(data["min_profit"]),
    )
