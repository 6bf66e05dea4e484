"""Shared model helpers: the campaign clock and common column types."""

from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from zoneinfo import ZoneInfo

from extensions import db

# Times are stored as naive local times of the campaign (Asia/Shanghai): every user,
# station and slot lives in that one zone, and SQLite has no time-zone type.
CAMPAIGN_TZ = ZoneInfo("Asia/Shanghai")

# A moment set by `clock_at` for the current thread (or task) only: requests served
# meanwhile by other threads keep the real time.
_SET_MOMENT = ContextVar("campaign_clock", default=None)


def now():
    """Return the current campaign-local time, naive, to the second."""
    moment = _SET_MOMENT.get()
    if moment is not None:
        return moment
    return datetime.now(CAMPAIGN_TZ).replace(tzinfo=None, microsecond=0)


def today():
    return now().date()


@contextmanager
def clock_at(moment):
    """Let every operation inside the block happen at `moment` (demo history written step by step)."""
    token = _SET_MOMENT.set(moment.replace(microsecond=0))
    try:
        yield moment
    finally:
        _SET_MOMENT.reset(token)


Model = db.Model
