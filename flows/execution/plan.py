"""From an accepted opportunity to a transaction plan: calldata, on-chain profit guard, EIP-1559 fee caps (pure).

No web3 here: calldata is ABI-encoded with eth_abi and checked against the committed ArbExecutor artifact by the
tests. The contract side is described in contracts/README.md:

- own funds: ``execute(bytes32 opportunityId, address[] pairs, address[] path, uint256 amountIn, uint256
  minProfit)``;
- flash loan (the opportunity was priced with a flash fee): ``executeWithFlashLoan(bytes32, address lender,
  address[] pairs, address[] path, uint256 amountIn, uint256 minProfit)``, whose profit is net of the fee.

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

EXECUTE_SIGNATURE = "execute(bytes32,address[],address[],uint256,uint256)"
FLASH_SIGNATURE = "executeWithFlashLoan(bytes32,address,address[],address[],uint256,uint256)"
EXECUTE_SELECTOR = function_signature_to_4byte_selector(EXECUTE_SIGNATURE)
FLASH_SELECTOR = function_signature_to_4byte_selector(FLASH_SIGNATURE)
CANCEL_GAS = 21_000
BPS = 10_000


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
        kind: ``execute``, ``flash`` or ``cancel``.
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


def calldata(opp: Opportunity, min_profit: int, flash_lender: str = "") -> bytes:
    """ABI-encoded call of ``execute`` (or ``executeWithFlashLoan`` when ``flash_lender`` is given)."""
    oid = opportunity_id_bytes32(opp.id)
    pairs = [to_checksum_address(p) for p in opp.pools]
    path = [to_checksum_address(t) for t in opp.path]
    if flash_lender:
        args = encode(
            ["bytes32", "address", "address[]", "address[]", "uint256", "uint256"],
            [oid, to_checksum_address(flash_lender), pairs, path, opp.amount_in, min_profit],
        )
        return FLASH_SELECTOR + args
    args = encode(
        ["bytes32", "address[]", "address[]", "uint256", "uint256"], [oid, pairs, path, opp.amount_in, min_profit]
    )
    return EXECUTE_SELECTOR + args


def plan_execution(
    opp: Opportunity,
    *,
    chain_id: int,
    executor: str,
    fees: Fees,
    gas_limit: int,
    min_net_profit: int,
    flash_lender: str = "",
) -> TxPlan:
    """Plan the transaction that executes ``opp``.

    A flash loan is used when the opportunity was priced with a flash fee and a lender is configured.

    Args:
        opp: the accepted opportunity.
        chain_id: the chain's id.
        executor: the ArbExecutor address.
        fees: fee caps from :func:`fee_caps`.
        gas_limit: gas limit, units of gas.
        min_net_profit: the risk limit's net-profit floor for the start token, raw units.
        flash_lender: FlashLender address ("" trades from the executor's own balance).
    """
    lender = flash_lender if opp.flash_fee > 0 else ""
    min_profit = on_chain_min_profit(opp, min_net_profit)
    return TxPlan(
        opportunity_id=opp.id,
        kind="flash" if lender else "execute",
        chain_id=chain_id,
        to=to_checksum_address(executor),
        data=calldata(opp, min_profit, lender),
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
