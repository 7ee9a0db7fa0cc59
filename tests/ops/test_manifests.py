"""Deployment manifests (Kubernetes, systemd) parse and agree with the flow specs."""

from __future__ import annotations

import configparser
import re
import subprocess
import sys

import yaml

from base.paths import ROOT
from flows.spec import load_specs
from ops.control.manifests import K8S_DIR, SYSTEMD_DIR, k8s_name

DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def test_committed_manifests_are_rendered_from_the_specs() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ops.control.manifests", "--check"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr


def _k8s_docs() -> list[dict]:
    docs = []
    for path in sorted(K8S_DIR.glob("*.yaml")):
        docs.extend(d for d in yaml.safe_load_all(path.read_text()) if d)
    return docs


def test_every_spec_has_a_statefulset_with_its_processes_and_a_recovery_volume() -> None:
    docs = _k8s_docs()
    sets = {d["metadata"]["name"]: d for d in docs if d["kind"] == "StatefulSet"}
    services = {d["metadata"]["name"] for d in docs if d["kind"] == "Service"}
    specs = load_specs()
    assert set(sets) == {k8s_name(s) for s in specs}
    for spec in specs:
        name = k8s_name(spec)
        assert DNS1123.match(name) and len(name) <= 63, name
        sts = sets[name]["spec"]
        assert sts["replicas"] == spec.resources.processes
        assert sts["serviceName"] == name and name in services
        args = sts["template"]["spec"]["containers"][0]["args"]
        assert args[args.index("--spec") + 1] == f"/app/flows/specs/{spec.path.name}"
        assert "--recovery-dir" in args
        claims = [c["metadata"]["name"] for c in sts["volumeClaimTemplates"]]
        assert claims == ["recovery"]
        env_from = sts["template"]["spec"]["containers"][0]["envFrom"]
        assert {"secretRef": {"name": "pulsearb-secrets"}} in env_from
    kinds = {d["kind"] for d in docs}
    assert {"Namespace", "ConfigMap", "Secret", "Job", "PodMonitor"} <= kinds
    job = next(d for d in docs if d["kind"] == "Job")
    command = " ".join(job["spec"]["template"]["spec"]["containers"][0]["args"])
    assert "topics apply" in command and "db migrate" in command
    for secret in (d for d in docs if d["kind"] == "Secret"):
        assert all(v.startswith("REPLACE") for v in secret["stringData"].values()), "no real secret in the repo"
    risk = [s for s in specs if s.kind == "risk_execution"]
    for spec in risk:
        pod = sets[k8s_name(spec)]["spec"]["template"]["spec"]
        env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
        assert env["PULSEARB_KEYSTORE"].startswith("/var/run/secrets/")
        key_volume = next(v for v in pod["volumes"] if v["name"] == "executor-key")
        assert key_volume["secret"]["defaultMode"] == 0o400


def test_systemd_units_parse_and_cover_every_spec() -> None:
    units = {}
    for path in SYSTEMD_DIR.glob("*.service"):
        parser = configparser.ConfigParser(strict=False, interpolation=None)
        parser.read_string(path.read_text())
        units[path.name] = parser
    assert "Service" in units["pulsearb-flow@.service"]
    assert units["pulsearb-flow@.service"]["Service"]["Restart"] == "on-failure"
    target = configparser.ConfigParser(strict=False, interpolation=None)
    target.read_string((SYSTEMD_DIR / "pulsearb.target").read_text())
    wants = target["Unit"]["Wants"].split()
    for spec in load_specs():
        instances = (
            [spec.name]
            if spec.resources.processes == 1
            else [f"{spec.name}-{i}" for i in range(spec.resources.processes)]
        )
        for inst in instances:
            assert f"pulsearb-flow@{inst}.service" in wants
            env = (SYSTEMD_DIR / "env" / f"{inst}.env").read_text()
            assert f"--spec /opt/pulsearb/flows/specs/{spec.path.name}" in env
