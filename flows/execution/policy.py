"""The replace-or-cancel policy for a transaction without a receipt (pure; docs/execution.md explains it).

Every ``receipt_timeout_s`` without a receipt the policy acts once, in this order:

1. **replace** (first timeout only): while the opportunity is still valid and a fresh simulation passes, resend
   the same call with both fee caps raised by ``fee_bump_bps`` (same nonce), so it is mined sooner;
2. **cancel**: otherwise (or at the next timeout), send a 0-value transfer to ourselves with the same nonce and
   raised fees; once it is mined the arbitrage can never be mined (status ``replaced``);
3. **wait**: a cancellation is sent at most once; a replacement or cancellation whose raised fee cap would exceed
   the gas price limit is not sent (waiting costs nothing, the on-chain profit guard still holds);
4. **abandon**: after ``abandon_after_s`` with no receipt for any attempt, the trade ends as ``timeout``, counts
   as a failure, and the nonce manager resyncs from the chain.
"""

from __future__ import annotations

from enum import StrEnum


class Action(StrEnum):
    """What to do with an unconfirmed transaction now."""

    WAIT = "wait"
    REPLACE = "replace"
    CANCEL = "cancel"
    ABANDON = "abandon"


def next_action(
    *,
    now_ns: int,
    first_sent_ns: int,
    next_check_ns: int,
    replaced: bool,
    cancelled: bool,
    still_valid: bool,
    abandon_after_ns: int,
) -> Action:
    """Decide the policy's step for one unconfirmed trade.

    Args:
        now_ns: current time, ns since epoch.
        first_sent_ns: when the first attempt was broadcast.
        next_check_ns: when the receipt timeout next expires.
        replaced: a fee-bumped replacement was already sent.
        cancelled: a cancellation was already sent.
        still_valid: the opportunity has not expired (the caller re-simulates before replacing).
        abandon_after_ns: give up this long after the first broadcast.
    """
    if now_ns - first_sent_ns >= abandon_after_ns:
        return Action.ABANDON
    if now_ns < next_check_ns or cancelled:
        return Action.WAIT
    if not replaced and still_valid:
        return Action.REPLACE
    return Action.CANCEL
