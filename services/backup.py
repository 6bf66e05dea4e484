"""Back up and restore the database: pg_dump/pg_restore for PostgreSQL, the online backup API for SQLite.

`flask --app app backup FILE` and `flask --app app restore FILE` (scripts/backup.sh and
scripts/restore.sh wrap them for cron and for the district IT team). A PostgreSQL backup
is pg_dump's custom format (`-Fc`) of the whole database; a restore replaces the tables
of the dump in one transaction (`pg_restore --clean --if-exists --single-transaction`),
so a failed restore changes nothing. A SQLite backup is a consistent copy taken while
the app keeps running (sqlite3 `Connection.backup`), restored the same way.
"""

import os
import re
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


class BackupError(RuntimeError):
    """The backup or restore failed; the message says why."""


def is_postgres(database_url):
    return make_url(database_url).get_backend_name() == "postgresql"


def backup(database_url, path):
    """Write a backup of the database at `database_url` to `path`; return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if is_postgres(database_url):
        _pg_backup(database_url, path)
    else:
        _sqlite_copy(_sqlite_file(database_url), path)
    return path


def restore(database_url, path):
    """Replace the data of the database at `database_url` with the backup in `path`."""
    path = Path(path)
    if not path.is_file():
        raise BackupError(f"备份文件不存在 / no such backup file: {path}")
    if is_postgres(database_url):
        _pg_restore(database_url, path)
    else:
        _sqlite_copy(path, _sqlite_file(database_url))


# ---------------------------------------------------------------- SQLite

def _sqlite_file(database_url):
    database = make_url(database_url).database
    if not database or database == ":memory:":
        raise BackupError("内存数据库无法备份 / an in-memory database cannot be backed up")
    return Path(database)


def _sqlite_copy(source, target):
    """Copy one SQLite database into another with the online backup API (page by page, locked)."""
    source_connection = sqlite3.connect(Path(source).resolve().as_uri() + "?mode=ro", uri=True)
    target_connection = sqlite3.connect(str(target))
    try:
        source_connection.execute("SELECT count(*) FROM sqlite_master").fetchone()  # a valid database?
        with target_connection:
            source_connection.backup(target_connection)
    except sqlite3.DatabaseError as error:
        raise BackupError(f"SQLite 备份/恢复失败 / SQLite backup or restore failed: {error}") from error
    finally:
        source_connection.close()
        target_connection.close()


# ---------------------------------------------------------------- PostgreSQL

def _pg_tool(name):
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"找不到 {name}，请安装 postgresql-client / {name} not found: install postgresql-client")
    return found


def _pg_arguments(database_url):
    """Return (libpq arguments, environment) for the client tools; the password goes in the environment."""
    url = make_url(database_url)
    arguments = ["--dbname", url.database or "postgres"]
    if url.host:
        arguments += ["--host", url.host]
    if url.port:
        arguments += ["--port", str(url.port)]
    if url.username:
        arguments += ["--username", url.username]
    environment = dict(os.environ)
    if url.password:
        environment["PGPASSWORD"] = url.password
    return arguments, environment


def tool_major_version(tool):
    output = subprocess.run([_pg_tool(tool), "--version"], capture_output=True, text=True, check=True).stdout
    match = re.search(r"(\d+)(?:\.\d+)?", output)
    return int(match.group(1)) if match else 0


def server_major_version(database_url):
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            number = int(connection.execute(text("SHOW server_version_num")).scalar())
    finally:
        engine.dispose()
    return number // 10000


def check_client_version(database_url, tool="pg_dump"):
    """Refuse a client older than the server: pg_dump cannot dump a newer server."""
    client, server = tool_major_version(tool), server_major_version(database_url)
    if client < server:
        raise BackupError(f"{tool} {client} 比数据库服务器 {server} 旧，请安装 postgresql-client-{server} / "
                          f"{tool} {client} is older than the server ({server}): install postgresql-client-{server}")
    return client, server


def _run(command, environment):
    result = subprocess.run(command, env=environment, capture_output=True, text=True)
    if result.returncode != 0:
        tool = Path(command[0]).name
        raise BackupError(f"{tool} 失败 / failed ({result.returncode}): {result.stderr.strip()[-2000:]}")
    return result


def _pg_backup(database_url, path):
    check_client_version(database_url, "pg_dump")
    arguments, environment = _pg_arguments(database_url)
    partial = path.with_name(path.name + ".partial")
    # Write to a side file first, so a failed dump never leaves a truncated file under the real name.
    _run([_pg_tool("pg_dump"), "--format=custom", "--no-owner", "--file", str(partial), *arguments], environment)
    partial.replace(path)


def _pg_restore(database_url, path):
    check_client_version(database_url, "pg_restore")
    arguments, environment = _pg_arguments(database_url)
    _run([_pg_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--single-transaction",
          "--exit-on-error", *arguments, str(path)], environment)
