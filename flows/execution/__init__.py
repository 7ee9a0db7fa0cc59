"""On-chain execution: plan (pure), chain adapter (web3), signer, nonce manager, ledger, executor; docs/execution.md."""
