"""Risk + execution flow: arb.opportunity -> limits -> arb.decision -> executor -> arb.execution.

Steps: ``kafka`` (every partition of the opportunity topic) -> ``decode`` (bad records -> ``dlq.<flow>``) ->
merged with ``tick`` (a clock that keeps receipt polling and the gauges going when no opportunity arrives) ->
``execute`` (one keyed step: a single writer of nonces and of the ledger) -> ``kafka_out``.

Configuration is the spec's ``risk.limits`` and ``risk.execution`` (docs/execution.md). Endpoints come from the
run environment: ``--rpc-url``/``$PULSEARB_RPC_URL`` (without one the flow only decides), ``--state-dir`` or
``$PULSEARB_HOME`` (ledger and kill switch), ``$PULSEARB_PRIVATE_KEY`` or ``$PULSEARB_KEYSTORE`` (+ password),
and ``--signals-socket``: accepted opportunities then also go to AlphaPulse's signals relay as ArbitrageSignal
TLVs (step ``signals``, :mod:`flows.signals`).
"""

from __future__ import annotations

import logging
import os
import time
from datetime import timedelta
from pathlib import Path
from typing import NamedTuple

import bytewax.operators as op
from bytewax.dataflow import Dataflow
from bytewax.operators import StatefulLogic

from base.errors import ConfigError
from base.paths import state_dir as base_state_dir
from base.trace import HOPS
from flows.builders.common import RunEnv, start_offset
from flows.builders.contract import BuilderContract
from flows.builders.decode import PayloadDecoder, decode, per_record
from flows.connectors.kafka import KafkaSink, KafkaSource, OutRecord
from flows.connectors.signals import SignalSink
from flows.connectors.ticks import TICK, Ticks
from flows.execution.chain import Chain
from flows.execution.config import ExecutionConfig, parse_execution, with_deployment
from flows.execution.executor import Executor
from flows.execution.ledger import Ledger
from flows.execution.service import Emit, RiskExecution
from flows.execution.signer import KEY_ENV, KEYSTORE_ENV, Signer
from flows.metrics import (
    BREAKER_OPEN,
    DAILY_LOSS_RATIO,
    DECISIONS,
    ENDPOINT_UP,
    EXECUTIONS,
    HOP_LATENCY,
    KILL_SWITCH,
    REALIZED_PNL,
    RECORDS_OUT,
)
from flows.opportunity import Opportunity, from_record
from flows.relay.tlv import ArbitrageSignal
from flows.risk.kill_switch import KillSwitch
from flows.risk.limits import RiskLimits, parse_limits
from flows.signals import SignalParams, maybe_signal
from flows.spec import FlowSpec
from flows.spec.problems import MISSING, Problems
from schemas.serde import codec, schema_topic

log = logging.getLogger(__name__)

SECTIONS = frozenset({"inputs", "risk", "outputs"})  # what this builder reads (its contract's, below)
KEY = "executor"
GAUGE_INTERVAL_NS = 250_000_000
DRAIN_TIMEOUT_S = 10.0


class RiskExecutionConfig(NamedTuple):
    """What a risk_execution spec configures (``risk.limits``, ``risk.execution``), read once."""

    limits: RiskLimits
    execution: ExecutionConfig


def load_config(spec: FlowSpec) -> RiskExecutionConfig:
    """Read ``risk.limits``, ``risk.execution``, the input topics and the flow's shape, without any I/O.

    Raises:
        SpecError: every problem, one line each (file, line, field, expected, found).
    """
    problems = Problems.of(spec)
    risk = spec.risk if isinstance(spec.risk, dict) else {}
    problems.unknown_keys(("risk",), risk, {"limits", "execution"})
    limits = parse_limits(risk.get("limits", MISSING), problems)
    execution = parse_execution(risk.get("execution"), problems)
    if spec.resources.processes != 1:
        problems.add(("resources", "processes"), "1 (one writer of nonces and of the ledger)", spec.resources.processes)
    if spec.resources.workers_per_process != 1:
        problems.add(("resources", "workers_per_process"), "1 (one writer)", spec.resources.workers_per_process)
    for i, topic in enumerate(spec.inputs.topics):
        try:
            schema_topic(topic)
        except ConfigError as exc:
            problems.note(f"inputs.topics[{i}]", str(exc))
    problems.raise_any()
    return RiskExecutionConfig(limits, execution)


