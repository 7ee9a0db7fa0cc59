"""What ``pulsearb validate`` was asked to do (frozen, checked once before anything touches the chain)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from flows.errors import ConfigError

DEFAULT_MAX_GAS_PRICE_WEI = 500 * 10**9
DEFAULT_PRIORITY_FEE_WEI = 10**9
DEFAULT_GAS_LIMIT = 400_000
DEFAULT_TIMEOUT_S = 180.0
LOCAL_CHAIN_IDS = frozenset({31337, 1337})
"""Development chains (anvil, hardhat, ganache) accepted without ``--chain-id``."""


@dataclass(frozen=True, slots=True)
class Options:
    """The validation's settings.

    Attributes:
        rpc_url: JSON-RPC endpoint (may carry an API key: never shown, only its scheme, host and port).
        deployment: deployment file to attach to (None with ``deploy``).
        deploy: deploy the contracts, test tokens and pools first.
        out: where to write the deployment file of a ``deploy`` run (None: not written).
        chain_id: the chain the node must be (None: the deployment file's, else a local development chain).
        amount_in: input of the live arbitrage, raw units of the start token (None: the optimal input).
        min_profit: smallest dislocation worth trading, raw units of the start token (None: 1/100 of a token).
        dry_run_only: simulate only; send nothing.
        key_env: environment variable holding the hex key (None: the signer's defaults).
        keystore: keystore file, password in ``PULSEARB_KEYSTORE_PASSWORD`` (None: the signer's defaults).
        max_gas_price_wei: cap on the fee any transaction may pay, wei per gas.
        priority_fee_wei: tip, wei per gas.
        gas_limit: gas limit of the arbitrage transaction.
        timeout_s: longest wait for any transaction's receipt, seconds.
    """

    rpc_url: str
    deployment: Path | None = None
    deploy: bool = False
    out: Path | None = None
    chain_id: int | None = None
    amount_in: int | None = None
    min_profit: int | None = None
    dry_run_only: bool = False
    key_env: str | None = None
    keystore: Path | None = None
    max_gas_price_wei: int = DEFAULT_MAX_GAS_PRICE_WEI
    priority_fee_wei: int = DEFAULT_PRIORITY_FEE_WEI
    gas_limit: int = DEFAULT_GAS_LIMIT
    timeout_s: float = DEFAULT_TIMEOUT_S

    def check(self) -> None:
        """Refuse contradictory or out-of-range settings.

        Raises:
            ConfigError: one line naming the option and the fix.
        """
        if self.deploy == (self.deployment is not None):
            msg = (
                "give exactly one of --deploy (deploy test contracts and pools) and --deployment FILE (attach; "
                "default $PULSEARB_DEPLOYMENT)"
            )
            raise ConfigError(msg)
        if self.deploy and self.dry_run_only:
            msg = "--dry-run-only sends no transaction, so it cannot --deploy: attach with --deployment FILE"
            raise ConfigError(msg)
        if self.out is not None and not self.deploy:
            msg = "--out writes the deployment of a --deploy run: drop it when attaching with --deployment"
            raise ConfigError(msg)
        if self.keystore is not None and self.key_env:
            msg = "give at most one of --key-env and --keystore"
            raise ConfigError(msg)
        for name, value in (
            ("--chain-id", self.chain_id),
            ("--amount-in", self.amount_in),
            ("--min-profit", self.min_profit),
        ):
            if value is not None and value <= 0:
                msg = f"{name} must be a positive integer, got {value}"
                raise ConfigError(msg)
        if self.priority_fee_wei > self.max_gas_price_wei:
            msg = "--priority-fee-gwei is above --max-gas-price-gwei: lower the tip or raise the cap"
            raise ConfigError(msg)
        if self.timeout_s <= 0 or self.gas_limit < 21_000:
            msg = "--timeout must be positive and --gas-limit at least 21000"
            raise ConfigError(msg)
