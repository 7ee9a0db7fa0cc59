"""The chain collector: exact Uniswap V2/V3 pool state read from the chain itself (pure domain, no web3).

AlphaPulse's Polygon adapter publishes swaps, not pool state. The collector reads the state from a JSON-RPC node:
it discovers pools from their factories' ``PairCreated``/``PoolCreated`` logs, seeds each at one pinned block with
batched ``eth_call``s, follows ``Sync``/``Swap``/``Mint``/``Burn`` logs block by block, repairs what a reorg, a
gap or a StateInvalidation put in doubt, and publishes ``market.pool_state`` records that detectors fold like any
other pool state.

Modules: :mod:`~flows.collector.abi` (topics, log decoding, calls), :mod:`~flows.collector.state` (states and
the exact log application), :mod:`~flows.collector.seed` (what seeding reads and how pools are checked),
:mod:`~flows.collector.window` (block hashes and reorg decisions), :mod:`~flows.collector.engine` (the poll loop
over a :class:`~flows.collector.engine.ChainReader`, and :func:`~flows.collector.engine.read_pool_states`, the
seeding's reads of known pools at one block, which tools use too), :mod:`~flows.collector.records` (the Avro records),
:mod:`~flows.collector.invalidation` (which pools a StateInvalidation names), :mod:`~flows.collector.config`
(the spec's ``collector`` section). The JSON-RPC client is :mod:`flows.connectors.rpc`; the Bytewax flow is
:mod:`flows.builders.collector`.
"""
