"""Settings read from the environment, with defaults that work on a laptop."""

import os
import secrets
from pathlib import Path

from services.rate_limit_storage import SCHEME as SWEPT_MEMORY  # importing it registers the scheme

BASE_DIR = Path(__file__).resolve().parent


def env_str(name, default=None):
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def env_int(name, default):
    value = env_str(name)
    return int(value) if value is not None else default


def env_bool(name, default=False):
    value = env_str(name)
    if value is None:
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def instance_dir():
    path = Path(env_str("INSTANCE_PATH", str(BASE_DIR / "instance")))
    path.mkdir(parents=True, exist_ok=True)
    return path


def load_or_create_secret_key():
    """Use SECRET_KEY, or a key generated once into instance/secret_key."""
    key = env_str("SECRET_KEY")
    if key:
        return key
    key_file = instance_dir() / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_hex(32))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


def normalise_database_url(url):
    """Accept postgres:// and postgresql:// URLs and use the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


class Config:
    def __init__(self):
        self.SECRET_KEY = load_or_create_secret_key()
        default_db = "sqlite:///" + str(instance_dir() / "binhai.sqlite3")
        self.SQLALCHEMY_DATABASE_URI = normalise_database_url(env_str("DATABASE_URL", default_db))
        # No pool_pre_ping (a round trip per request): services/connection_check.py checks pooled
        # PostgreSQL connections at checkout without one.
        self.SQLALCHEMY_ENGINE_OPTIONS = {}
        self.REDIS_URL = env_str("REDIS_URL")
        self.SMS_BACKEND = env_str("SMS_BACKEND", "outbox")
        self.SMS_GATEWAY_URL = env_str("SMS_GATEWAY_URL")
        self.SMS_GATEWAY_TOKEN = env_str("SMS_GATEWAY_TOKEN")
        # A second gateway, used when the first refuses or cannot be reached (services/sms.py).
        self.SMS_FALLBACK_GATEWAY_URL = env_str("SMS_FALLBACK_GATEWAY_URL")
        self.SMS_FALLBACK_GATEWAY_TOKEN = env_str("SMS_FALLBACK_GATEWAY_TOKEN")
        self.SMS_GATEWAY_TIMEOUT = env_int("SMS_GATEWAY_TIMEOUT", 5)
        # Delivery receipts posted back by the gateway to /api/v1/sms-receipts carry this token.
        self.SMS_RECEIPT_TOKEN = env_str("SMS_RECEIPT_TOKEN")
        self.SMS_MAX_ATTEMPTS = env_int("SMS_MAX_ATTEMPTS", 6)
        self.SMS_RETRY_BASE_SECONDS = env_int("SMS_RETRY_BASE_SECONDS", 30)
        self.SMS_RETRY_MAX_SECONDS = env_int("SMS_RETRY_MAX_SECONDS", 3600)
        # A claim older than this belongs to a dead worker: the message is queued again.
        self.SMS_CLAIM_TIMEOUT_SECONDS = env_int("SMS_CLAIM_TIMEOUT_SECONDS", 300)
        # Messages one worker claims at a time: each batch costs two commits (claim, record),
        # which at 100 a batch took as long as the gateway calls themselves (bench/ops_queue.py).
        self.SMS_BATCH_SIZE = env_int("SMS_BATCH_SIZE", 500)
        # Appointment reminders (models/reminders.py), campaign time.
        self.REMINDER_DAY_BEFORE_AT = env_str("REMINDER_DAY_BEFORE_AT", "18:00")
        self.REMINDER_HOURS_BEFORE = env_int("REMINDER_HOURS_BEFORE", 2)
        self.CHECK_DATA_HOUR = env_int("CHECK_DATA_HOUR", 2)
        self.WORKER_THREADS = env_int("WORKER_THREADS", 2)
        self.PUBLIC_BASE_URL = env_str("PUBLIC_BASE_URL")
        self.PRIVACY_POLICY_VERSION = env_str("PRIVACY_POLICY_VERSION", "2026-01")
        # Per client address. Staff of one company often share an address (office Wi-Fi), so the
        # employee form allows a whole morning meeting scanning at once.
        self.EMPLOYEE_FORM_RATE_LIMIT = env_str("EMPLOYEE_FORM_RATE_LIMIT", "60 per minute;1000 per hour")
        self.SELF_SERVICE_RATE_LIMIT = env_str("SELF_SERVICE_RATE_LIMIT", "30 per minute;300 per hour")
        self.REGISTER_RATE_LIMIT = env_str("REGISTER_RATE_LIMIT", "10 per minute;60 per hour")
        self.IMPORT_MAX_ROWS = env_int("IMPORT_MAX_ROWS", 10000)
        self.BABEL_DEFAULT_LOCALE = "zh_Hans_CN"
        self.BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
        self.CAMPAIGN_TIMEZONE = env_str("CAMPAIGN_TIMEZONE", "Asia/Shanghai")
        self.RATELIMIT_STORAGE_URI = env_str("RATELIMIT_STORAGE_URI", self.REDIS_URL or f"{SWEPT_MEMORY}://")
        self.RATELIMIT_ENABLED = env_bool("RATELIMIT_ENABLED", True)
        self.RATELIMIT_HEADERS_ENABLED = True
        # Redis down: count in process memory meanwhile instead of failing every limited request (500).
        self.RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = env_bool("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
        self.WTF_CSRF_TIME_LIMIT = None
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        # Secure by default in production (served behind HTTPS); SESSION_COOKIE_SECURE=0 turns it off.
        production = (env_str("APP_ENV") or "").lower() == "production"
        self.SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", production)
        self.MAX_CONTENT_LENGTH = env_int("MAX_UPLOAD_BYTES", 16 * 1024 * 1024)
        self.LOGIN_MAX_FAILURES = env_int("LOGIN_MAX_FAILURES", 5)
        self.LOGIN_LOCK_MINUTES = env_int("LOGIN_LOCK_MINUTES", 15)
        self.LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
        # The station desk and the reader API (api/card_reads.py, services/card_match.py, services/events.py).
        self.READER_RATE_LIMIT = env_str("READER_RATE_LIMIT", "300 per minute")
        # 手工查询 per desk account: a busy desk types a few numbers a minute; a script trying
        # numbers of the whole district is stopped.
        self.STATION_LOOKUP_RATE_LIMIT = env_str("STATION_LOOKUP_RATE_LIMIT", "20 per minute;300 per hour")
        self.CHECKIN_GRACE_MINUTES = env_int("CHECKIN_GRACE_MINUTES", 60)
        self.SSE_HEARTBEAT_SECONDS = env_int("SSE_HEARTBEAT_SECONDS", 15)
        # Certificate signing keys (services/signing.py): instance/signing_keys unless set; how long
        # a key's signatures verify (rotate well before: `flask --app app keys rotate`).
        self.SIGNING_KEYS_DIR = env_str("SIGNING_KEYS_DIR")
        self.SIGNING_KEY_VALID_DAYS = env_int("SIGNING_KEY_VALID_DAYS", 3650)
        self.CERTIFICATE_FONT = env_str("CERTIFICATE_FONT", "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
