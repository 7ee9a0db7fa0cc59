"""The executor: simulate, sign, persist, send, then follow each transaction to a final status.

``submit`` takes an accepted opportunity through ``eth_call`` (a revert ends it as ``failed`` with the reason,
nothing sent), then, unless in dry-run mode, allocates a nonce, signs, writes the ledger row (fsynced) and only
then broadcasts. ``poll`` checks receipts of the transactions in flight and applies the replace-or-cancel policy
(:mod:`flows.execution.policy`); ``recover`` resumes what a previous process left unfinished. Results are
:class:`Finished` values; the caller turns them into ``arb.execution`` records and settles the risk state.

Statuses: ``mined`` (status 1; realized amounts from the ``Arbitrage`` event), ``reverted`` (status 0; reason by
replaying the call after its block), ``failed`` (simulation reverted or the node refused it: nothing mined),
``dry_run``, ``aborted`` (the kill switch turned on between decision and broadcast), ``replaced`` (a cancellation
or another transaction took the nonce), ``timeout`` (abandoned with no receipt).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from eth_abi import encode
from eth_utils import function_signature_to_4byte_selector, to_checksum_address

from base.errors import ConfigError
from flows.execution.chain import Chain, Head
from flows.execution.config import ExecutionConfig
from flows.execution.errors import (
    AlreadyKnown,
    ChainUnavailable,
    ExecutionError,
    ExecutionReverted,
    KillSwitchOn,
    NonceTooLow,
    ReplacementUnderpriced,
)
from flows.execution.ledger import FINAL, PENDING, SENDING, Attempt, Entry, Ledger
from flows.execution.logs import Receipt, realized
from flows.execution.nonce import NonceManager
from flows.execution.outcome import Finished, context_of
from flows.execution.plan import (
    Fees,
    RouteError,
    TxPlan,
    bumped,
    cancel_plan,
    expected_profit,
    fee_caps,
    opportunity_id_bytes32,
    plan_execution,
    plan_from_dict,
)
from flows.execution.policy import Action, next_action
from flows.execution.signer import Signer
from flows.opportunity import Opportunity

log = logging.getLogger(__name__)

OWNER_SELECTOR = function_signature_to_4byte_selector("owner()")
FLASH_FEE_SELECTOR = function_signature_to_4byte_selector("flashFee(address,uint256)")
MAX_POLL_BACKOFF_S = 2.0
"""Longest wait between receipt polls while the node does not answer: a recovered node is seen within it."""


@dataclass(slots=True)
class _Tracked:
    entry: Entry
    plan: TxPlan
    first_sent_ns: int
    next_check_ns: int
    replaced: bool = False
    cancelled: bool = False
    trace: dict[str, int] = field(default_factory=dict)


class Executor:
    """Sends accepted opportunities through one signer and follows them to a final status.

    Args:
        chain: the chain adapter.
        signer: the signing account (None only in dry-run mode: simulations then run as the executor's owner).
        ledger: the execution ledger (persisted before every broadcast).
        config: executor settings (executor address filled in).
        gas_price_cap_wei: the risk limit ``max_gas_price_wei`` (fee caps never exceed it).
        kill_switch: returns True while sending must stop: checked by :meth:`_broadcast`, the one path every
            transaction takes to the node (a first send, a fee-bumped replacement, a cancellation, a re-broadcast
            after a restart), right before the ledger write and the send.
        clock: ns since epoch.
    """

    def __init__(
        self,
        chain: Chain,
        signer: Signer | None,
        ledger: Ledger,
        config: ExecutionConfig,
        gas_price_cap_wei: int,
        kill_switch: Callable[[], bool] = lambda: False,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        if signer is None and not config.dry_run:
            msg = "a live executor needs a signing key"
            raise ConfigError(msg)
        self.chain = chain
        self.signer = signer
        self.ledger = ledger
        self.config = config
        self.cap = gas_price_cap_wei
        self.kill_switch = kill_switch
        self.clock = clock
        self.sender = signer.address if signer else ""
        self.chain_id = 0
        self.nonces = NonceManager(lambda: self.chain.nonce(self.sender, "pending"))
        self.tracked: dict[str, _Tracked] = {}
        self._poll_backoff_ns = 0  # while the node does not answer: the wait before asking it again (0: healthy)
        self._next_poll_ns = 0

    # start-up ----------------------------------------------------------------------------------------------
    def check(self) -> None:
        """Verify the chain id, the executor's code and its owner before anything is sent.

        Raises:
            ConfigError: wrong chain, no contract at the executor address, or the key is not the owner's.
            ChainUnavailable: the node does not answer.
        """
        self.chain_id = self.chain.chain_id()
        if self.config.chain_id and self.chain_id != self.config.chain_id:
            msg = (
                f"wrong chain: the node at {self.chain.where} is chain {self.chain_id}, the executor was configured "
                f"for chain {self.config.chain_id}; fix --rpc-url or the deployment file"
            )
            raise ConfigError(msg)
        if not self.chain.code(self.config.executor):
            msg = (
                f"no contract at executor address {self.config.executor} on chain {self.chain_id}: deploy it "
                "(python -m ops.simulator.chain.deploy) or fix risk.execution.executor"
            )
            raise ConfigError(msg)
        if self.config.capital == "flash_loan" and not self.config.flash_lender:
            msg = (
                "risk.execution.capital is flash_loan but no flash lender is configured: set "
                "risk.execution.flash_lender (or deploy one with python -m ops.simulator.chain.deploy), "
                "or use flash_swap"
            )
            raise ConfigError(msg)
        if self.config.capital == "flash_loan" and not self.chain.code(self.config.flash_lender):
            msg = f"no contract at flash lender address {self.config.flash_lender} on chain {self.chain_id}"
            raise ConfigError(msg)
        owner_word = self.chain.call(
            {"to": to_checksum_address(self.config.executor), "data": "0x" + OWNER_SELECTOR.hex()}
        )
        owner = "0x" + owner_word[-20:].hex()
        if self.signer is None:
            self.sender = to_checksum_address(owner)
        elif owner != self.signer.address.lower():
            msg = (
                f"the executor {self.config.executor} is owned by {owner}, not by the signing key's address "
                f"{self.signer.address}: use the owner's key"
            )
            raise ConfigError(msg)

    def recover(self) -> list[Finished]:
        """Resume rows a previous process left unfinished; return those that are final now.

        Mined attempts are settled from their receipts; a transaction the node still holds is tracked again; a
        signed transaction the node never saw is re-broadcast while its opportunity is still valid, and given up
        as ``timeout`` otherwise (nothing stale is sent late).
        """
        done: list[Finished] = []
        now = self.clock()
        for entry in self.ledger.unfinished():
            plan = plan_from_dict(entry.context["plan"])
            tracked = _Tracked(entry, plan, now, now + self._timeout_ns(), trace=dict(entry.context.get("trace", {})))
            found = self._settle_if_mined(tracked)
            if found is not None:
                done.append(found)
                continue
            if any(self.chain.known(a.tx_hash) for a in entry.attempts):
                self.tracked[entry.opportunity_id] = tracked
                continue
            if entry.nonce is not None and self.chain.nonce(self.sender, "latest") > entry.nonce:
                done.append(
                    self._final(
                        tracked, "replaced", reason="nonce used by another transaction while stopped", failure=True
                    )
                )
                continue
            if entry.attempts and now < int(entry.context.get("valid_until_ns", 0)):
                last = entry.attempts[-1]
                try:
                    self._broadcast(entry, bytes.fromhex(last.raw), last.tx_hash)
                except (AlreadyKnown, ChainUnavailable, KillSwitchOn):
                    pass  # followed like any transaction in flight; the policy cancels or abandons it if needed
                except ExecutionError as exc:
                    done.append(self._final(tracked, "failed", reason=str(exc), failure=True))
                    continue
                self.tracked[entry.opportunity_id] = tracked
                continue
            done.append(
                self._final(tracked, "timeout", reason="not broadcast before the restart; expired", failure=False)
            )
        if done or self.tracked:
            self.nonces.resync()
        return done

    # sending ------------------------------------------------------------------------------------------------
    def _timeout_ns(self) -> int:
        return int(self.config.receipt_timeout_s * 1e9)

    def submit(self, opp: Opportunity, head: Head, min_net_profit: int, trace: dict[str, int]) -> Finished | None:
        """Simulate and (unless dry-run) send one accepted opportunity.

        Args:
            opp: the accepted opportunity.
            head: the latest block (its base fee sets the fee caps).
            min_net_profit: the risk limit's net-profit floor for the start token (part of the on-chain guard).
            trace: the record's trace so far; send and accept times are added.

        Returns:
            A final outcome when nothing was sent (simulation revert, dry run, kill switch, refused), else None:
            the transaction is in flight and :meth:`poll` reports it.
        """
        fees = fee_caps(head.base_fee_wei, self.config.priority_fee_wei, self.cap)
        try:
            plan = plan_execution(
                opp,
                chain_id=self.chain_id,
                executor=self.config.executor,
                fees=fees,
                gas_limit=self.config.gas_limit,
                min_net_profit=min_net_profit,
                capital=self.config.capital,
                flash_lender=self.config.flash_lender,
            )
        except RouteError as exc:
            plan = cancel_plan(self.sender, self.chain_id, fees)  # a placeholder: nothing is signed or sent
            tracked = _Tracked(Entry(opp.id, SENDING, None, (), context_of(opp, plan, self.sender, trace)), plan, 0, 0)
            return self._final(tracked, "failed", reason=str(exc), failure=False)
        entry = Entry(opp.id, SENDING, None, (), context_of(opp, plan, self.sender, trace))
        tracked = _Tracked(entry, plan, 0, 0, trace=trace)
        try:
            lender_fee = self._lender_fee(opp) if plan.kind == "flash_loan" else None
            simulated = self.chain.simulate(plan, self.sender)
        except ExecutionReverted as exc:
            return self._final(tracked, "failed", reason=f"simulation: {exc.reason or 'reverted'}", failure=False)
        except ExecutionError as exc:
            return self._final(tracked, "failed", reason=str(exc), failure=True)
        predicted = expected_profit(opp, plan.kind, lender_fee)
        if lender_fee is not None:
            context = context_of(opp, plan, self.sender, trace, predicted)
            tracked.entry = replace(tracked.entry, context=context)
        if abs(simulated.profit - predicted) * 10_000 > self.config.simulation_tolerance_bps * max(predicted, 1):
            reason = f"simulation: profit {simulated.profit} differs from the predicted {predicted} (stale pool view)"
            return self._final(tracked, "failed", reason=reason, failure=False)
        if self.config.dry_run:
            return self._final(
                tracked, "dry_run", amount_out=simulated.amount_out, profit=simulated.profit, failure=False
            )
        return self._send_new(tracked)

    def _lender_fee(self, opp: Opportunity) -> int:
        """The flash lender's fee for borrowing ``opp.amount_in`` of its start token (ERC-3156 ``flashFee``)."""
        data = FLASH_FEE_SELECTOR + encode(["address", "uint256"], [to_checksum_address(opp.token_in), opp.amount_in])
        word = self.chain.call({"to": to_checksum_address(self.config.flash_lender), "data": "0x" + data.hex()})
        return int.from_bytes(word[:32], "big")

    def _send_new(self, tracked: _Tracked) -> Finished | None:
        assert self.signer is not None
        for attempt_no in range(2):
            nonce = self.nonces.allocate()
            signed = self.signer.sign(tracked.plan.tx(nonce))
            fees = tracked.plan.fees
            attempt = Attempt(
                signed.tx_hash, signed.raw.hex(), tracked.plan.kind, fees.max_fee_per_gas, fees.max_priority_fee_per_gas
            )
            unsent = tracked.entry
            tracked.entry = replace(unsent, nonce=nonce, attempts=(attempt,), state=SENDING)
            sent_ns = self.clock()
            tracked.trace["exec_sent_ns"] = sent_ns
            try:
                self._broadcast(tracked.entry, signed.raw, signed.tx_hash, restore=unsent)
            except KillSwitchOn:
                self.nonces.release(nonce)
                tracked.entry = unsent
                del tracked.trace["exec_sent_ns"]
                return self._final(tracked, "aborted", reason="kill switch turned on before sending", failure=False)
            except AlreadyKnown:
                pass
            except (NonceTooLow, ReplacementUnderpriced) as exc:
                # Another transaction holds this nonce (sent by a previous run or another tool): take the chain's
                # count and sign again, once. The unsent attempt is replaced in the ledger before the retry.
                log.warning("nonce %d refused (%s); resyncing", nonce, type(exc).__name__)
                self.nonces.resync()
                if attempt_no == 0:
                    continue
                return self._final(tracked, "failed", reason=str(exc), failure=True)
            except ChainUnavailable:
                # The node may or may not have it: follow the hash; the policy cancels or abandons it if needed.
                log.warning("send of %s: node unavailable; following the hash", signed.tx_hash)
            except ExecutionError as exc:
                self.nonces.release(nonce)
                return self._final(tracked, "failed", reason=str(exc), failure=True)
            accepted = self.clock()
            tracked.trace["exec_accepted_ns"] = accepted
            attempt = replace(attempt, sent_ns=sent_ns)
            tracked.entry = replace(tracked.entry, state=PENDING, attempts=(attempt,))
            tracked.entry = replace(tracked.entry, context={**tracked.entry.context, "trace": dict(tracked.trace)})
            self.ledger.write_execution(tracked.entry, accepted)
            tracked.first_sent_ns = sent_ns
            tracked.next_check_ns = sent_ns + self._timeout_ns()
            self.tracked[tracked.entry.opportunity_id] = tracked
            return None
        return None  # not reached: the loop returns

    # following ----------------------------------------------------------------------------------------------
    @property
    def in_flight(self) -> int:
        """Transactions sent and not final."""
        return len(self.tracked)

    def poll(self) -> list[Finished]:
        """Check every transaction in flight once; apply the replace-or-cancel policy; return those now final.

        While the node does not answer, polls back off (the poll interval doubling up to
        :data:`MAX_POLL_BACKOFF_S`) and the outage is logged once, not once per poll.
        """
        done: list[Finished] = []
        now = self.clock()
        if now < self._next_poll_ns:
            return done
        for oid, tracked in list(self.tracked.items()):
            try:
                found = self._settle_if_mined(tracked)
                if found is None:
                    found = self._apply_policy(tracked)
            except ChainUnavailable as exc:
                self._back_off(now, exc)
                return done  # ask again after the backoff, not once per transaction in flight
            if found is not None:
                del self.tracked[oid]
                done.append(found)
        if self._poll_backoff_ns:
            log.warning("receipt poll: the node answers again")
            self._poll_backoff_ns = 0
        return done

    def _back_off(self, now_ns: int, exc: ChainUnavailable) -> None:
        if not self._poll_backoff_ns:
            log.warning("receipt poll: %s; retrying with backoff up to %g s", exc, MAX_POLL_BACKOFF_S)
        first = self.config.receipt_poll_ms * 1_000_000
        self._poll_backoff_ns = min(int(MAX_POLL_BACKOFF_S * 1e9), max(first, 2 * self._poll_backoff_ns))
        self._next_poll_ns = now_ns + self._poll_backoff_ns

    def drain(self, timeout_s: float) -> list[Finished]:
        """Poll until nothing is in flight or ``timeout_s`` passed (used when the flow stops)."""
        done: list[Finished] = []
        deadline = time.monotonic() + timeout_s
        while self.tracked and time.monotonic() < deadline:
            done.extend(self.poll())
            if self.tracked:
                time.sleep(self.config.receipt_poll_ms / 1000)
        return done

    def _settle_if_mined(self, tracked: _Tracked) -> Finished | None:
        for attempt in reversed(tracked.entry.attempts):
            receipt = self.chain.receipt(attempt.tx_hash)
            if receipt is not None:
                return self._settle(tracked, attempt, receipt)
        return None

    def _settle(self, tracked: _Tracked, attempt: Attempt, receipt: Receipt) -> Finished:
        tracked.trace["exec_receipt_ns"] = self.clock()
        common = {"tx_hash": receipt.tx_hash, "receipt": receipt}
        if attempt.kind == "cancel":
            return self._final(
                tracked, "replaced", reason="cancelled after the receipt timeout", failure=True, **common
            )
        plan = tracked.plan.with_fees(Fees(attempt.max_fee_per_gas, attempt.max_priority_fee_per_gas))
        try:
            self.chain.ensure_success(receipt, plan, self.sender)
        except ExecutionReverted as exc:
            return self._final(tracked, "reverted", reason=exc.reason, failure=True, **common)
        event = realized(receipt.logs, self.config.executor, opportunity_id_bytes32(tracked.entry.opportunity_id))
        if event is None:
            return self._final(tracked, "mined", reason="no Arbitrage event in the receipt", failure=True, **common)
        return self._final(tracked, "mined", amount_out=event.amount_out, profit=event.profit, failure=False, **common)

    def _apply_policy(self, tracked: _Tracked) -> Finished | None:
        now = self.clock()
        valid = now < int(tracked.entry.context.get("valid_until_ns", 0))
        action = next_action(
            now_ns=now,
            first_sent_ns=tracked.first_sent_ns,
            next_check_ns=tracked.next_check_ns,
            replaced=tracked.replaced,
            cancelled=tracked.cancelled,
            still_valid=valid,
            abandon_after_ns=int(self.config.abandon_after_s * 1e9),
        )
        if action is Action.WAIT:
            return None
        if action is Action.ABANDON:
            self.nonces.resync()
            return self._final(
                tracked, "timeout", reason=f"no receipt after {self.config.abandon_after_s:g} s", failure=True
            )
        tracked.next_check_ns = now + self._timeout_ns()
        if tracked.entry.nonce is not None and self.chain.nonce(self.sender, "latest") > tracked.entry.nonce:
            return None  # the nonce is used: one of our attempts (or another tx) was mined; the next poll sees it
        if action is Action.REPLACE:
            try:
                self.chain.simulate(tracked.plan, self.sender)
            except ExecutionError:
                action = Action.CANCEL
        last = tracked.entry.attempts[-1]
        fees = bumped(Fees(last.max_fee_per_gas, last.max_priority_fee_per_gas), self.config.fee_bump_bps, self.cap)
        if fees is None:
            log.warning("%s: cannot raise fees under the cap %d wei; waiting", tracked.entry.opportunity_id, self.cap)
            tracked.replaced = True
            return None
        plan = (
            tracked.plan.with_fees(fees) if action is Action.REPLACE else cancel_plan(self.sender, self.chain_id, fees)
        )
        if not self._send_attempt(tracked, plan):
            return None  # kill switch on: nothing more goes out; the trade is settled if mined, else abandoned
        tracked.replaced = True
        tracked.cancelled = tracked.cancelled or action is Action.CANCEL
        return None

    def _send_attempt(self, tracked: _Tracked, plan: TxPlan) -> bool:
        """Sign and broadcast a replacement or cancellation with the tracked nonce; False if the kill switch
        refused it (nothing recorded, nothing sent)."""
        assert self.signer is not None and tracked.entry.nonce is not None
        signed = self.signer.sign(plan.tx(tracked.entry.nonce))
        attempt = Attempt(
            signed.tx_hash,
            signed.raw.hex(),
            plan.kind,
            plan.fees.max_fee_per_gas,
            plan.fees.max_priority_fee_per_gas,
            self.clock(),
        )
        unsent = tracked.entry
        tracked.entry = replace(unsent, attempts=(*unsent.attempts, attempt))
        try:
            self._broadcast(tracked.entry, signed.raw, signed.tx_hash, restore=unsent)
        except KillSwitchOn:
            tracked.entry = unsent
            log.warning("%s for %s not sent: the kill switch is on", plan.kind, unsent.opportunity_id)
            return False
        except (AlreadyKnown, NonceTooLow, ReplacementUnderpriced) as exc:
            log.warning("%s attempt for %s not accepted: %s", plan.kind, tracked.entry.opportunity_id, exc)
        log.warning("%s sent for %s: %s", plan.kind, tracked.entry.opportunity_id, signed.tx_hash)
        return True

    def _broadcast(self, entry: Entry, raw: bytes, tx_hash: str, restore: Entry | None = None) -> None:
        """Persist ``entry`` (which holds this signed transaction), then send it: the one path any transaction
        takes to the node, so the kill switch is checked here and only here: before the ledger write, and again
        after it (the write waits for an fsync, long enough for the switch to turn on), right before the send.

        Args:
            entry: the ledger row holding the transaction.
            raw: the signed transaction.
            tx_hash: its hash.
            restore: the row as it was before ``entry``, written back if the second check refuses.

        Raises:
            KillSwitchOn: the switch is on; nothing was sent (and the ledger row is as before).
            ExecutionError: as :meth:`Chain.send` (the entry is persisted by then).
        """
        if self.kill_switch():
            msg = f"kill switch on: {tx_hash} not sent"
            raise KillSwitchOn(msg)
        self.ledger.write_execution(entry, self.clock())  # durable before it leaves the process
        if self.kill_switch():
            if restore is not None:
                self.ledger.write_execution(restore, self.clock())
            msg = f"kill switch on: {tx_hash} not sent"
            raise KillSwitchOn(msg)
        self.chain.send(raw, tx_hash)

    def _final(
        self,
        tracked: _Tracked,
        status: str,
        *,
        reason: str | None = None,
        failure: bool,
        amount_out: int = 0,
        profit: int = 0,
        tx_hash: str | None = None,
        receipt: Receipt | None = None,
    ) -> Finished:
        context = {**tracked.entry.context, "trace": dict(tracked.trace)}
        entry = replace(tracked.entry, state=FINAL, context=context)
        return Finished(
            entry=entry,
            status=status,
            tx_hash=tx_hash,
            block_number=receipt.block_number if receipt else None,
            gas_used=receipt.gas_used if receipt else 0,
            effective_gas_price=receipt.effective_gas_price if receipt else 0,
            realized_amount_out=amount_out,
            realized_profit=profit,
            revert_reason=reason,
            failure=failure,
            executed_ns=self.clock(),
        )
