"""Move prices on the local chain: swaps on the deployed pools by a trader account, as users of the venues would.

- A V2 swap is two transactions sent back to back (transfer the input into the pair, then ``swap`` with the exact
  output ``flows.amm.v2.get_amount_out`` gives on the live reserves), as a router does.
- A V3 swap goes through the genuine SwapRouter's ``exactInputSingle`` (the trader approves the router once per
  token), with an optional price limit: the pool stops there and takes only the input that got it there, so
  :meth:`Trader.move_v3_to` moves a pool to a target price exactly.

A large swap on one venue dislocates it against the others: the arbitrage the pipeline should find and execute.
"""

from __future__ import annotations

from web3 import Web3

from base.errors import StackError
from flows.amm.v2 import get_amount_out
from flows.amm.v3.tick_math import MAX_SQRT_RATIO, MIN_SQRT_RATIO
from flows.execution.signer import Signer
from ops.simulator.chain.deploy import Deployment, PairInfo
from ops.simulator.chain.tx import PRIORITY_FEE_WEI, Sent, TxSender, contract
from ops.simulator.chain.uniswap import genuine, read_v2_reserves, read_v3_slot

V3_SWAP_GAS = 1_500_000  # a swap that crosses many initialized ticks costs ~25,000 gas per tick
MAX_UINT256 = 2**256 - 1
DEADLINE = 2**63  # exactInputSingle's deadline: none in practice


class Trader:
    """Swaps on the deployment's pools from one account.

    Args:
        w3: a connected Web3.
        signer: the trader (funded by ``ops.simulator.chain.deploy --trader``).
        deployment: what was deployed.
    """

    def __init__(self, w3: Web3, signer: Signer, deployment: Deployment) -> None:
        self.w3 = w3
        self.deployment = deployment
        self.tx = TxSender(w3, signer)
        self.address = signer.address
        self._approved: set[str] = set()

    def reserves(self, pair: PairInfo) -> tuple[int, int]:
        """(reserve0, reserve1) of a V2 ``pair`` now, raw units."""
        return read_v2_reserves(self.w3, pair.address)

    def send_swap(
        self,
        pair: PairInfo,
        token_in: str,
        amount_in: int,
        tip_wei: int = PRIORITY_FEE_WEI,
        amount_out: int | None = None,
        sqrt_price_limit_x96: int = 0,
    ) -> Sent:
        """Broadcast a swap without waiting; returns the swap transaction.

        Args:
            pair: where to swap (a V2 pair or a V3 pool).
            token_in: the token paid in.
            amount_in: raw units of ``token_in`` (a V3 pool may take less when it reaches the price limit).
            tip_wei: priority fee of the transactions (a higher one is ordered first in a block).
            amount_out: V2 only: raw units of the other token to take out; None takes ``get_amount_out`` on the
                live reserves (the most the pair's K check allows).
            sqrt_price_limit_x96: V3 only: the price the swap may not pass (0: none).
        """
        if pair.kind == "v3":
            return self.send_swap_v3(pair, token_in, amount_in, sqrt_price_limit_x96, tip_wei)
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
        pc = genuine(self.w3, "UniswapV2Pair", pair.address)
        return self.tx.send(pc.address, pc.encode_abi("swap", args=[*outs, self.address, b""]), "swap", tip_wei=tip_wei)

    def send_swap_v3(
        self,
        pool: PairInfo,
        token_in: str,
        amount_in: int,
        sqrt_price_limit_x96: int = 0,
        tip_wei: int = PRIORITY_FEE_WEI,
    ) -> Sent:
        """Broadcast ``SwapRouter.exactInputSingle`` on a V3 pool (approving the router first, once per token).

        Raises:
            StackError: the deployment has no SwapRouter.
        """
        router = self.deployment.swap_router
        if not router:
            msg = "the deployment has no SwapRouter: redeploy with ops.simulator.chain.deploy to swap on V3 pools"
            raise StackError(msg)
        token_in = token_in.lower()
        token_out = pool.token1 if token_in == pool.token0 else pool.token0
        if token_in not in self._approved:
            token = contract(self.w3, "TestToken", token_in)
            approve = token.encode_abi("approve", args=[Web3.to_checksum_address(router), MAX_UINT256])
            self.tx.send(token.address, approve, "approve router", tip_wei=tip_wei)
            self._approved.add(token_in)
        r = genuine(self.w3, "SwapRouter", router)
        params = (
            Web3.to_checksum_address(token_in),
            Web3.to_checksum_address(token_out),
            pool.fee_pips,
            self.address,
            DEADLINE,
            amount_in,
            0,
            sqrt_price_limit_x96,
        )
        data = r.encode_abi("exactInputSingle", args=[params])
        return self.tx.send(r.address, data, "exactInputSingle", gas=V3_SWAP_GAS, tip_wei=tip_wei)

    def move_v3_to(
        self, pool: PairInfo, sqrt_price_x96: int, budget: int, tip_wei: int = PRIORITY_FEE_WEI
    ) -> Sent | None:
        """Swap a V3 pool to ``sqrt_price_x96`` (price limit = the target), paying at most ``budget`` raw units of
        the input token; None when the pool is already there.

        Raises:
            ValueError: the target is outside the pool's price range.
        """
        if not MIN_SQRT_RATIO < sqrt_price_x96 < MAX_SQRT_RATIO:
            msg = f"target sqrt price {sqrt_price_x96} is outside (MIN_SQRT_RATIO, MAX_SQRT_RATIO)"
            raise ValueError(msg)
        now = read_v3_slot(self.w3, pool.address).sqrt_price_x96
        if now == sqrt_price_x96:
            return None
        token_in = pool.token0 if sqrt_price_x96 < now else pool.token1  # selling token0 lowers the price
        return self.send_swap_v3(pool, token_in, budget, sqrt_price_x96, tip_wei)

    def swap(self, pair: PairInfo, token_in: str, amount_in: int, sqrt_price_limit_x96: int = 0) -> Sent:
        """Swap and wait until it is mined (requires automine or interval mining)."""
        sent = self.send_swap(pair, token_in, amount_in, sqrt_price_limit_x96=sqrt_price_limit_x96)
        self.tx.wait([sent])
        return sent
