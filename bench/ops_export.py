"""导出全部 of the biggest enterprise (100,000 people at 1,000,000) beside a bare openpyxl write-only loop.

Each export runs in a fresh subprocess: its peak RSS (ru_maxrss) is then the export's own
on top of the same imported application, and runs do not share caches of Python objects.
"""

import json
import subprocess
import sys

from sqlalchemy import func, select

from bench.harness import Row, median
from extensions import db
from models.person import Person
from models.user import User

TARGET_RATIO = 1.3
TARGET_RSS_MB = 150
STREAMED_SHARE = 0.2  # the first bytes leave before a fifth of the time: the response streams
TARGET = f"≤ {TARGET_RATIO}× baseline, peak RSS ≤ {TARGET_RSS_MB} MB, streamed"


def probe(ctx, mode, username):
    completed = subprocess.run([sys.executable, "-m", "bench.export_probe", mode, ctx.url, username],
                               capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"export probe {mode} failed: {completed.stderr[-2000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def measure(ctx):
    with ctx.app.app_context():
        enterprise_id, people = db.session.execute(
            select(Person.enterprise_id, func.count()).group_by(Person.enterprise_id)
            .order_by(func.count().desc()).limit(1)
        ).one()
        username = db.session.execute(select(User.username).where(User.enterprise_id == enterprise_id)).scalar_one()
    runs = {"app": [], "raw": []}
    for index in range(max(min(ctx.repeat, 3), 1)):
        for mode in (("app", "raw") if index % 2 == 0 else ("raw", "app")):
            runs[mode].append(probe(ctx, mode, username))
    app_time = median([r["seconds"] for r in runs["app"]])
    raw_time = median([r["seconds"] for r in runs["raw"]])
    rss = max(r["max_rss_mb"] for r in runs["app"])
    raw_rss = max(r["max_rss_mb"] for r in runs["raw"])
    first_byte = median([r["first_byte"] or r["seconds"] for r in runs["app"]])
    complete = all(r["status"] == 200 and r["rows"] == people for r in runs["app"])
    streamed = first_byte <= STREAMED_SHARE * app_time
    row = Row(f"导出全部 of one enterprise, {people:,} rows × 17 columns to xlsx", ctx.engine, ctx.persons,
              measured=app_time, baseline=raw_time, unit="s", target=TARGET,
              note=(f"peak RSS {rss:.0f} MB (bare loop {raw_rss:.0f} MB); first byte after {first_byte:.2f} s"
                    + ("" if complete else "; rows missing or error")),
              extra={"runs": runs})
    row.passed = bool(complete and row.ratio <= TARGET_RATIO and rss <= TARGET_RSS_MB and streamed)
    ctx.log(f"export: app {app_time:.2f} s ({rss:.0f} MB, first byte {first_byte:.2f} s), "
            f"raw {raw_time:.2f} s ({raw_rss:.0f} MB)")
    return [row]
