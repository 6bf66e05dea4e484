"""Workbooks of the rows an Excel import refused, kept a day for the enterprise that uploaded them.

They live in the database rather than on one app server's disk, so whichever server
answers the download link has the file (docs/deploy.md: several app servers).
"""

from extensions import db
from models.base import now


class ImportRejectFile(db.Model):
    __tablename__ = "import_reject_file"
    id = db.Column(db.Integer, primary_key=True)
    token = db.Column(db.String(64), nullable=False, unique=True)
    enterprise_id = db.Column(db.Integer, db.ForeignKey("enterprise.id", ondelete="CASCADE"), nullable=False)
    created_at = db.Column(db.DateTime, nullable=False, default=now, index=True)
    content = db.Column(db.LargeBinary, nullable=False)
