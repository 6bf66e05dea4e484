"""Command-line tools as one click group per domain, each command one operation and one commit.

    flask --app app data init | check | backup FILE | restore FILE
    flask --app app demo seed
    flask --app app users create --role … --username … --password …
    flask --app app readers token STATION [--name DESK]
    flask --app app departments import FILE

The names of the first version (init-db, check-data, backup, restore, seed-demo,
create-user, reader-token, import-departments) stay as hidden aliases: deploy units,
scripts and habits use them.
"""

import contextlib
import copy
import logging
import os
from pathlib import Path

import click
from flask_migrate import upgrade
from sqlalchemy import func, select

from extensions import db
from models import Enterprise, Person, ReaderToken, ReviewDepartment, Station
from models.options import seed_default_options
from models.user import ROLES


@click.group("data")
def data_group():
    """The database: migrate, check, back up, restore."""


@click.group("demo")
def demo_group():
    """Demo data for a trial district."""


@click.group("users")
def users_group():
    """Accounts of every role."""


@click.group("readers")
def readers_group():
    """Card readers at the station desks."""


@click.group("departments")
def departments_group():
    """Review departments and their accounts."""


def register_commands(app):
    for group in (data_group, demo_group, users_group, readers_group, departments_group):
        app.cli.add_command(group)
    for old_name, command in ALIASES.items():
        app.cli.add_command(alias(command, old_name), old_name)
    from services.worker import worker_command

    app.cli.add_command(worker_command)


def alias(command, old_name):
    """The command under its first-version name, left out of `flask --help`."""
    copied = copy.copy(command)
    copied.name, copied.hidden = old_name, True
    return copied


@data_group.command("init")
def init_db():
    """Upgrade the database to the newest migration and add default option lists."""
    upgrade()
    seed_default_options()
    db.session.commit()
    click.echo("数据库已就绪")


@contextlib.contextmanager
def _quiet(logger_name):
    """Keep a logger to warnings while a command works (its INFO lines are for requests, not for a CLI run)."""
    logger = logging.getLogger(logger_name)
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


@demo_group.command("seed")
@click.option("--if-empty", is_flag=True, help="Do nothing when persons already exist.")
@click.option("--enterprises", default=300, show_default=True)
@click.option("--persons", default=3000, show_default=True)
def seed_demo(if_empty, enterprises, persons):
    """Load realistic demo data and print the demo accounts."""
    from models.demo import DEMO_PASSWORD, seed

    if if_empty and db.session.execute(select(func.count(Person.id))).scalar_one():
        click.echo("已有数据，跳过演示数据")
        return
    with _quiet("binhai.workflow"):  # one log line per demo batch would bury the account table
        accounts = seed(enterprise_count=enterprises, person_count=persons)
    db.session.commit()
    click.echo(f"演示数据已载入。演示账号（密码均为 {DEMO_PASSWORD}）：")
    for role, username, unit in accounts:
        click.echo(f"  {role:<10} {username:<22} {unit}")


@users_group.command("create")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--username", required=True)
@click.option("--password", required=True)
@click.option("--phone")
@click.option("--enterprise", help="Credit code of the enterprise (role enterprise).")
@click.option("--department", help="Name of the review department (role review).")
@click.option("--station", help="Name of the station (role station).")
@click.option("--must-change/--no-must-change", default=False)
def create_user(role, username, password, phone, enterprise, department, station, must_change):
    """Create an account of any role."""
    from admin_views.labels import error_text
    from models.accounts import AccountError, create_account

    try:
        create_account(None, role=role, username=username, password=password, phone=phone,
                       unit=_unit_for(role, enterprise, department, station), must_change_password=must_change)
    except AccountError as error:
        raise click.ClickException(error_text(error)) from error
    db.session.commit()
    click.echo(f"已创建账号 {username}（{role}）")


