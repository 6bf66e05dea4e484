"""疑似预防接种异常反应 (AEFI) reports: filed against person, dose and lot; investigated; closed.

The rules followed (check them again when they change):

- 《中华人民共和国疫苗管理法》(2019) art. 54-55: vaccination units report AEFI as required and
  the disease-control bodies investigate and diagnose them.
- 《全国疑似预防接种异常反应监测方案》(原卫生部、国家食品药品监督管理局, 卫办疾控发〔2010〕94号),
  三、报告 (二)报告程序: a reporting unit files the AEFI 个案报告卡 within 48 hours of discovering it;
  a death, severe disability, a cluster (群体性AEFI) or a case of major public concern is reported
  within 2 hours of discovery. 四、调查诊断: the county CDC starts the investigation of a case that
  needs one within 48 hours of receiving the report.
  Here: every 严重 report and every report of a cluster has the 2-hour deadline; the others 48
  hours, both counted from 发现时间. The investigation is due 48 hours after the report.
- 群体性AEFI (same 方案, 附表4): two or more similar cases after one vaccine at one place in a
  short time. Here: two 严重 reports at one station within 24 hours sharing a symptom.

Symptoms come from an editable option list (OptionItem kind AEFI_SYMPTOM) plus free text.
"""

from datetime import datetime, timedelta

from sqlalchemy import CheckConstraint, Index, func, select, update

from extensions import db
from models.audit import record_event
from models.base import now
from models.doses import GIVEN, VALID, Vaccination
from models.errors import DomainError
from models.options import AEFI_SYMPTOM, option_labels
from models.user import ADMIN, CENTER, STATION

GENERAL, SERIOUS = "general", "serious"
SEVERITIES = (GENERAL, SERIOUS)
REPORTED, INVESTIGATING, CLOSED = "reported", "investigating", "closed"
STATES = (REPORTED, INVESTIGATING, CLOSED)  # severities and states are worded in admin_views/labels.py
# 转归 and 反应分类 are stored as the 方案 words them: data of the report, not labels.
UNKNOWN_OUTCOME = "不详"
OUTCOMES = ("痊愈", "好转", "未愈", "有后遗症", "死亡", UNKNOWN_OUTCOME)
# 反应分类 of the 方案's 附表4: the classification a closed case gets.
CLASSIFICATIONS = ("一般反应", "异常反应", "疫苗质量事故", "接种事故", "偶合症", "心因性反应", "不能判定")

REPORT_HOURS = 48
URGENT_REPORT_HOURS = 2
INVESTIGATION_HOURS = 48
CLUSTER_WINDOW = timedelta(hours=24)
SYMPTOM_SEPARATOR = "、"


class AefiError(DomainError):
    """An AEFI report that cannot be filed or moved as asked; its code is worded by admin_views/labels.py."""


