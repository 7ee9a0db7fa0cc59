"""What the validation steps share: the chain, the signer, the deployment, and what each step found.

Reads go through the committed ABIs (:func:`ops.simulator.chain.tx.contract`); a library error raised here is turned
into one line by the runner. The session owns a temporary directory for the execution ledger (the executor writes a row
before every broadcast, as in production) and closes it in :meth:`Session.close`.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from web3 import Web3

from flows.execution.chain import Chain, Head, redact_url
from flows.execution.ledger import Ledger
from flows.execution.outcome import Finished
from flows.execution.signer import Signer
from flows.opportunity import Opportunity
from ops.simulator.chain.deploy import Deployment, PairInfo, TokenInfo
from ops.simulator.chain.tx import contract
from ops.validation.arb import Cycle, Pool
from ops.validation.options import Options
from ops.validation.route import Priced, Route


@dataclass(slots=True)
class Session:
    """State passed from step to step (filled in as they run)."""

    options: Options
    chain: Chain | None = None
    head: Head | None = None
    signer: Signer | None = None
    deployment: Deployment | None = None
    pools: tuple[PairInfo, PairInfo] | None = None
    executor: str = ""
    token_in: str = ""
    cycle: Cycle | None = None
    cycle_pools: tuple[PairInfo, ...] = ()
    routes: tuple[Route, ...] = ()
    tokens: dict[str, TokenInfo] = field(default_factory=dict)
    priced: Priced | None = None
    opportunity: Opportunity | None = None
    executor_balance_before: int = 0
    finished: Finished | None = None
    figures: dict[str, Any] = field(default_factory=dict)
    _tmp: tempfile.TemporaryDirectory | None = None
    _ledger: Ledger | None = None

    @property
    def where(self) -> str:
        """The endpoint as shown to the user: scheme, host and port only."""
        return redact_url(self.options.rpc_url)

    @property
    def w3(self) -> Web3:
        """The connected Web3 (after the chain step)."""
        assert self.chain is not None
        return self.chain.w3

    def ledger(self) -> Ledger:
        """The execution ledger of this run (a temporary file, removed on close)."""
        if self._ledger is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="pulsearb-validate-")
            self._ledger = Ledger(Path(self._tmp.name) / "ledger.sqlite")
        return self._ledger

    def close(self) -> None:
        """Close the ledger and remove its directory."""
        if self._ledger is not None:
            self._ledger.close()
            self._ledger = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    # reads ------------------------------------------------------------------------------------------------
    def balance(self, token: str, who: str) -> int:
        """``token.balanceOf(who)``, raw units."""
        return int(contract(self.w3, "TestToken", token).functions.balanceOf(Web3.to_checksum_address(who)).call())

    def native_balance(self, who: str) -> int:
        """The account's native-token balance, wei."""
        return int(self.w3.eth.get_balance(Web3.to_checksum_address(who)))

    def pool(self, pair: PairInfo, block: int | str = "latest") -> Pool:
        """``pair`` with its reserves at ``block``."""
        r0, r1, _ = contract(self.w3, "PulsePair", pair.address).functions.getReserves().call(block_identifier=block)
        return Pool(pair, int(r0), int(r1))

    def _token(self, token: str) -> TokenInfo | None:
        """What the ``--pools`` run read of a token, else the deployment file's entry (None if neither knows it)."""
        if token.lower() in self.tokens:
            return self.tokens[token.lower()]
        for info in self.deployment.tokens.values() if self.deployment is not None else ():
            if info.address == token.lower():
                return info
        return None

    def symbol(self, token: str) -> str:
        """A token's symbol (its short address if unknown)."""
        info = self._token(token)
        return info.symbol if info is not None else token[:10]

    def decimals(self, token: str) -> int:
        """A token's decimals (18 if unknown)."""
        info = self._token(token)
        return info.decimals if info is not None else 18
