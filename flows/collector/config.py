"""The collector's settings, parsed once from a spec's ``collector`` section (every problem with its line).

```yaml
collector:
  chain_id: 137                     # required: the node must report this chain id
  factories:                        # required, at least one
    - {address: "0x5757...ab32", kind: v2, venue: 400, fee_bps: 30, start_block: 4931780}
    - {address: "0x1f98...f984", kind: v3, venue: 301, start_block: 22757547, discover: false}
  pools: ["0x45dd...0608"]          # followed even when their factory does not discover
  poll_interval_ms: 500
  confirmations: 0                  # follow the head (reorgs are repaired); N: stay N blocks behind it
  max_block_range: 2000             # blocks per eth_getLogs (halved while the node refuses a range)
  catch_up_blocks: 10000            # further behind than this: re-seed every pool at the head instead
  reorg_window: 128                 # blocks whose hashes are kept: the deepest reorg repaired pool by pool
  batch_size: 500                   # calls per JSON-RPC batch
  source: 62                        # relay SourceType stamped on every record (STATE_MANAGER)
```
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flows.collector.seed import FactoryConfig
from flows.collector.state import V2, V3
from flows.relay.protocol import PoolStateType, SourceType
from flows.spec.problems import MISSING, Problems, address, integer

KEYS = {
    "chain_id",
    "factories",
    "pools",
    "poll_interval_ms",
    "confirmations",
    "max_block_range",
    "catch_up_blocks",
    "reorg_window",
    "batch_size",
    "source",
}
FACTORY_KEYS = {"address", "kind", "venue", "fee_bps", "pool_type", "start_block", "discover"}


@dataclass(frozen=True, slots=True)
class CollectorConfig:
    """Validated collector settings (see the module doc for each key)."""

    chain_id: int
    factories: tuple[FactoryConfig, ...]
    pools: tuple[str, ...] = ()
    poll_interval_ms: int = 500
    confirmations: int = 0
    max_block_range: int = 2_000
    catch_up_blocks: int = 10_000
    reorg_window: int = 128
    batch_size: int = 500
    source: int = int(SourceType.STATE_MANAGER)

    @property
    def by_factory(self) -> dict[str, FactoryConfig]:
        """Factories by address."""
        return {f.address: f for f in self.factories}


def _factory(problems: Problems, field: tuple[str, ...], raw: Any) -> FactoryConfig | None:
    if not isinstance(raw, Mapping):
        problems.add(field, "a mapping of address, kind, venue, fee_bps, pool_type, start_block, discover", raw)
        return None
    problems.unknown_keys(field, raw, FACTORY_KEYS)
    addr = address(problems, (*field, "address"), raw.get("address", MISSING))
    kind = raw.get("kind", MISSING)
    if kind not in (V2, V3):
        problems.add((*field, "kind"), "v2 or v3", kind)
        kind = V2
    venue = integer(problems, (*field, "venue"), raw.get("venue", MISSING), maximum=65535)
    fee = integer(problems, (*field, "fee_bps"), raw.get("fee_bps", MISSING), maximum=9_999, default=30)
    default_type = int(PoolStateType.UNISWAP_V2 if kind == V2 else PoolStateType.UNISWAP_V3)
    pool_type = integer(
        problems, (*field, "pool_type"), raw.get("pool_type", MISSING), maximum=255, default=default_type
    )
    start = integer(problems, (*field, "start_block"), raw.get("start_block", MISSING), default=0)
    discover = raw.get("discover", True)
    if not isinstance(discover, bool):
        problems.add((*field, "discover"), "true or false", discover)
        discover = True
    return FactoryConfig(addr, kind, venue, fee, pool_type, start, discover)


def parse_collector(section: Any, problems: Problems) -> CollectorConfig:
    """Read a ``collector`` section; every problem goes to ``problems`` (the caller raises).

    Returns:
        The settings (meaningful only when ``problems`` stayed empty).
    """
    raw = section if isinstance(section, Mapping) else {}
    top = ("collector",)
    problems.unknown_keys(top, raw, KEYS)
    chain_id = integer(problems, (*top, "chain_id"), raw.get("chain_id", MISSING), minimum=1)
    factories: list[FactoryConfig] = []
    listed = raw.get("factories", MISSING)
    if not isinstance(listed, list) or not listed:
        problems.add((*top, "factories"), "a list of at least one factory", listed)
    else:
        for i, item in enumerate(listed):
            f = _factory(problems, (*top, "factories", str(i)), item)
            if f is not None:
                factories.append(f)
        seen = [f.address for f in factories if f.address]
        if len(seen) != len(set(seen)):
            problems.add((*top, "factories"), "each factory once", "a factory listed twice")
    pools_raw = raw.get("pools", [])
    pools: list[str] = []
    if not isinstance(pools_raw, list):
        problems.add((*top, "pools"), "a list of pool addresses", pools_raw)
    else:
        pools = [address(problems, (*top, "pools", str(i)), p) for i, p in enumerate(pools_raw)]
    ints = {
        "poll_interval_ms": (1, 3_600_000, 500),
        "confirmations": (0, 1_000, 0),
        "max_block_range": (1, 1_000_000, 2_000),
        "catch_up_blocks": (1, 10_000_000, 10_000),
        "reorg_window": (2, 100_000, 128),
        "batch_size": (1, 10_000, 500),
        "source": (0, 255, int(SourceType.STATE_MANAGER)),
    }
    values = {
        key: integer(problems, (*top, key), raw.get(key, MISSING), minimum=lo, maximum=hi, default=default)
        for key, (lo, hi, default) in ints.items()
    }
    return CollectorConfig(chain_id, tuple(factories), tuple(dict.fromkeys(pools)), **values)


def parse_config(
    section: Mapping[str, Any] | None, path: Path | None, lines: Mapping[str, int]
) -> tuple[CollectorConfig | None, list[str]]:
    """Validate a ``collector`` section; return the config (None when there are problems) and every problem.

    Args:
        section: the spec's ``collector`` mapping.
        path: the spec file (named in problems).
        lines: field path -> line of the file (``spec.lines``, or :func:`flows.spec.problems.yaml_lines`).
    """
    problems = Problems(path, lines)
    config = parse_collector(section, problems)
    return (None, problems.items) if problems else (config, [])
