"""Scripted validation of pulsearb's on-chain side against a live chain (``pulsearb validate``).

Pure orchestration over :mod:`flows.execution` (signer, chain adapter, executor) and :mod:`ops.simulator.chain` (deploy,
market): nothing here sends a transaction the product would not send. Modules:

- :mod:`~ops.validation.options`: the settings, checked once;
- :mod:`~ops.validation.runner`: steps run in order, timed, the first failure ends the run in one line;
- :mod:`~ops.validation.checks`: chain id and head, key and funds, contracts deployed or attached and compared
  with the committed artifacts (:mod:`~ops.validation.bytecode`);
- :mod:`~ops.validation.trade`: dislocation, detection (:mod:`~ops.validation.arb`, exact flows.amm math), dry
  run, live arbitrage (realized = predicted to the wei), withdrawal;
- :mod:`~ops.validation.foreign`: the ``--pools`` mode's steps, on pools validate did not deploy: each address
  identified and proven genuine (:mod:`~ops.validation.discover`), the cycle through them sized with pulsearb's
  math (:mod:`~ops.validation.route`), the executor attached or deployed alone;
- :mod:`~ops.validation.steps`: the step lists and :func:`~ops.validation.steps.validate`;
- :mod:`~ops.validation.render`: progress lines, the summary table, the JSON report.
"""
