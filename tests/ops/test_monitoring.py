"""Monitoring config: promtool accepts and unit-tests the alert rules, names match the metrics, a flow serves them."""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

import flows.metrics  # noqa: F401 - registers the metrics
from base.paths import ROOT
from ops.simulator.stack.process import free_port
from ops.simulator.stack.stack import StackInfo

MON = ROOT / "ops" / "monitoring"


def _promtool(*args: str) -> subprocess.CompletedProcess:
    tool = shutil.which("promtool")
    assert tool, "promtool is missing: `make setup` installs Debian's prometheus package"
    return subprocess.run([tool, *args], cwd=MON, capture_output=True, text=True, timeout=60, check=False)


def test_rules_and_config_pass_promtool() -> None:
    for args in (("check", "rules", "alerts.yml"), ("check", "config", "prometheus.yml")):
        result = _promtool(*args)
        assert result.returncode == 0, result.stdout + result.stderr


def test_alert_unit_tests_pass() -> None:
    result = _promtool("test", "rules", "alerts_test.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def _known_metrics() -> set[str]:
    names = set()
    for metric in REGISTRY.collect():
        for sample in metric.samples:
            names.add(sample.name)
        names.add(metric.name)
        if metric.type == "counter":
            names.add(metric.name + "_total")
        if metric.type == "histogram":
            names.update({metric.name + s for s in ("_bucket", "_count", "_sum")})
    return names


def test_every_metric_in_rules_and_dashboard_exists() -> None:
    text = (MON / "alerts.yml").read_text() + json.dumps(json.loads((MON / "grafana-dashboard.json").read_text()))
    used = set(re.findall(r"pulsearb_[a-z_]+", text))
    known = _known_metrics()
    assert used, "no pulsearb metric referenced"
    assert used <= known, f"unknown metrics referenced: {sorted(used - known)}"


@pytest.mark.integration
def test_running_flow_serves_metrics(broker_stack: StackInfo, tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "flows.run", "--spec", str(ROOT / "flows" / "specs" / "bridge.yaml"),
            "--bootstrap", broker_stack.bootstrap or "", "--relay-socket", str(tmp_path / "absent.sock"),
            "--metrics-port", str(port),
        ],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    body = ""
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and 'endpoint="broker"} 1.0' not in body:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=1) as resp:
                    body = resp.read().decode()
            except OSError:
                assert proc.poll() is None, proc.communicate()[0]
                time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    assert 'pulsearb_flow_info{flow="bridge",kind="bridge",process="0"} 1.0' in body
    assert 'pulsearb_endpoint_up{endpoint="broker",flow="bridge"} 1.0' in body
    assert proc.returncode == 0, out


def test_grafana_clickhouse_source_points_at_the_store_server(tmp_path: Path, monkeypatch) -> None:
    """The provisioned data source: the store server's default loopback port, its HTTP protocol, its user and
    password variable; a request shaped as the plugin sends it (Native, database, basic auth) is answered."""
    import base64

    import yaml

    from ops.simulator.stack.store import DEFAULT_PORT
    from tests.sinks.served import served_store

    [source] = yaml.safe_load((MON / "grafana-datasource.yml").read_text())["datasources"]
    conf = source["jsonData"]
    assert source["type"] == "grafana-clickhouse-datasource"
    assert (conf["host"], conf["port"], conf["protocol"]) == ("127.0.0.1", DEFAULT_PORT, "http")
    assert source["secureJsonData"]["password"] == "$PULSEARB_STORE_PASSWORD"
    monkeypatch.setenv("PULSEARB_STORE_PASSWORD", "grafana-secret")
    with served_store(tmp_path) as (_dsn, record):
        auth = base64.b64encode(f"{conf['username']}:grafana-secret".encode()).decode()
        url = f"{record.url}/?default_format=Native&database={conf['defaultDatabase']}&max_execution_time=60"
        req = urllib.request.Request(url, data=b"SELECT count() FROM arb_opportunity", headers={
            "Authorization": f"Basic {auth}"})  # fmt: skip
        with urllib.request.urlopen(req, timeout=30) as reply:
            assert reply.status == 200 and reply.headers["X-ClickHouse-Format"] == "Native"
            assert reply.read().startswith(b"\x01\x01")  # Native: 1 column, 1 row
