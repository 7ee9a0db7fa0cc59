"""Security of a deployed pipeline, checked on the real thing: the local stack (Tansu, anvil, embedded ClickHouse), a
relay fed by the chain watcher, and bridge, detector (a 2-process cluster), risk_execution and archive deployed with
``pulsearb flows deploy`` as an operator would, the signing key in the environment. One dislocation on chain is
detected, executed and archived; then the flows are stopped.

Checked: the key (hex, with and without ``0x``, either case, and its raw bytes) is in no file the deployment wrote
(deployments.json, supervisor and flow logs, recovery snapshots, the ledger), no CLI output, no Kafka record of any
topic, and no row of any ClickHouse table; it is in the environment of the risk_execution process only; and no
process of the stack or the flows accepts traffic on a non-loopback address (/proc/net of each pid).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition
from eth_account import Account
from web3 import Web3

from base.paths import ROOT
from flows.execution.signer import Signer
from flows.relay.protocol import RelayDomain
from flows.relay.server import RelayServer
from flows.spec import SPECS_DIR, load_spec, load_specs
from ops.control import record
from ops.control.topics import admin_client, apply, load_topics
from ops.simulator.chain.bind import bind_specs, render_spec
from ops.simulator.chain.deploy import ANVIL_KEYS, deploy
from ops.simulator.chain.loop import TopicReader
from ops.simulator.chain.market import Trader
from ops.simulator.chain.watcher import ChainWatcher
from ops.simulator.stack import stack
from sinks.clickhouse import query_rows, session
from sinks.kafka import KafkaWriter, client_config
from tests.security.procfs import Listener, environment, listeners

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TEMPLATES = {
    "detector": ROOT / "tests" / "closed_loop" / "specs" / "cross_dex.yaml",
    "risk_execution": ROOT / "tests" / "reliability" / "specs" / "risk_execution.yaml",
}
USDC = 10**6


@dataclass
class Deployed:
    """What the scenario left behind and saw while it ran."""

    key: str  # 64 hex digits, no 0x
    executed: list[dict]
    kinds: dict[int, str]  # pid -> flow kind, "supervisor:<kind>", "broker" or "chain"
    envs: dict[int, bytes] = field(default_factory=dict)
    sockets: dict[int, list[Listener]] = field(default_factory=dict)
    texts: dict[str, bytes] = field(default_factory=dict)  # where -> content


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ops", *args], cwd=ROOT, env=env, capture_output=True, timeout=180, check=False
    )


def _files(root: Path) -> dict[str, bytes]:
    out = {}
    for path in root.rglob("*"):
        if path.is_file() and not path.is_socket():
            out[str(path)] = path.read_bytes()
    return out


def _topics(bootstrap: str) -> dict[str, bytes]:
    """Every record (key and value) of every topic, raw."""
    names = [t for t in admin_client(bootstrap).list_topics(timeout=10).topics if not t.startswith("__")]
    conf = {"group.id": f"sec-{uuid.uuid4().hex[:8]}", "enable.partition.eof": True, "enable.auto.commit": False}
    consumer = Consumer(client_config(bootstrap, conf))
    chunks: dict[str, list[bytes]] = {name: [] for name in names}
    try:
        meta = consumer.list_topics(timeout=10).topics
        parts = [TopicPartition(name, p, 0) for name in names for p in meta[name].partitions]
        consumer.assign(parts)
        ended: set[tuple[str, int]] = set()
        deadline = time.monotonic() + 60
        while len(ended) < len(parts) and time.monotonic() < deadline:
            for msg in consumer.consume(10_000, 0.5):
                if msg.error() is not None:
                    ended.add((msg.topic(), msg.partition()))
                else:
                    chunks[msg.topic()] += [msg.key() or b"", msg.value() or b""]
        assert len(ended) == len(parts), "every partition was read to its end"
    finally:
        consumer.close()
    return {f"kafka {name}": b"\0".join(c) for name, c in chunks.items()}


def _tables(dsn: str) -> dict[str, bytes]:
    """Every row of every table of the store, as text."""
    out = {}
    with session(dsn) as client:
        _, tables = query_rows(
            client,
            "SELECT database, name FROM system.tables WHERE database = 'pulsearb' AND engine LIKE '%MergeTree' "
            "AND engine NOT LIKE 'Aggregating%'",  # aggregate states are numbers; views read the tables searched
        )
        for db, name in tables:
            cols, rows = query_rows(client, f"SELECT * FROM `{db}`.`{name}`")
            out[f"clickhouse {db}.{name}"] = repr((cols, rows)).encode()
    return out


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    home = tmp_path_factory.mktemp("security")
    root = home / "deploy"
    info = stack.up(home)
    relay: RelayServer | None = None
    watcher: ChainWatcher | None = None
    stopped = False
    base = {k: v for k, v in os.environ.items() if not k.startswith("PULSEARB_")}
    try:
        w3 = Web3(Web3.HTTPProvider(info.rpc_url, request_kwargs={"timeout": 10}))
        account = Account.create()
        key = account.key.hex().removeprefix("0x")
        w3.eth.send_transaction({"from": w3.eth.accounts[0], "to": account.address, "value": 100 * 10**18})
        trader_signer = Signer.from_key(ANVIL_KEYS[1])
        deployment = deploy(w3, Signer.from_key(key), trader=trader_signer.address)
        specs = {kind: render_spec(t, deployment, home / "specs") for kind, t in TEMPLATES.items()}
        [specs["collector"]] = bind_specs([load_spec(SPECS_DIR / "collector.yaml")], deployment, home / "specs")
        relay = RelayServer(home / "relay", domains=(RelayDomain.MARKET_DATA,), mode=0o600).start()
        socket = str(relay.socket_path(RelayDomain.MARKET_DATA))
        apply(info.bootstrap or "", load_topics(specs=[*load_specs(), *specs.values()]))
        env = base | {
            "PULSEARB_HOME": str(home),
            "PULSEARB_PRIVATE_KEY": "0x" + key,
            "PULSEARB_RPC_URL": info.rpc_url or "",
            "PULSEARB_STORE_DSN": info.store_dsn,
        }
        boot = ["--bootstrap", info.bootstrap or "", "--root", str(root)]
        outputs: dict[str, bytes] = {}
        first = [str(SPECS_DIR / "archive.yaml"), str(SPECS_DIR / "bridge.yaml"), str(specs["risk_execution"].path)]
        first.append(str(specs["collector"].path))  # the detector's pool states (the watcher sends swaps only)
        for name, args in {
            "deploy": ("flows", "deploy", *boot, "--relay-socket", socket, "--specs", *first),
            "deploy detector": ("flows", "deploy", *boot, "--processes", "2", "--specs", str(specs["detector"].path)),
        }.items():
            done = _cli(env, *args)
            outputs[f"cli {name}"] = done.stdout + done.stderr
            assert done.returncode == 0, (done.stdout + done.stderr).decode(errors="replace")
        watcher = ChainWatcher(info.rpc_url or "", deployment.pools, socket).start()
        trader = Trader(w3, trader_signer, deployment)
        executions = TopicReader(info.bootstrap or "", "arb.execution")
        try:
            sent = trader.swap(deployment.pair(300), deployment.tokens["USDC"].address, 50_000 * USDC)
            block = int(w3.eth.get_transaction_receipt(sent.tx_hash)["blockNumber"])
            writer = KafkaWriter(info.bootstrap or "")
            writer.produce("arb.opportunity", b"junk", b"not an opportunity: a dead letter with its bytes")
            writer.flush()
            del writer  # the producer goes before the broker does
            executed = executions.wait(lambda rs: any(r["status"] == "mined" for r in rs), 90, "a mined execution")
        finally:
            executions.close()
        assert any(r["block_number"] > block for r in executed)

        kinds: dict[int, str] = {info.broker_pid or 0: "broker", info.chain_pid or 0: "chain"}
        for rec in record.read_all(root).values():
            kinds[rec.supervisor_pid or 0] = f"supervisor:{rec.kind}"
            for p in rec.processes:
                kinds[p.pid or 0] = rec.kind
        kinds.pop(0, None)
        seen = Deployed(key, executed, kinds)
        for pid in kinds:
            seen.envs[pid] = environment(pid)
            seen.sockets[pid] = listeners(pid)
        done = _cli(env, "flows", "status", "--root", str(root), "--json")  # prints the records
        outputs["cli status"] = done.stdout + done.stderr
        watcher.stop()
        watcher = None
        done = _cli(env, "flows", "stop", "--root", str(root))
        outputs["cli stop"] = done.stdout + done.stderr
        assert done.returncode == 0, done.stderr.decode(errors="replace")
        stopped = True
        seen.texts = outputs | _files(home / "deploy") | _files(home / "risk_execution")
        seen.texts |= _topics(info.bootstrap or "")
        seen.texts |= _tables(info.store_dsn)
        yield seen
    finally:
        if watcher is not None:
            watcher.stop()
        if not stopped:
            _cli(base | {"PULSEARB_HOME": str(home)}, "flows", "stop", "--root", str(root))
        if relay is not None:
            relay.stop()
        stack.down(home)


def _forms(key: str) -> list[bytes]:
    text = [key.lower(), key.upper(), "0x" + key.lower(), key.lower()[:24]]
    return [t.encode() for t in text] + [bytes.fromhex(key)]


def test_the_key_is_in_no_file_output_record_or_row(deployed: Deployed) -> None:
    texts = deployed.texts
    print(f"searched {len(texts)} places, {sum(len(v) for v in texts.values()):,} bytes")
    assert any(w.endswith("deployments.json") for w in texts)
    assert any("rl_risk_execution" in w and w.endswith(".log") and texts[w] for w in texts), "the risk flow logged"
    assert any(w.endswith(".sqlite") for w in texts), "the ledger was searched"
    rows = texts["clickhouse pulsearb.arb_execution"]
    assert deployed.executed[-1]["opportunity_id"].encode() in rows, "the execution was archived"
    leaks = [where for where, content in texts.items() for form in _forms(deployed.key) if form in content]
    assert not leaks, f"the key appears in {sorted(set(leaks))}"


def test_only_the_risk_execution_process_has_the_key_in_its_environment(deployed: Deployed) -> None:
    forms = _forms(deployed.key)
    holders = sorted({deployed.kinds[pid] for pid, env in deployed.envs.items() if any(f in env for f in forms)})
    print(f"the key is in the environment of: {holders}")
    flows = {deployed.kinds[pid] for pid in deployed.envs}
    assert {"bridge", "detector", "archive", "risk_execution"} <= flows
    assert [h for h in holders if not h.startswith("supervisor:")] == ["risk_execution"]


def test_only_the_risk_execution_supervisor_has_the_key(deployed: Deployed) -> None:
    forms = _forms(deployed.key)
    holders = sorted({deployed.kinds[pid] for pid, env in deployed.envs.items() if any(f in env for f in forms)})
    assert [h for h in holders if h.startswith("supervisor:")] == ["supervisor:risk_execution"]


def test_nothing_listens_beyond_loopback(deployed: Deployed) -> None:
    every = [s for socks in deployed.sockets.values() for s in socks]
    for pid, socks in sorted(deployed.sockets.items()):
        print(f"{deployed.kinds[pid]:>26} pid {pid}: {', '.join(f'{s.proto} {s.address}:{s.port}' for s in socks)}")
    for pid, kind in deployed.kinds.items():
        if not kind.startswith("supervisor:"):
            assert deployed.sockets[pid], f"{kind} (pid {pid}) listens on nothing: the check would be vacuous"
    assert not [str(s) for s in every if not s.loopback], "a process accepts traffic beyond loopback"


def test_flow_logs_are_json_lines(deployed: Deployed) -> None:
    # Our own lines are JSON objects (librdkafka and Rust write their own formats to the same stream).
    logs = {w: c for w, c in deployed.texts.items() if w.endswith(".log") and "flows" in w}
    ours = [line for c in logs.values() for line in c.decode(errors="replace").splitlines() if line.startswith("{")]
    assert ours, f"no JSON log line in {sorted(logs)}"
    for line in ours:
        entry = json.loads(line)
        assert {"ts", "level", "logger", "msg", "flow"} <= set(entry), line
