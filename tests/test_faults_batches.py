"""Faults during batches, on PostgreSQL: two operators at the same moment, and a process killed mid-UPDATE.

Two operators (threads, each with its own session and connection) run the same 全部审核 or
全部分配 at once: each person moves once, one history row per real change. A process running
apply_transition on 50,000 people is SIGKILLed while PostgreSQL executes its UPDATE (seen in
pg_stat_activity): afterwards all or none of the batch happened, and `flask check-data` passes.
"""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text

from models import Person, now
from models.audit import PersonEvent
from models.status import ALLOCATED, CENTER_APPROVED, DEPT_APPROVED, SUBMITTED
from models.workflow import apply_transition

pytestmark = pytest.mark.postgres_only
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def postgres_only(is_postgres):
    if not is_postgres:
        pytest.skip("needs PostgreSQL: SQLite serialises writers and hides races")


def run_at_once(app, user_ids, work):
    """Run work(user) in one thread per user, each in its own app context and session, started together."""
    from extensions import db
    from models import User

    barrier, results, errors = threading.Barrier(len(user_ids)), [], []

    def one(user_id):
        with app.app_context():
            try:
                user = db.session.get(User, user_id)
                barrier.wait()
                results.append(work(user))
                db.session.commit()
            except Exception as error:  # noqa: BLE001 - reported by the test
                db.session.rollback()
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=one, args=(uid,)) for uid in user_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results, errors


def history_rows(db, ids, to_status):
    return db.session.execute(select(func.count()).select_from(PersonEvent).where(
        PersonEvent.person_id.in_(ids), PersonEvent.to_status == to_status)).scalar_one()


def test_two_reviewers_approving_all_at_once_move_each_person_once(app, db, make_department, make_enterprise,
                                                                    make_user, make_persons):
    department = make_department()
    enterprise = make_enterprise(department=department)
    ids = make_persons(enterprise, 2000, status=SUBMITTED)
    users = [make_user("review", department).id, make_user("review", department).id]
    db.session.commit()
    chosen = Person.enterprise_id == enterprise.id
    results, errors = run_at_once(app, users, lambda user: apply_transition("dept_approve", user, where=chosen))
    assert not errors, errors
    assert sum(result.changed for result in results) == 2000
    db.session.expire_all()
    assert db.session.execute(select(func.count()).where(Person.id.in_(ids), Person.status == DEPT_APPROVED)
                              ).scalar_one() == 2000
    assert history_rows(db, ids, DEPT_APPROVED) == 2000


def test_two_center_operators_allocating_all_at_once_to_different_stations(app, db, make_enterprise, make_station,
                                                                          make_user, make_persons):
    enterprise = make_enterprise()
    ids = make_persons(enterprise, 1500, status=CENTER_APPROVED)
    stations = [make_station(), make_station()]
    users = [make_user("center").id, make_user("center").id]
    station_of = dict(zip(users, [s.id for s in stations]))
    db.session.commit()
    chosen = Person.enterprise_id == enterprise.id

    def allocate(user):
        from extensions import db as session_db
        from models import Station

        return apply_transition("allocate", user, where=chosen, station=session_db.session.get(Station,
                                                                                            station_of[user.id]))

    results, errors = run_at_once(app, users, allocate)
    assert not errors, errors
    assert sum(result.changed for result in results) == 1500
    db.session.expire_all()
    rows = db.session.execute(select(Person.status, Person.station_id).where(Person.id.in_(ids))).all()
    assert {status for status, _ in rows} == {ALLOCATED}
    assert all(station_id in station_of.values() for _, station_id in rows)
    assert history_rows(db, ids, ALLOCATED) == 1500


KILLED_BATCH = """
import sys
from app import create_app
from extensions import db
from models import Person, User
from models.workflow import apply_transition

app = create_app({"SQLALCHEMY_DATABASE_URI": sys.argv[1]})
with app.app_context():
    user = db.session.get(User, int(sys.argv[2]))
    print("starting", flush=True)
    apply_transition("submit", user, where=Person.enterprise_id == int(sys.argv[3]))
    db.session.commit()
    print("committed", flush=True)
"""


@pytest.mark.slow
def test_a_process_killed_during_a_50000_person_batch_leaves_all_or_nothing(app, db, database_url, make_enterprise,
                                                                           make_user, make_persons,
                                                                           tmp_path):
    enterprise = make_enterprise()
    operator = make_user("enterprise", enterprise)
    # 50,000 people 未提交 (a consistent start: no stage reached, no history needed) in one statement:
    # row-by-row parameters took a minute on a loaded machine.
    db.session.execute(text(
        "INSERT INTO person (enterprise_id, name, gender, id_number, age, phone, category, lives_in_binhai, "
        "community, remarks, source, status, created_at, version) "
        "SELECT :enterprise, '测试人员', 'M', '9' || lpad(n::text, 17, '0'), 30, '13912345678', '企业职工', true, "
        "'', '', 'qr', 'registered', :created, 1 FROM generate_series(1, 50000) AS n"),
        {"enterprise": enterprise.id, "created": now()})
    db.session.commit()
    assert db.session.execute(select(func.count()).where(Person.enterprise_id == enterprise.id)).scalar_one() == 50_000
    watcher = create_engine(database_url.split("?")[0], isolation_level="AUTOCOMMIT")
    env = {**os.environ, "INSTANCE_PATH": str(tmp_path), "TEST_DATABASE_URL": ""}
    process = subprocess.Popen([sys.executable, "-c", KILLED_BATCH, database_url, str(operator.id),
                                str(enterprise.id)], cwd=REPO, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    backend = None
    try:
        deadline = time.monotonic() + 120
        while backend is None and time.monotonic() < deadline and process.poll() is None:
            with watcher.connect() as connection:
                backend = connection.execute(text(
                    "SELECT pid FROM pg_stat_activity WHERE state = 'active' AND query ILIKE 'UPDATE person %' "
                    "AND pid <> pg_backend_pid() LIMIT 1")).scalar()
            if backend is None:
                time.sleep(0.005)
        assert backend is not None, "never saw the UPDATE running: " + (process.stdout.read() if
                                                                         process.poll() is not None else "")
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        # The server side finds its client gone and rolls back; wait until that backend has ended.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with watcher.connect() as connection:
                if not connection.execute(text("SELECT 1 FROM pg_stat_activity WHERE pid = :pid"),
                                          {"pid": backend}).scalar():
                    break
            time.sleep(0.1)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout:
            process.stdout.close()
        watcher.dispose()
    db.session.expire_all()
    approved = db.session.execute(select(func.count()).where(Person.enterprise_id == enterprise.id,
                                                             Person.status == SUBMITTED)).scalar_one()
    ids = select(Person.id).where(Person.enterprise_id == enterprise.id)
    history = db.session.execute(select(func.count()).select_from(PersonEvent).where(
        PersonEvent.person_id.in_(ids))).scalar_one()
    print(f"\nSIGKILL during the UPDATE of 50,000 people (全部提交): {approved} submitted, {history} history rows")
    assert (approved, history) in ((0, 0), (50_000, 50_000))
    check = subprocess.run([str(REPO / ".venv/bin/flask"), "--app", "app", "check-data"], cwd=REPO,
                           env={**env, "DATABASE_URL": database_url}, capture_output=True, text=True, timeout=300)
    assert check.returncode == 0, check.stdout + check.stderr
