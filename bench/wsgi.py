"""What gunicorn serves in the load runs: the real app on the benchmark database, plus a bare insert.

`POST /bench/bare-insert` is the baseline of the public form: one Core INSERT of the
posted person and a commit, without CSRF, rate limit, validation, duplicate check or
template, on the same server, workers and database as the form.
"""

import os

from flask import request
from sqlalchemy import insert

from bench.database import bench_app
from extensions import csrf, db
from models.base import now
from models.person import Person

# The form's rate limit is checked on every post as in production (in Redis when the bench
# found one), with a limit no load run reaches: its cost is measured, never a refusal.
app = bench_app(os.environ["BENCH_DATABASE_URL"], SECRET_KEY=os.environ["SECRET_KEY"], WTF_CSRF_ENABLED=True,
                RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI=os.environ.get("BENCH_RATELIMIT_STORAGE", "memory://"),
                EMPLOYEE_FORM_RATE_LIMIT="100000000 per minute")


@app.post("/bench/bare-insert")
@csrf.exempt
def bare_insert():
    form = request.form
    db.session.execute(insert(Person.__table__).values(
        enterprise_id=int(form["enterprise_id"]), name=form["name"], gender=form["gender"],
        id_number=form["id_number"], age=int(form["age"]), phone=form["phone"], category=form["category"],
        lives_in_binhai=True, community=form["community"], remarks="", source="qr", status="registered",
        version=1, created_at=now(),
    ))
    db.session.commit()
    return "ok", 201