def _state_dir(env: RunEnv) -> Path | None:
    if env.state_dir:
        return Path(env.state_dir)
    home = os.environ.get("PULSEARB_HOME")
    return Path(home) if home else None


def build_service(spec: FlowSpec, env: RunEnv, limits: RiskLimits, execution: ExecutionConfig) -> RiskExecution:
    """Wire the kill switch, ledger, chain, signer and executor for this run (checks the chain before returning).

    Raises:
        ConfigError: no state directory while executing, no executor address, wrong chain or owner.
        SignerError: no usable key for a live run (the message names the variable, never the value).
        ChainUnavailable: the RPC endpoint does not answer.
    """
    state_dir = _state_dir(env)
    kill_switch = KillSwitch(state_dir or base_state_dir())
    ledger_path = (state_dir / "risk_execution" / f"{spec.name}.sqlite") if state_dir else None
    topics = {
        "decisions_topic": spec.outputs.get("decisions", "arb.decision"),
        "executions_topic": spec.outputs.get("executions", "arb.execution"),
    }
    if not env.rpc_url:
        log.warning("no RPC endpoint (--rpc-url or PULSEARB_RPC_URL): deciding only, nothing is executed")
        ledger = Ledger(ledger_path) if ledger_path else None
        service = RiskExecution(
            limits=limits, kill_switch=kill_switch, ledger=ledger, chain=None, executor=None, **topics
        )
        service.pending = service.start()
        return service
    if ledger_path is None:
        msg = (
            f"{spec.path}: a risk_execution flow that executes needs a state directory for its ledger: "
            "pass --state-dir or set PULSEARB_HOME"
        )
        raise ConfigError(msg)
    execution = with_deployment(execution)
    has_key = bool(os.environ.get(KEY_ENV) or os.environ.get(KEYSTORE_ENV))
    signer = Signer.from_env(scrub=True) if (has_key or not execution.dry_run) else None
    chain = Chain.connect(env.rpc_url)
    ledger = Ledger(ledger_path)
    try:
        executor = Executor(chain, signer, ledger, execution, limits.max_gas_price_wei, kill_switch.is_on)
        service = RiskExecution(
            limits=limits, kill_switch=kill_switch, ledger=ledger, chain=chain, executor=executor, **topics
        )
        service.pending = service.start()
    except BaseException:
        ledger.close()
        raise
    log.warning(
        "executor %s on chain %d (%s), mode %s, signer %s",
        execution.executor,
        executor.chain_id,
        chain.where,
        execution.mode,
        signer,
    )
    return service


Work = tuple[Opportunity, int] | str
"""What the ``execute`` step takes: a decoded opportunity with its ``risk_in_ns``, or a :data:`TICK`."""


class _Execute(StatefulLogic[Work, list[Emit], None]):
    """The single writer: feeds ticks and opportunities to the service; drains transactions at end of input."""

    def __init__(self, service: RiskExecution, flow: str) -> None:
        self.service = service
        self.flow = flow
        self.first: list[Emit] = list(service.pending)
        self.gauges_ns = 0

    def on_item(self, value: Work) -> tuple[list[list[Emit]], bool]:
        out = self.first
        self.first = []
        if value == TICK:
            out = out + self.service.poll()
            now = time.time_ns()
            if now - self.gauges_ns >= GAUGE_INTERVAL_NS:
                self.gauges_ns = now
                _update_gauges(self.service, self.flow)
        else:
            opp, risk_in_ns = value
            out = out + self.service.on_opportunity(opp, risk_in_ns)
        return ([out] if out else []), StatefulLogic.RETAIN

    def on_eof(self) -> tuple[list[list[Emit]], bool]:
        out = self.first + self.service.stop(DRAIN_TIMEOUT_S)
        self.first = []
        return ([out] if out else []), StatefulLogic.RETAIN

    def snapshot(self) -> None:
        return None  # the ledger is the state; Bytewax snapshots only hold the Kafka offsets


