"""The command line: one group per domain (`flask users create`, `flask demo seed`, …), first-version names kept."""

import logging

import pytest
from sqlalchemy import func, select

from models import AuditEvent, Enterprise, Person, ReaderToken, User


def flask(app, *args):
    return app.test_cli_runner().invoke(args=list(args))


def test_help_lists_the_domain_groups_and_hides_the_old_names(app):
    listing = flask(app, "--help").output
    for group in ("data", "demo", "users", "readers", "departments"):
        assert f"  {group} " in listing
    assert "create-user" not in listing and "seed-demo" not in listing


@pytest.mark.parametrize("command", [("users", "create"), ("create-user",)])
def test_users_create_makes_an_account_under_either_name(app, db, command):
    result = flask(app, *command, "--role", "center", "--username", "zhongxin2", "--password", "Passw0rd2026")
    assert result.exit_code == 0, result.output
    assert "已创建账号 zhongxin2" in result.output
    user = db.session.execute(select(User).where(User.username == "zhongxin2")).scalar_one()
    assert user.role == "center" and user.check_password("Passw0rd2026")
    [event] = db.session.execute(select(AuditEvent).where(AuditEvent.action == "account_created")).scalars()
    assert event.target_id == user.id and event.user_id is None  # created on the command line


def test_users_create_refuses_a_weak_password_and_a_taken_name(app, db, make_user):
    make_user("center", username="taken")
    db.session.commit()
    weak = flask(app, "users", "create", "--role", "center", "--username", "new1", "--password", "short")
    assert weak.exit_code != 0 and "密码至少8位" in weak.output
    taken = flask(app, "users", "create", "--role", "center", "--username", "taken", "--password", "Passw0rd2026")
    assert taken.exit_code != 0 and "账号“taken”已存在" in taken.output
    assert db.session.execute(select(func.count()).select_from(User)).scalar_one() == 1


def test_users_create_ties_an_account_to_its_unit(app, db, make_station):
    make_station("新河接种点")
    db.session.commit()
    missing = flask(app, "users", "create", "--role", "station", "--username", "s1", "--password", "Passw0rd2026")
    assert missing.exit_code != 0 and "需要 --station" in missing.output
    made = flask(app, "users", "create", "--role", "station", "--username", "s1", "--password", "Passw0rd2026",
                 "--station", "新河接种点", "--must-change")
    assert made.exit_code == 0, made.output
    user = db.session.execute(select(User).where(User.username == "s1")).scalar_one()
    assert (user.station.name, user.display_name, user.must_change_password) == ("新河接种点", "新河接种点", True)


def test_readers_token_prints_a_token_once_and_stores_only_its_hash(app, db, make_station):
    station = make_station("新河接种点")
    db.session.commit()
    result = flask(app, "readers", "token", "新河接种点", "--name", "入口1号台")
    assert result.exit_code == 0, result.output
    plain = result.output.strip().splitlines()[-1]
    row = db.session.execute(select(ReaderToken)).scalar_one()
    assert plain.startswith("rdr_") and plain not in row.token_hash and row.station_id == station.id
    assert flask(app, "readers", "token", "没有这个站").exit_code != 0


def test_demo_seed_loads_a_district_and_if_empty_leaves_it_alone(app, db, caplog):
    with caplog.at_level(logging.INFO):
        result = flask(app, "demo", "seed", "--enterprises", "3", "--persons", "20")
    assert result.exit_code == 0, result.output
    # the account table is what a newcomer reads: no workflow line per demo batch around it
    assert not [r for r in caplog.records if r.name == "binhai.workflow"]
    assert logging.getLogger("binhai.workflow").isEnabledFor(logging.INFO)  # requests still log
    # every demo account can try 忘记密码: each has a phone of its own
    phones = db.session.execute(select(User.username, User.phone)).all()
    assert all(phone for _, phone in phones) and len({phone for _, phone in phones}) == len(phones)
    assert dict(phones)["dept004"] == "13902210004" and dict(phones)["station01"] == "13902220001"
    assert "演示账号" in result.output
    persons = db.session.execute(select(func.count()).select_from(Person)).scalar_one()
    assert persons == 20 and db.session.execute(select(func.count()).select_from(Enterprise)).scalar_one() >= 3
    again = flask(app, "seed-demo", "--if-empty")
    assert "已有数据，跳过演示数据" in again.output
    assert db.session.execute(select(func.count()).select_from(Person)).scalar_one() == persons
