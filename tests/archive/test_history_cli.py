"""`pulsearb history`: tables, CSV/JSON, charts, and one clear line when the embedded store is busy."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from ops.cli import main
from sinks.clickhouse import connect, session
from sinks.migrate import migrate
from sinks.writer import ArchiveWriter
from tests.sinks.records import T0, encode, execution

DAY = 86_400 * 10**9


def test_history_outputs_and_charts(tmp_path: Path, capsys) -> None:
    dsn = f"chdb://{tmp_path / 'store'}"
    with session(dsn) as client:
        migrate(client)
    recs = [
        execution(f"o{i}", T0 + (i % 3) * DAY + i * 10**9, 10**15 * (i - 2), strategy=("a", "b")[i % 2])
        for i in range(12)
    ]
    w = ArchiveWriter(lambda: connect(dsn))
    w.add_many("arb.execution", 0, list(enumerate(encode("arb.execution", recs))))
    w.close()
    assert main(["history", "executions", "--dsn", dsn, "--format", "json", "--strategy", "a"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert len(lines) == 6 and {x["strategy"] for x in lines} == {"a"}
    assert main(["history", "pnl", "--dsn", dsn, "--format", "csv", "--plot", str(tmp_path / "pnl.png")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("period,strategy,pair") and len(out) == 1 + 6
    assert main(["history", "latency", "--dsn", dsn, "--plot", str(tmp_path / "lat.png")]) == 0
    for png in ("pnl.png", "lat.png"):
        assert (tmp_path / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["history", "pnl", "--dsn", dsn, "--since", "yesterday"]) == 1
    assert "expected an ISO time" in capsys.readouterr().err


def test_busy_store_is_one_line_with_the_way_out(tmp_path: Path, capsys) -> None:
    store = tmp_path / "store"
    holder = subprocess.Popen([sys.executable, "-m", "tests.sinks.holder", str(store), "20"], stdout=subprocess.PIPE)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"holding"
        assert main(["history", "opportunities", "--dsn", f"chdb://{store}"]) == 1
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"in use by process {holder.pid}" in err[0] and "cp -r" in err[0]
