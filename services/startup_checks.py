"""Checks run when the app starts: refuse an unsafe production set-up, warn about a fragile one.

Production mode is `APP_ENV=production` (set by `make serve` and gunicorn.conf.py). In
production the app refuses to start without a real SECRET_KEY from the environment: a
key generated into instance/ differs per machine, so with several app servers a login
made on one would be rejected by the next. It warns loudly about set-ups that work on
one process but not on several (SQLite, no Redis), and about a database whose schema
is older than the code (`flask --app app init-db` not run after an upgrade).
"""

import logging
import os
from pathlib import Path

logger = logging.getLogger("binhai.startup")

MIN_SECRET_KEY_LENGTH = 32
WEAK_SECRET_KEYS = {"", "dev", "secret", "changeme", "change-me", "please-change-me", "test-secret-key",
                    "secret-key", "development", "binhai", "binhai2026"}
MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


class StartupError(RuntimeError):
    """The app must not start with this configuration; the message says what to set."""


def is_production(app):
    return (app.config.get("APP_ENV") or os.environ.get("APP_ENV", "")).strip().lower() == "production"


def server_workers():
    """Return the number of server processes (gunicorn exports it as WEB_CONCURRENCY)."""
    try:
        return int(os.environ.get("WEB_CONCURRENCY", "1"))
    except ValueError:
        return 1


def run_startup_checks(app):
    """Refuse or warn about the configuration `app` was built with (production mode only)."""
    if not is_production(app):
        return
    problem = secret_key_problem(app.config.get("SECRET_KEY"), app.instance_path)
    if problem:
        raise StartupError(problem)
    for warning in deployment_warnings(app.config, server_workers()):
        logger.warning("!!! %s", warning)
    with app.app_context():
        revision = migration_revisions()
        # Leave no pooled connection behind in a process that may fork workers next.
        from extensions import db

        db.engine.dispose()
    if revision["database"] != revision["head"]:
        logger.warning("!!! 数据库结构版本 %s，程序需要 %s：请先运行 flask --app app init-db / "
                       "database schema is at %s, the code needs %s: run `flask --app app init-db`",
                       revision["database"], revision["head"], revision["database"], revision["head"])


def secret_key_problem(key, instance_path):
    """Return why `key` is not fit for production, or None."""
    hint = ("生产模式必须通过环境变量 SECRET_KEY 设置至少 32 个字符的随机密钥，所有应用服务器使用同一个值 / "
            "in production set SECRET_KEY in the environment to a random value of at least 32 characters, "
            "the same on every app server, e.g. from: python3 -c 'import secrets; print(secrets.token_hex(32))'")
    key = key or ""
    if isinstance(key, bytes):
        key = key.decode(errors="replace")
    if key.strip().lower() in WEAK_SECRET_KEYS:
        return "SECRET_KEY 缺失或为默认值 / SECRET_KEY is missing or a default. " + hint
    if len(key) < MIN_SECRET_KEY_LENGTH:
        return f"SECRET_KEY 太短（{len(key)} 个字符）/ SECRET_KEY is too short ({len(key)} characters). " + hint
    generated = Path(instance_path) / "secret_key"
    if not os.environ.get("SECRET_KEY") and generated.exists() and generated.read_text().strip() == key:
        return ("SECRET_KEY 是自动生成在 instance/ 中的，各服务器各不相同 / SECRET_KEY was generated into "
                "instance/ and differs per machine. " + hint)
    return None


def deployment_warnings(config, workers):
    """Return warnings about a set-up that breaks or degrades with several server processes."""
    warnings = []
    database = str(config.get("SQLALCHEMY_DATABASE_URI", ""))
    if database.startswith("sqlite") and workers > 1:
        warnings.append(f"SQLite 与 {workers} 个服务进程：写入会互相等待，请使用 PostgreSQL (DATABASE_URL) / "
                        f"SQLite with {workers} server processes: writers queue behind each other; "
                        "use PostgreSQL (DATABASE_URL)")
    if not config.get("REDIS_URL") and workers > 1:
        warnings.append(f"未设置 REDIS_URL 而有 {workers} 个服务进程：刷卡等实时消息只到达同一进程的页面，"
                        "限流按进程计数 / no REDIS_URL with several server processes: live events reach only "
                        "pages served by the same process and rate limits count per process")
    elif "memory" in str(config.get("RATELIMIT_STORAGE_URI", "")).partition(":")[0] and workers > 1:
        warnings.append("限流计数保存在进程内存中 / rate limits are counted in process memory "
                        "(RATELIMIT_STORAGE_URI): set it to the Redis URL")
    if not config.get("SESSION_COOKIE_SECURE"):
        warnings.append("SESSION_COOKIE_SECURE 未开启：在 HTTPS 之后请设置 SESSION_COOKIE_SECURE=1 / "
                        "session cookies are not marked Secure: behind HTTPS set SESSION_COOKIE_SECURE=1")
    return warnings


def migration_revisions():
    """Return {"database": revision or None, "head": revision of the code}; needs an app context."""
    from sqlalchemy import inspect, text

    from extensions import db

    try:
        with db.engine.connect() as connection:
            current = None
            if inspect(connection).has_table("alembic_version"):
                current = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except Exception as error:  # noqa: BLE001 - reported, never raised: health checks call this
        current = f"error: {type(error).__name__}"
    return {"database": current, "head": code_migration_head()}


_head_cache = {}


def code_migration_head():
    """Return the newest revision among the migration files (read once per process)."""
    if "head" not in _head_cache:
        from alembic.config import Config
        from alembic.script import ScriptDirectory

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        _head_cache["head"] = ScriptDirectory.from_config(config).get_current_head()
    return _head_cache["head"]
