"""The benchmark runs end to end at a tiny size on this run's database engine (its code cannot rot).

It checks that the table has every row and that the checks the benchmark makes along the
way held (same rows as plain Flask-Admin, same figures as GROUP BY, every acknowledged
form row stored once, every queued text delivered once, counters right afterwards) — not
the timings, which mean nothing at 2,000 persons on a shared machine.
"""

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OPERATIONS = (
    "全部审核", "全部分配", "first page", "OFFSET", "GET /center/live", "GET /center/", "card read",
    "导出全部", "public form POST", "public form p99", "recall list first page", "待续种 booking",
    "分期分量预约 of 300 people", "reminders: 500 day-before texts", "delivery of 200 messages by the worker",
)


@pytest.mark.slow
def test_the_benchmark_measures_every_operation_at_a_tiny_size(database_url, tmp_path):
    name = "bench_smoke_" + uuid.uuid4().hex[:10]
    engine = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    command = [sys.executable, "-m", "bench", "--persons", "2000", "--repeat", "1", "--batch", "200",
               "--load-seconds", "1", "--booking", "300", "--reminders", "500", "--deliveries", "200",
               "--db", engine, "--db-name", name, "--out", str(tmp_path)]
    env = dict(os.environ)
    if engine == "postgresql":
        env["BENCH_POSTGRES_URL"] = database_url.split("?")[0]
    completed = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
                               check=False)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]

    rows = json.loads((tmp_path / f"bench-{engine}-2000.json").read_text(encoding="utf-8"))["rows"]
    for operation in OPERATIONS:
        assert [r for r in rows if operation in r["operation"]], f"no row for {operation}"
    for row in rows:
        if row["note"].startswith("not measured"):
            assert engine == "sqlite" and "p99" in row["operation"], row
            continue
        assert row["measured"] and row["baseline"], row
        assert not any(word in row["note"] for word in ("differ", "disagree", "lost", "missing", "failed")), row
    assert "| operation |" in completed.stdout
    assert not (tmp_path / f"{name}.sqlite3").exists()  # dropped afterwards
