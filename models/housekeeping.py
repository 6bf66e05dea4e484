"""Scheduled clean-ups: expired SMS codes, rejected-import files past their day, old job records."""

from datetime import datetime, time, timedelta

from sqlalchemy import delete, select

from extensions import db
from models.base import now
from models.import_file import ImportRejectFile
from models.sms import JobRun, SmsCode

# The enterprise can download its rejected rows for a day (admin_views/enterprise_import.py REJECTS_KEEP).
REJECT_FILE_LIFETIME = timedelta(days=1)
JOB_RUN_LIFETIME = timedelta(days=90)


def purge_expired(at=None):
    """Delete what has outlived its use; return (True, summary) for the job record."""
    at = at or now()
    start_of_day = datetime.combine(at.date(), time())
    # Today's codes stay even when expired: they count towards the phone's daily limit (forgot_password).
    codes = db.session.execute(
        delete(SmsCode).where(SmsCode.expires_at < at, SmsCode.created_at < start_of_day)
    ).rowcount
    files = db.session.execute(
        delete(ImportRejectFile).where(ImportRejectFile.created_at < at - REJECT_FILE_LIFETIME)
    ).rowcount
    runs = db.session.execute(delete(JobRun).where(JobRun.started_at < at - JOB_RUN_LIFETIME)).rowcount
    return True, f"已删除过期验证码 {codes} 条、过期的导入失败文件 {files} 个、旧任务记录 {runs} 条"


def ran_today(job, at=None):
    """Whether `job` has a record started today (campaign time)."""
    start_of_day = datetime.combine((at or now()).date(), time())
    return db.session.execute(
        select(JobRun.id).where(JobRun.job == job, JobRun.started_at >= start_of_day).limit(1)
    ).first() is not None
