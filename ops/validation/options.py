"""What ``pulsearb validate`` was asked to do (frozen, checked once before anything touches the chain)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from base.errors import ConfigError

DEFAULT_MAX_GAS_PRICE_WEI = 500 * 10**9
DEFAULT_PRIORITY_FEE_WEI = 10**9
DEFAULT_GAS_LIMIT = 400_000
DEFAULT_TIMEOUT_S = 180.0
POOLS_CAPITAL = ("flash_swap", "own")
"""Capital modes of a ``--pools`` run: a flash swap from the cycle's first pool (the default: the executor needs
no balance), or the executor's own balance."""
LOCAL_CHAIN_IDS = frozenset({31337, 1337})
"""Development chains (anvil, hardhat, ganache) accepted without ``--chain-id``."""
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")


def parse_addresses(values: Iterable[str], option: str) -> tuple[str, ...]:
    """Addresses given as ``--option A,B`` (or the option repeated), lower-case, in order.

    Raises:
        ConfigError: an item is not a 0x-prefixed 20-byte hex address (the line names it and the option).
    """
    found: list[str] = []
    for value in values:
        for item in value.split(","):
            text = item.strip()
            if not _ADDRESS.fullmatch(text):
                msg = f"{option}: {text!r} is not an address (0x and 40 hex digits)"
                raise ConfigError(msg)
            found.append(text.lower())
    return tuple(found)


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
        pools: ``--pools``: addresses (lower-case) of the two or three pools of a cycle that validate did not
            deploy; empty in the ``--deploy`` and attached modes.
        factories: ``--factory``: the pools must have been created by one of these (empty: any genuine factory).
        token_in: ``--token-in``: the cycle's start token (None: the first pool's token0).
        deploy_executor: ``--deploy-executor``: deploy only ArbExecutor, owned by the key (pools mode).
        out: also, with ``deploy_executor``, where to write a deployment file naming that executor.
        live: ``--live``: the pools mode sends one trade (it is a dry run otherwise).
        capital: ``--capital``: where the pools mode's input comes from (:data:`POOLS_CAPITAL`; "": flash_swap).
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
    pools: tuple[str, ...] = ()
    factories: tuple[str, ...] = ()
    token_in: str | None = None
    deploy_executor: bool = False
    live: bool = False
    capital: str = ""

    @property
    def capital_mode(self) -> str:
        """The executor's capital mode: ``own`` for the ``--deploy``/``--deployment`` runs (they fund the executor
        and withdraw the profit from its balance), ``--capital`` (default ``flash_swap``) for ``--pools``."""
        return (self.capital or "flash_swap") if self.pools else "own"

    @property
    def dry_run(self) -> bool:
        """True when no trade is sent: ``--dry-run-only``, or a ``--pools`` run without ``--live``."""
        return self.dry_run_only or (bool(self.pools) and not self.live)

    def check(self) -> None:
        """Refuse contradictory or out-of-range settings.

        Raises:
            ConfigError: one line naming the option and the fix.
        """
        if self.pools:
            self._check_pools()
        elif self.deploy == (self.deployment is not None):
            msg = (
                "give exactly one of --deploy (deploy test contracts and pools) and --deployment FILE (attach; "
                "default $PULSEARB_DEPLOYMENT)"
            )
            raise ConfigError(msg)
        if self.deploy and self.dry_run_only:
            msg = "--dry-run-only sends no transaction, so it cannot --deploy: attach with --deployment FILE"
            raise ConfigError(msg)
        if not self.pools and (self.live or self.deploy_executor or self.factories or self.token_in or self.capital):
            msg = (
                "--live, --deploy-executor, --factory, --token-in and --capital go with --pools ADDR,ADDR: the "
                "--deploy and --deployment runs trade their own pools and are live unless --dry-run-only"
            )
            raise ConfigError(msg)
        if self.out is not None and not (self.deploy or self.deploy_executor):
            msg = (
                "--out writes the deployment file of a --deploy or --deploy-executor run: drop it when attaching "
                "with --deployment"
            )
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

    def _check_pools(self) -> None:
        """The ``--pools`` mode's own rules: a cycle of 2 or 3 distinct pools, one executor source, one mode."""
        if self.deploy:
            msg = "--deploy deploys test pools of its own: drop it to validate --pools (use --deploy-executor)"
            raise ConfigError(msg)
        if self.deploy_executor == (self.deployment is not None):
            msg = (
                "--pools needs exactly one executor: --deployment FILE (default $PULSEARB_DEPLOYMENT) or "
                "--deploy-executor"
            )
            raise ConfigError(msg)
        if not 2 <= len(self.pools) <= 3:
            msg = f"--pools takes the 2 or 3 pools of one cycle, got {len(self.pools)}"
            raise ConfigError(msg)
        if len(set(self.pools)) != len(self.pools):
            msg = "--pools names a pool twice: a cycle goes through distinct pools"
            raise ConfigError(msg)
        if self.live and self.dry_run_only:
            msg = "give at most one of --live and --dry-run-only (a --pools run is a dry run unless --live)"
            raise ConfigError(msg)
        if self.capital and self.capital not in POOLS_CAPITAL:
            msg = f"--capital must be one of {', '.join(POOLS_CAPITAL)}, got {self.capital!r}"
            raise ConfigError(msg)
