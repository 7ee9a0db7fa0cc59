"""Move prices on the local chain: swaps on the deployed pairs by a trader account, as a router would.

A swap is two transactions sent back to back (transfer the input into the pair, then ``swap`` with the exact
output ``flows.amm.v2.get_amount_out`` gives on the live reserves), so a large one dislocates one venue against
the other: the arbitrage the pipeline should find and execute.
"""

from __future__ import annotations

from web3 import Web3

from flows.amm.v2 import get_amount_out
from flows.execution.signer import Signer
from ops.chain.deploy import Deployment, PairInfo
from ops.chain.tx import PRIORITY_FEE_WEI, Sent, TxSender, contract


class Trader:
    """Swaps on the deployment's pairs from one account.

    Args:
        w3: a connected Web3.
        signer: the trader (funded by ``ops.chain.deploy --trader``).
        deployment: what was deployed.
    """

    def __init__(self, w3: Web3, signer: Signer, deployment: Deployment) -> None:
        self.w3 = w3
        self.deployment = deployment
        self.tx = TxSender(w3, signer)
        self.address = signer.address

    def reserves(self, pair: PairInfo) -> tuple[int, int]:
        """(reserve0, reserve1) of ``pair`` now, raw units."""
        r0, r1, _ = contract(self.w3, "PulsePair", pair.address).functions.getReserves().call()
        return int(r0), int(r1)

    def send_swap(
        self,
        pair: PairInfo,
        token_in: str,
        amount_in: int,
        tip_wei: int = PRIORITY_FEE_WEI,
        amount_out: int | None = None,
    ) -> Sent:
        """Broadcast a swap (transfer + swap) without waiting; returns the swap transaction.

        Args:
            pair: where to swap.
            token_in: the token paid in.
            amount_in: raw units of ``token_in``.
            tip_wei: priority fee of both transactions (a higher one is ordered first in a block).
            amount_out: raw units of the other token to take out; None takes ``get_amount_out`` on the live
                reserves (the most the pair's K check allows).
        """
        token_in = token_in.lower()
        zero_for_one = token_in == pair.token0
        if amount_out is None:
            r0, r1 = self.reserves(pair)
            reserve_in, reserve_out = (r0, r1) if zero_for_one else (r1, r0)
            amount_out = get_amount_out(amount_in, reserve_in, reserve_out, pair.fee_bps)
        token = contract(self.w3, "TestToken", token_in)
        transfer = token.encode_abi("transfer", args=[Web3.to_checksum_address(pair.address), amount_in])
        self.tx.send(token.address, transfer, "transfer", tip_wei=tip_wei)
        outs = (0, amount_out) if zero_for_one else (amount_out, 0)
        pc = contract(self.w3, "PulsePair", pair.address)
        return self.tx.send(pc.address, pc.encode_abi("swap", args=[*outs, self.address, b""]), "swap", tip_wei=tip_wei)

    def swap(self, pair: PairInfo, token_in: str, amount_in: int) -> Sent:
        """Swap and wait until it is mined (requires automine or interval mining)."""
        sent = self.send_swap(pair, token_in, amount_in)
        self.tx.wait([sent])
        return sent