class AefiReport(db.Model):
    __tablename__ = "aefi_report"
    id = db.Column(db.Integer, primary_key=True)
    person_id = db.Column(db.Integer, db.ForeignKey("person.id", ondelete="CASCADE"), nullable=False, index=True)
    vaccination_id = db.Column(db.Integer, db.ForeignKey("vaccination.id", ondelete="CASCADE"), nullable=False,
                               index=True)
    lot_id = db.Column(db.Integer, db.ForeignKey("vaccine_lot.id"), index=True)
    station_id = db.Column(db.Integer, db.ForeignKey("station.id"), nullable=False)
    symptoms = db.Column(db.String(500), nullable=False)
    symptoms_text = db.Column(db.String(500), nullable=False, default="")
    onset_at = db.Column(db.DateTime, nullable=False)
    discovered_at = db.Column(db.DateTime, nullable=False)
    severity = db.Column(db.String(16), nullable=False)
    treatment = db.Column(db.String(500), nullable=False, default="")
    outcome = db.Column(db.String(20), nullable=False, default=UNKNOWN_OUTCOME)
    clustered = db.Column(db.Boolean, nullable=False, default=False)
    state = db.Column(db.String(16), nullable=False, default=REPORTED)
    reported_at = db.Column(db.DateTime, nullable=False, default=now)
    reported_by_id = db.Column(db.Integer, db.ForeignKey("user.id"))
    investigation_started_at = db.Column(db.DateTime)
    closed_at = db.Column(db.DateTime)
    classification = db.Column(db.String(20))
    conclusion = db.Column(db.String(500))

    person = db.relationship("Person")
    vaccination = db.relationship("Vaccination")
    lot = db.relationship("VaccineLot")
    station = db.relationship("Station")

    __table_args__ = (
        CheckConstraint("severity IN ('general', 'serious')", name="severity_known"),
        CheckConstraint("state IN ('reported', 'investigating', 'closed')", name="state_known"),
        CheckConstraint("state <> 'closed' OR classification IS NOT NULL", name="closed_classified"),
        Index("ix_aefi_report_station_reported", "station_id", "reported_at"),
    )

    @property
    def urgent(self):
        return self.severity == SERIOUS or self.clustered

    @property
    def report_deadline(self):
        return self.discovered_at + timedelta(hours=URGENT_REPORT_HOURS if self.urgent else REPORT_HOURS)

    @property
    def reported_late(self):
        return self.reported_at > self.report_deadline

    @property
    def investigation_deadline(self):
        return self.reported_at + timedelta(hours=INVESTIGATION_HOURS)

    def investigation_overdue(self, at=None):
        """Begun after its deadline, or still not begun past it."""
        return (self.investigation_started_at or at or now()) > self.investigation_deadline

    @property
    def symptom_list(self):
        return [s for s in self.symptoms.split(SYMPTOM_SEPARATOR) if s]



def _text(value, limit, what):
    value = (value or "").strip()
    if len(value) > limit:
        raise AefiError(f"{what}_too_long", most=limit)
    return value


def file_report(actor, vaccination_id, *, symptoms, symptoms_text="", onset_at, discovered_at=None, severity,
                treatment="", outcome=UNKNOWN_OUTCOME):
    """异常反应上报 by the station that gave the dose; returns the report (clusters flagged at once)."""
    if getattr(actor, "role", None) != STATION or actor.station_id is None:
        raise AefiError("aefi_station_only")
    vaccination = db.session.execute(
        select(Vaccination).where(Vaccination.id == vaccination_id, Vaccination.station_id == actor.station_id,
                                  Vaccination.outcome == GIVEN, Vaccination.state == VALID)
    ).scalar_one_or_none()
    if vaccination is None:
        raise AefiError("aefi_vaccination_not_found")
    known = set(option_labels(AEFI_SYMPTOM))
    chosen = [s for s in dict.fromkeys(symptoms or ()) if s]
    if any(s not in known for s in chosen):
        raise AefiError("aefi_symptom_unlisted")
    symptoms_text = _text(symptoms_text, 500, "symptoms_text")
    if not chosen and not symptoms_text:
        raise AefiError("aefi_symptom_required")
    if severity not in SEVERITIES:
        raise AefiError("aefi_severity_required")
    if outcome not in OUTCOMES:
        raise AefiError("aefi_outcome_required")
    at = now()
    discovered_at = discovered_at or at
    if not isinstance(onset_at, datetime) or onset_at > at + timedelta(minutes=5):
        raise AefiError("aefi_onset_required")
    if onset_at < vaccination.at - timedelta(minutes=1):
        raise AefiError("aefi_onset_before_dose")
    if discovered_at < onset_at or discovered_at > at + timedelta(minutes=5):
        raise AefiError("aefi_discovery_out_of_range")
    report = AefiReport(
        person_id=vaccination.person_id, vaccination_id=vaccination.id, lot_id=vaccination.lot_id,
        station_id=vaccination.station_id, symptoms=SYMPTOM_SEPARATOR.join(chosen), symptoms_text=symptoms_text,
        onset_at=onset_at, discovered_at=discovered_at, severity=severity,
        treatment=_text(treatment, 500, "treatment"), outcome=outcome, reported_at=at, reported_by_id=actor.id)
    db.session.add(report)
    db.session.flush()
    _flag_cluster(report)
    record_event(actor, "aefi_report", target_type="aefi_report", target_id=report.id,
                 detail=f"person={report.person_id} vaccination={vaccination.id} severity={severity}")
    db.session.flush()
    return report