def _update_gauges(service: RiskExecution, flow: str) -> None:
    KILL_SWITCH.labels(flow).set(1 if service.kill_switch.is_on() else 0)
    BREAKER_OPEN.labels(flow).set(1 if service.breaker_open() else 0)
    if service.chain is not None and service.chain.reachable is not None:
        ENDPOINT_UP.labels(flow, "rpc").set(1 if service.chain.reachable else 0)
    worst = 0.0
    now = time.time_ns()
    for token in service.state.pnl_today:
        limit = service.limits.daily_loss_limit.get(token)
        if limit:
            worst = max(worst, service.state.loss_today(token, now) / limit)
    DAILY_LOSS_RATIO.labels(flow).set(worst)
    REALIZED_PNL.labels(flow).set(service.pnl_today_usd())


def _signals(emits: list[Emit], params: SignalParams) -> list[ArbitrageSignal]:
    """AlphaPulse ArbitrageSignal TLVs for the newly accepted decisions (replays carry no opportunity: not resent)."""
    now = time.time_ns()
    out = []
    for e in emits:
        if e.opportunity is not None:
            signal = maybe_signal(e.opportunity, now_ns=now, params=params)
            if signal is not None:
                out.append(signal)
    return out


def risk_execution_flow(spec: FlowSpec, env: RunEnv) -> Dataflow:
    """arb.opportunity -> risk limits -> arb.decision -> executor -> arb.execution; bad records -> dlq.<flow>."""
    limits, execution = load_config(spec)
    service = build_service(spec, env, limits, execution)
    topics = spec.inputs.topics or ("arb.opportunity",)
    dlq_topic = spec.outputs.get("dlq", f"dlq.{spec.name}")
    flow_name = spec.name
    poll = timedelta(milliseconds=min(execution.receipt_poll_ms, 250))
    codecs = {t: codec(schema_topic(t)) for t in topics}

    def reader(topic: str) -> PayloadDecoder[tuple[Opportunity, int]]:
        read = codecs[topic].decode
        return lambda value: (from_record(read(value)), time.time_ns())  # with risk_in_ns

    def to_records(emits: list[Emit]) -> list[OutRecord]:
        out = []
        for e in emits:
            if e.kind == "decision":
                DECISIONS.labels(flow_name, e.label).inc()
            else:
                EXECUTIONS.labels(flow_name, e.label).inc()
            for name, a, b in HOPS:
                if a in e.trace and b in e.trace:
                    HOP_LATENCY.labels(flow_name, name).observe(max(0, e.trace[b] - e.trace[a]) / 1e9)
            RECORDS_OUT.labels(flow_name, e.topic).inc()
            out.append(OutRecord(e.topic, e.key, e.value))
        return out

    flow = Dataflow(spec.name)
    source = KafkaSource(env.bootstrap, topics, start=start_offset(spec), extra=dict(env.kafka_extra), chunks=True)
    decoded = decode("decode", op.input("kafka", flow, source), per_record(reader), flow=flow_name, dlq_topic=dlq_topic)
    ticks = op.input("tick", flow, Ticks(poll))
    keyed = op.key_on("single_writer", op.merge("work", decoded.oks, ticks), lambda _: KEY)
    executed = op.stateful("execute", keyed, lambda _resume: _Execute(service, flow_name))
    records = op.flat_map("records", executed, lambda kv: to_records(kv[1]))
    op.output("kafka_out", op.merge("out", records, decoded.errs), KafkaSink(env.bootstrap, dict(env.kafka_extra)))
    if env.signals_socket:  # accepted opportunities back to AlphaPulse's signals relay (flows/signals.py)
        params = SignalParams(max_gas_price_gwei=max(1, min(limits.max_gas_price_wei // 10**9, 2**32 - 1)))
        signals = op.flat_map("signals", executed, lambda kv: _signals(kv[1], params))
        op.output("signals_out", signals, SignalSink(env.signals_socket, flow_name))
    return flow


CONTRACT = BuilderContract(kind="risk_execution", sections=SECTIONS, config=load_config, build=risk_execution_flow)
"""The risk_execution builder, as flows/build.py registers it (one process: its config checks, with the reason)."""
