"""Deploy parts without a broker: Kafka security settings, restart backoff, recovery partitions, the record."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from base.errors import ConfigError
from flows.spec import load_spec
from ops.control import record
from ops.control.kafka_config import load_kafka_settings
from ops.control.plan import Endpoints, make_plan, prepare_recovery
from ops.control.supervisor import Backoff

SPEC = "version: 1\nname: demo\nkind: detector\nstrategy: {name: cross_dex}\n"


def test_kafka_settings_pass_through_to_clients_and_flow_processes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pw").write_text("s3cret\n")
    cfg = tmp_path / "kafka.yaml"
    cfg.write_text(
        "security.protocol: SASL_SSL\nsasl.mechanism: SCRAM-SHA-512\nsasl.username: det\n"
        f"sasl.password: {{file: {tmp_path / 'pw'}}}\nssl.ca.location: /etc/ca.pem\n"
    )
    settings = load_kafka_settings(cfg)
    assert settings.extra()["sasl.password"] == "s3cret" and settings.extra()["security.protocol"] == "SASL_SSL"
    assert settings.env() == {
        "PULSEARB_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "PULSEARB_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "PULSEARB_KAFKA_SASL_USERNAME": "det",
        "PULSEARB_KAFKA_SASL_PASSWORD": "s3cret",
        "PULSEARB_KAFKA_SSL_CA_LOCATION": "/etc/ca.pem",
    }
    assert "s3cret" not in repr(settings)

    # A flow process gets them in its environment, never on its command line.
    spec = tmp_path / "demo.yaml"
    spec.write_text(SPEC)
    plan = make_plan(load_spec(spec), tmp_path / "root", Endpoints("127.0.0.1:9", env=settings.env()))
    proc = plan.process(0, [])
    assert proc.env()["PULSEARB_KAFKA_SASL_PASSWORD"] == "s3cret"
    assert "s3cret" not in " ".join(proc.argv())

    monkeypatch.setenv("PULSEARB_KAFKA_CONFIG", str(cfg))
    assert load_kafka_settings().values == settings.values


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("sasl.password: hunter2\n", "sasl.password: expected {env: VARIABLE} or {file: PATH}"),
        ("sasl.password: {env: PULSEARB_TEST_UNSET}\n", "environment variable PULSEARB_TEST_UNSET is not set"),
        ("bootstrap.servers: x\n", "bootstrap.servers: unknown setting; expected one of"),
        ("- a\n", "expected a mapping of librdkafka settings"),
    ],
)
def test_kafka_settings_errors_are_one_line(tmp_path: Path, body: str, error: str) -> None:
    cfg = tmp_path / "kafka.yaml"
    cfg.write_text(body)
    with pytest.raises(ConfigError) as err:
        load_kafka_settings(cfg)
    assert error in str(err.value) and "\n" not in str(err.value) and "hunter2" not in str(err.value)


def test_backoff_doubles_caps_and_resets_after_a_stable_run() -> None:
    b = Backoff(initial_s=0.5, max_s=4.0, stable_s=30.0)
    assert [b.next_delay(1.0) for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert b.next_delay(31.0) == 0.5 and b.failures == 1


def test_recovery_is_one_partition_per_process_directory_and_its_count_is_kept(tmp_path: Path) -> None:
    spec = tmp_path / "demo.yaml"
    spec.write_text(SPEC)
    plan = make_plan(load_spec(spec), tmp_path / "root", Endpoints("127.0.0.1:9"), processes=3)
    prepare_recovery(plan)
    assert [sorted(p.name for p in d.iterdir()) for d in plan.recovery_dirs] == [
        ["part-0.sqlite3"],
        ["part-1.sqlite3"],
        ["part-2.sqlite3"],
    ]
    assert len(set(plan.metrics_ports)) == 3 and plan.spec.path == tmp_path / "root" / "flows" / "demo" / "spec.yaml"
    prepare_recovery(plan)  # idempotent
    other = make_plan(load_spec(spec), tmp_path / "root", Endpoints("127.0.0.1:9"), processes=2)
    with pytest.raises(ConfigError) as err:
        prepare_recovery(other)
    assert "has 3 partitions" in str(err.value) and "--processes 3" in str(err.value)


def test_bridge_ignores_processes_override(tmp_path: Path) -> None:
    spec = tmp_path / "bridge.yaml"
    spec.write_text("version: 1\nname: br\nkind: bridge\n")
    assert make_plan(load_spec(spec), tmp_path, Endpoints("b"), processes=4).processes == 1


def test_record_updates_from_many_writers_are_not_lost(tmp_path: Path) -> None:
    spec = tmp_path / "demo.yaml"
    spec.write_text(SPEC)
    plan = make_plan(load_spec(spec), tmp_path / "root", Endpoints("127.0.0.1:9"))
    names = [f"flow{i}" for i in range(8)]

    def write(name: str) -> None:
        for _ in range(5):
            record.update(tmp_path / "root", name, lambda r, n=name: r or _renamed(plan.record(), n))

    threads = [threading.Thread(target=write, args=(n,)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(record.read_all(tmp_path / "root")) == names


def _renamed(rec: record.FlowRecord, name: str) -> record.FlowRecord:
    rec.name = name
    return rec