def _flag_cluster(report):
    """Two 严重 reports at one station within a day sharing a symptom: both become 群体性 (2-hour deadline)."""
    if report.severity != SERIOUS:
        return
    mine = set(report.symptom_list)
    others = db.session.execute(
        select(AefiReport).where(
            AefiReport.station_id == report.station_id, AefiReport.severity == SERIOUS, AefiReport.id != report.id,
            AefiReport.reported_at >= report.reported_at - CLUSTER_WINDOW)
    ).scalars().all()
    similar = [o.id for o in others if mine & set(o.symptom_list)]
    if similar:
        db.session.execute(update(AefiReport).where(AefiReport.id.in_([*similar, report.id]))
                           .values(clustered=True).execution_options(synchronize_session=False))
        report.clustered = True


def _center(actor):
    if getattr(actor, "role", None) not in (CENTER, ADMIN):
        raise AefiError("aefi_center_only")


def start_investigation(actor, report_id):
    """已报告 → 调查中."""
    _center(actor)
    _move(actor, report_id, REPORTED, INVESTIGATING, {"investigation_started_at": now()}, "aefi_investigate")


def close_report(actor, report_id, classification, conclusion, outcome=None):
    """调查中 → 已结案, with the classification of the 方案."""
    _center(actor)
    if classification not in CLASSIFICATIONS:
        raise AefiError("aefi_classification_required")
    values = {"closed_at": now(), "classification": classification,
              "conclusion": _text(conclusion, 500, "conclusion") or None}
    if outcome is not None:
        if outcome not in OUTCOMES:
            raise AefiError("aefi_outcome_required")
        values["outcome"] = outcome
    _move(actor, report_id, INVESTIGATING, CLOSED, values, "aefi_close", reason=classification)


def _move(actor, report_id, source, target, values, action, reason=None):
    changed = db.session.execute(
        update(AefiReport).where(AefiReport.id == report_id, AefiReport.state == source)
        .values(state=target, **values).execution_options(synchronize_session=False)
    ).rowcount
    if changed != 1:
        raise AefiError("aefi_state_changed", state=source)
    event = record_event(actor, action, target_type="aefi_report", target_id=report_id, reason=reason)
    event.from_status, event.to_status = source, target
    db.session.flush()


def open_alerts():
    """What the center dashboard raises: open 严重 or 群体性 reports the center has not begun to investigate."""
    return db.session.execute(
        select(AefiReport).where(AefiReport.state == REPORTED,
                                 (AefiReport.severity == SERIOUS) | AefiReport.clustered.is_(True))
        .order_by(AefiReport.reported_at.desc()).limit(50)
    ).scalars().all()


def rates_by_lot():
    """Per lot: doses given, reports, 严重 reports, reports per 10,000 doses."""
    from models.lot_counts import doses_by_lot
    from models.lots import VaccineLot

    doses = {lot_id: n for lot_id, n in doses_by_lot().items() if n}
    reports = {row.lot_id: row for row in db.session.execute(
        select(AefiReport.lot_id, func.count().label("reports"),
               func.sum(db.case((AefiReport.severity == SERIOUS, 1), else_=0)).label("serious"))
        .where(AefiReport.lot_id.is_not(None)).group_by(AefiReport.lot_id)).all()}
    lots = db.session.execute(select(VaccineLot).where(VaccineLot.id.in_(set(doses) | set(reports)))
                              .order_by(VaccineLot.id)).scalars().all()
    rows = []
    for lot in lots:
        given = doses.get(lot.id, 0)
        found = reports.get(lot.id)
        count = found.reports if found else 0
        rows.append({"lot": lot, "doses": given, "reports": count, "serious": int(found.serious or 0) if found else 0,
                     "per_10000": round(count * 10000 / given, 2) if given else None})
    return rows
