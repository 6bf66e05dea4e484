"""Timing and reporting: medians of interleaved runs, result rows, the markdown and JSON table."""

import json
import os
import platform
import statistics
import subprocess
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def timed(function):
    """Run `function`; return (seconds, its result)."""
    started = time.perf_counter()
    result = function()
    return time.perf_counter() - started, result


def median(values):
    return statistics.median(values) if values else None


def interleaved(repeat, measured, baseline, warmup=1, before=None):
    """Time `measured` and `baseline` alternately (ABBA order, after warm-up); return both lists.

    Alternating cancels the drift of a shared machine (other processes, caches, bloat)
    that would favour whichever ran second. `before`, if given, runs untimed before each call.
    """
    def call(function):
        if before is not None:
            before()
        return timed(function)[0]

    for _ in range(warmup):
        call(measured)
        call(baseline)
    times_measured, times_baseline = [], []
    for index in range(repeat):
        pair = ((measured, times_measured), (baseline, times_baseline))
        for function, times in (pair if index % 2 == 0 else reversed(pair)):
            times.append(call(function))
    if before is not None:
        before()
    return times_measured, times_baseline


@dataclass
class Row:
    """One line of the table: an operation, its figure, its baseline and the target it is held to."""

    operation: str
    engine: str
    persons: int
    measured: float | None = None
    baseline: float | None = None
    unit: str = "ms"
    target: str = ""
    passed: bool | None = None
    note: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def ratio(self):
        if self.measured is None or not self.baseline:
            return None
        return self.measured / self.baseline

    def as_dict(self):
        data = asdict(self)
        data["ratio"] = self.ratio
        return data


def not_measured(operation, engine, persons, target, why):
    return Row(operation, engine, persons, target=target, note=f"not measured: {why}")


def _figure(value, unit):
    if value is None:
        return "–"
    if unit == "ms":
        return f"{value * 1000:.1f} ms" if value < 10 else f"{value:.1f} s"
    if unit == "s":
        return f"{value:.2f} s"
    if unit.endswith("/s"):  # req/s, msg/s
        return f"{value:.0f} {unit}"
    if unit == "MB":
        return f"{value:.0f} MB"
    return f"{value:g} {unit}"


def _verdict(row):
    if row.passed is None:
        return "–"
    return "PASS" if row.passed else "FAIL"


def markdown_table(rows):
    lines = [
        "| operation | engine | persons | measured (median) | baseline (median) | ratio | target | result | note |",
        "|---|---|---:|---:|---:|---:|---|---|---|",
    ]
    for row in rows:
        ratio = f"{row.ratio:.2f}×" if row.ratio is not None else "–"
        lines.append(
            f"| {row.operation} | {row.engine} | {row.persons:,} | {_figure(row.measured, row.unit)} | "
            f"{_figure(row.baseline, row.unit)} | {ratio} | {row.target} | {_verdict(row)} | {row.note} |"
        )
    return "\n".join(lines)


def machine_info(engine_version=None):
    """nproc, memory, Python and database versions: what a figure means depends on them."""
    memory_gb = None
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemTotal:"):
                    memory_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), cpu)
    except OSError:
        pass
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = None
    return {
        "nproc": os.cpu_count(), "memory_gb": memory_gb, "cpu": cpu, "python": platform.python_version(),
        "database": engine_version, "load_at_start": load,
        "commit": _git_commit(), "at": datetime.now().isoformat(timespec="seconds"),
    }


def _git_commit():
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              cwd=Path(__file__).resolve().parent, check=False).stdout.strip() or None
    except OSError:
        return None


def write_report(rows, settings, machine, out_dir=RESULTS_DIR):
    """Write bench-<engine>-<persons>.md/.json (and latest.*); return the markdown text."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    table = markdown_table(rows)
    header = (
        f"Benchmark: {settings['persons']:,} persons on {settings['engine']} "
        f"({settings['repeat']} runs per figure, median; ratios against baselines measured in the same run)\n\n"
        f"Machine: {machine['nproc']} cores, {machine['memory_gb']} GB, {machine['cpu']}; "
        f"Python {machine['python']}; {machine['database']}; commit {machine['commit']}; {machine['at']}\n"
    )
    text = header + "\n" + table + "\n"
    stem = f"bench-{settings['engine']}-{settings['persons']}"
    payload = {"settings": settings, "machine": machine, "rows": [row.as_dict() for row in rows]}
    for name in (stem, f"latest-{settings['engine']}"):
        (out_dir / f"{name}.md").write_text(text, encoding="utf-8")
        (out_dir / f"{name}.json").write_text(json.dumps(payload, ensure_ascii=False, indent=2, default=str),
                                              encoding="utf-8")
    return text
