"""One export in a process of its own, so its peak memory (ru_maxrss) is its own; prints JSON.

`python -m bench.export_probe app URL USERNAME`  the enterprise's 导出全部 through the app, streamed;
`python -m bench.export_probe raw URL USERNAME`  the same rows through a bare openpyxl write-only loop.
"""

import json
import resource
import sys
import tempfile
import time

from openpyxl import Workbook
from sqlalchemy import select

from admin_views.enterprise import export_statement
from bench.database import bench_app
from bench.web import logged_in_client
from extensions import db
from models.audit import AuditEvent
from models.person import Person
from models.user import User

EXPORT_URL = "/enterprise/enterprise_persons/export?all=1"


def through_app(app, username):
    client = logged_in_client(app, username, role="enterprise")
    started = time.perf_counter()
    response = client.get(EXPORT_URL, buffered=False)
    first_byte, size = None, 0
    for chunk in response.response:
        if first_byte is None and chunk:
            first_byte = time.perf_counter() - started
        size += len(chunk)
    response.close()
    seconds = time.perf_counter() - started
    with app.app_context():
        detail = db.session.execute(
            select(AuditEvent.detail).where(AuditEvent.action == "person_export").order_by(AuditEvent.id.desc())
        ).scalar()
    rows = int(detail.split("rows=")[1]) if detail and "rows=" in detail else None
    return {"seconds": seconds, "first_byte": first_byte, "bytes": size, "rows": rows,
            "status": response.status_code, "type": response.headers.get("Content-Type", "")}


def raw_loop(app, username):
    """The same columns of the same people, appended to a write-only workbook and saved."""
    with app.app_context():
        enterprise_id = db.session.execute(select(User.enterprise_id).where(User.username == username)).scalar_one()
        statement = export_statement(Person.enterprise_id == enterprise_id)  # the app's own query
        started = time.perf_counter()
        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet("人员清单")
        rows = 0
        for row in db.session.execute(statement):
            sheet.append(list(row))
            rows += 1
        with tempfile.TemporaryFile() as output:
            workbook.save(output)
            size = output.tell()
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "first_byte": None, "bytes": size, "rows": rows, "status": 200, "type": "raw"}


def peak_rss_mb():
    """This process's peak resident memory.

    Linux keeps ru_maxrss across fork and exec, so a child of a big benchmark process
    reports at least its parent's size; VmHWM belongs to the process's own memory map.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv):
    mode, url, username = argv
    app = bench_app(url)
    result = (through_app if mode == "app" else raw_loop)(app, username)
    result["max_rss_mb"] = peak_rss_mb()
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