def _unit_for(role, enterprise, department, station):
    lookups = {
        "enterprise": (enterprise, Enterprise, Enterprise.credit_code, "--enterprise"),
        "review": (department, ReviewDepartment, ReviewDepartment.name, "--department"),
        "station": (station, Station, Station.name, "--station"),
    }
    if role not in lookups:
        return None
    key, model, column, flag = lookups[role]
    if not key:
        raise click.ClickException(f"角色 {role} 需要 {flag}")
    unit = db.session.execute(select(model).where(column == key)).scalar_one_or_none()
    if unit is None:
        raise click.ClickException(f"找不到 {key}")
    return unit


@readers_group.command("token")
@click.argument("station_name")
@click.option("--name", default="", help="Name of the desk, e.g. 入口1号台.")
def reader_token(station_name, name):
    """Issue a card-reader token for a station desk (shown once)."""
    station = db.session.execute(select(Station).where(Station.name == station_name)).scalar_one_or_none()
    if station is None:
        raise click.ClickException(f"找不到接种站 {station_name}")
    _, plain = ReaderToken.issue(station, name)
    db.session.commit()
    click.echo(plain)


@data_group.command("check")
@click.option("--examples", default=5, show_default=True, help="Example ids shown per failed check.")
def check_data(examples):
    """Run the consistency checks; exit 1 when any finds a problem."""
    from services.consistency import format_report, run_checks

    with db.engine.connect() as connection:
        findings = run_checks(connection, examples=examples)
    click.echo(format_report(findings))
    if not all(finding.ok for finding in findings):
        raise SystemExit(1)


@data_group.command("backup")
@click.argument("path", type=click.Path(dir_okay=False))
def backup_command(path):
    """Write a backup of the database to PATH (pg_dump -Fc, or a SQLite copy)."""
    from services.backup import BackupError, backup

    try:
        backup(db.engine.url.render_as_string(hide_password=False), path)
    except BackupError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"已备份到 / backed up to {path}")


@data_group.command("restore")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def restore_command(path, yes):
    """Replace the database's data with the backup in PATH (stop the app servers first)."""
    from services.backup import BackupError, restore

    url = db.engine.url
    if not yes:
        click.confirm(f"用 {path} 覆盖数据库 {url.database} 中的数据？/ overwrite the data of {url.database}?",
                      abort=True)
    db.session.remove()
    db.engine.dispose()
    try:
        restore(url.render_as_string(hide_password=False), path)
    except BackupError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"已从 {path} 恢复 / restored from {path}")


@departments_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the credentials sheet (default: next to FILE).")
def import_departments_command(file, output):
    """Create or update review departments and their accounts from an .xlsx sheet."""
    from models.base import now
    from services.spreadsheets_departments import (
        DepartmentSheetError,
        credentials_workbook,
        import_departments,
        read_department_sheet,
    )

    try:
        rows = read_department_sheet(file)
    except DepartmentSheetError as error:
        raise click.ClickException(str(error)) from error
    result, problems = import_departments(rows)
    if problems:
        db.session.rollback()
        for problem in problems:
            click.echo(problem, err=True)
        raise click.ClickException(f"发现 {len(problems)} 处问题，未导入任何数据")
    if result.credentials:
        # A stamped default name never overwrites the passwords of an earlier run.
        output = output or file.with_name(f"{file.stem}-账号密码-{now():%Y%m%d%H%M%S}.xlsx")
        try:
            # Written before the commit: without the sheet, nobody could log in to the new accounts.
            with open(output, "wb", opener=lambda path, flags: os.open(path, flags, 0o600)) as sheet:
                sheet.write(credentials_workbook(result.credentials))
        except OSError as error:
            db.session.rollback()
            raise click.ClickException(f"无法写入 {output}：{error.strerror}，未导入任何数据") from error
    db.session.commit()
    click.echo(result.summary())
    if result.credentials:
        click.echo(f"初始密码已写入 {output}（首次登录须修改密码），请妥善保管")


ALIASES = {
    "init-db": init_db, "check-data": check_data, "backup": backup_command, "restore": restore_command,
    "seed-demo": seed_demo, "create-user": create_user, "reader-token": reader_token,
    "import-departments": import_departments_command,
}
