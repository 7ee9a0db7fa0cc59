"""Risk limits, their decisions, persisted risk state and the kill switch (plain Python: no Kafka, Bytewax, web3).

- :mod:`flows.risk.limits`: the limits, parsed from a spec's ``risk.limits``.
- :mod:`flows.risk.engine`: ``decide(opportunity, state, limits, market) -> Decision``.
- :mod:`flows.risk.state`: trades in flight, cooldowns, daily PnL, the failure breaker.
- :mod:`flows.risk.kill_switch`: the file every flow reads before deciding and before sending.
"""
