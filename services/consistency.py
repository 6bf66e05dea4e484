"""Consistency checks of the data a district operator can run at any time (`flask --app app check-data`).

Each check is one SQL query selecting the ids of the rows that break one rule; the
runner counts them and keeps a few example ids (ids only: the report may be pasted
into a ticket, so it carries no names, ID numbers or phones). Adding a check is adding
a `Check` to CHECKS (or calling `register_check`); a check naming `tables` runs only
when those tables exist, so a check of a table a later version adds can be listed now.
"""

from dataclasses import dataclass, field

from sqlalchemy import inspect, text

from models.status import (
    ALL_STATUSES,
    ALLOCATED,
    APPOINTED,
    CHECKED_IN,
    NOT_VACCINATED,
    RANK,
    REGISTERED,
    STAGE_STAMP,
    VACCINATED,
)
from models.workflow import TRANSITIONS


@dataclass(frozen=True)
class Check:
    key: str
    title_zh: str  # the rule, as a statement that holds on good data
    title_en: str
    sql: str  # selects one column, `id`, of every offending row
    subject: str  # the table the ids belong to
    tables: tuple = ()  # run only when these tables exist


@dataclass
class Finding:
    check: Check
    count: int
    example_ids: list = field(default_factory=list)
    skipped: bool = False

    @property
    def ok(self):
        return self.skipped or self.count == 0


def _in(values):
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


def _stage_order():
    """Stamp columns in funnel order: submitted_at, dept_approved_at, ..., finished_at."""
    seen = []
    for status in sorted(STAGE_STAMP, key=lambda s: RANK[s]):
        if STAGE_STAMP[status] not in seen:
            seen.append(STAGE_STAMP[status])
    return seen


def _statuses_reaching(stamp):
    """Statuses of people who have reached the stage recorded in `stamp`."""
    rank = min(RANK[s] for s, st in STAGE_STAMP.items() if st == stamp)
    return [s for s in ALL_STATUSES if RANK[s] >= rank]


def _missing_stamp_sql():
    conditions = [f"(status IN {_in(_statuses_reaching(stamp))} AND {stamp}_at IS NULL)" for stamp in _stage_order()]
    return "SELECT id FROM person WHERE " + " OR ".join(conditions)


# Someone who already had a dose keeps their last visit's check-in and exit times while
# their next dose is booked (models/workflow.KEEPS_LAST_VISIT).
LAST_VISIT = ("checked_in", "finished")


def _stamp_beyond_status_sql():
    conditions = []
    for stamp in _stage_order():
        not_reached = [s for s in ALL_STATUSES if s not in _statuses_reaching(stamp)]
        kept = " AND doses_given = 0" if stamp in LAST_VISIT else ""
        conditions.append(f"(status IN {_in(not_reached)} AND {stamp}_at IS NOT NULL{kept})")
    return "SELECT id FROM person WHERE " + " OR ".join(conditions)


def _stamp_order_sql():
    stamps = _stage_order()
    pairs = [f"({a}_at IS NOT NULL AND {b}_at IS NOT NULL AND {a}_at > {b}_at"
             f"{' AND doses_given = 0' if a == 'appointed' and b in LAST_VISIT else ''})"
             for i, a in enumerate(stamps) for b in stamps[i + 1:]]
    return "SELECT id FROM person WHERE " + " OR ".join(pairs)


def _counter_sql(table, keys, person_keys, where, source="person"):
    """Keys of counter rows that differ from the count of `source` rows, or rows counted by no counter row.

    Two set differences (sorted or hashed once each): a join of the counters to the
    grouped count ran as a nested loop on SQLite (rows of one times rows of the other).
    """
    key_list = ", ".join(keys)
    actual = (f"SELECT {', '.join(f'{expr} AS {key}' for key, expr in zip(keys, person_keys))}, COUNT(*) AS n "
              f"FROM {source} WHERE {where} GROUP BY {', '.join(person_keys)}")
    counted = f"SELECT {key_list}, n FROM {table}"
    key_id = " || ':' || ".join(keys)
    return (f"SELECT {key_id} AS id FROM ({counted} WHERE n <> 0 EXCEPT {actual}) AS wrong "
            f"UNION SELECT {key_id} AS id FROM ({actual} EXCEPT {counted}) AS uncounted")

# Each given, valid record under its dose, and once more under 'complete' when it completes the
# course (as models/dose_counts.py counts them), with the keys of the dose counters.
_DOSE_KEYS = ("date(v.at) AS day, COALESCE(v.station_id, 0) AS station_id, COALESCE(p.enterprise_id, 0) "
              "AS enterprise_id")
_GIVEN = ("FROM vaccination v LEFT JOIN person p ON p.id = v.person_id "
          "WHERE v.outcome = 'given' AND v.state = 'valid'")
DOSES_GIVEN = (
    f"(SELECT {_DOSE_KEYS}, CASE WHEN v.is_booster THEN 'booster' "
    f"ELSE 'dose' || CAST(v.dose_number AS VARCHAR(2)) END AS kind {_GIVEN} "
    f"UNION ALL SELECT {_DOSE_KEYS}, 'complete' AS kind {_GIVEN} AND NOT v.is_booster AND v.dose_number >= "
    "COALESCE((SELECT vp.primary_doses FROM vaccine_product vp WHERE vp.id = v.product_id), v.dose_number)) AS d"
)

HOLDS_SLOT = (APPOINTED, CHECKED_IN, VACCINATED, NOT_VACCINATED)
BEFORE_SLOT = tuple(s for s in ALL_STATUSES if RANK[s] < RANK[APPOINTED])
NEEDS_STATION = tuple(s for s in ALL_STATUSES if RANK[s] >= RANK[ALLOCATED])

CHECKS = [
    Check("slot_over_capacity", "预约时段不超出容量", "no slot booked beyond its capacity",
          "SELECT id FROM appointment_slot WHERE booked > capacity OR booked < 0", "appointment_slot"),
    # A dose given in a slot keeps its place there after the person moves on to the next dose.
    Check("slot_booked_count", "时段已约人数等于持有、预留该时段或在该时段已接种的人数",
          "slot.booked equals the persons holding or reserving the slot or given a dose in it",
          "SELECT s.id FROM appointment_slot s LEFT JOIN "
          "(SELECT slot_id, COUNT(*) AS holders FROM (SELECT id AS person_id, slot_id FROM person "
          "WHERE slot_id IS NOT NULL UNION SELECT id, reserved_slot_id FROM person WHERE reserved_slot_id IS NOT NULL "
          "UNION SELECT person_id, slot_id FROM vaccination "
          "WHERE outcome = 'given' AND slot_id IS NOT NULL) used GROUP BY slot_id) h "
          "ON h.slot_id = s.id WHERE s.booked <> COALESCE(h.holders, 0)", "appointment_slot"),
    # A dose-2 place is held only while dose 1 is booked (models/reservations.py), at the same station.
    Check("reservation_without_dose_one_booking", "预留第2剂时段的人员第1剂已预约或已登记，且同一接种站",
          "persons reserving a dose-2 window have dose 1 appointed or checked in, at the window's station",
          f"SELECT p.id FROM person p JOIN appointment_slot s ON s.id = p.reserved_slot_id "
          f"WHERE p.status NOT IN {_in((APPOINTED, CHECKED_IN))} OR p.doses_given <> 0 "
          "OR p.station_id IS NULL OR p.station_id <> s.station_id", "person"),
    Check("appointed_without_slot", "已预约/已登记人员都有预约时段和接种站",
          "appointed and checked-in persons have a slot and a station",
          f"SELECT id FROM person WHERE status IN {_in((APPOINTED, CHECKED_IN))} "
          "AND (slot_id IS NULL OR station_id IS NULL)", "person"),
    Check("allocated_without_station", "已分配及以后的人员都有接种站", "allocated and later persons have a station",
          f"SELECT id FROM person WHERE status IN {_in(NEEDS_STATION)} AND station_id IS NULL", "person"),
    Check("slot_before_appointment", "未到预约环节的人员不占预约时段", "persons not yet appointed hold no slot",
          f"SELECT id FROM person WHERE status IN {_in(BEFORE_SLOT)} AND slot_id IS NOT NULL", "person"),
    Check("slot_station_mismatch", "人员的接种站与其预约时段的接种站一致",
          "a person's station is the station of their slot",
          "SELECT p.id FROM person p JOIN appointment_slot s ON s.id = p.slot_id "
          "WHERE p.station_id IS NULL OR p.station_id <> s.station_id", "person"),
    Check("stage_stamp_missing", "已到达的环节都有时间记录", "every stage reached has its time stamp",
          _missing_stamp_sql(), "person"),
    Check("stage_stamp_unreached", "未到达的环节没有时间记录", "no time stamp of a stage not reached",
          _stamp_beyond_status_sql(), "person"),
    Check("stage_stamp_order", "各环节时间先后有序", "stage time stamps in funnel order",
          _stamp_order_sql(), "person"),
    Check("moved_without_history", "状态变化过的人员都有流转记录", "every person who moved on has history rows",
          f"SELECT p.id FROM person p WHERE p.status <> '{REGISTERED}' "
          "AND NOT EXISTS (SELECT 1 FROM person_event pe WHERE pe.person_id = p.id)", "person"),
    Check("event_changed_count", "操作记录的处理人数等于流转明细条数",
          "an audit event's changed count equals its history rows",
          "SELECT e.id FROM audit_event e LEFT JOIN "
          "(SELECT event_id, COUNT(*) AS moved FROM person_event GROUP BY event_id) h ON h.event_id = e.id "
          f"WHERE e.target_type = 'person' AND e.action IN {_in(sorted(TRANSITIONS))} "
          "AND e.changed <> COALESCE(h.moved, 0)", "audit_event"),
    # The counters kept by triggers (models/counters.py); ids are the counter's key joined by ":".
    Check("status_counters", "企业各状态人数计数器等于实际人数", "enterprise/status counters equal the counted persons",
          _counter_sql("person_status_count", ("enterprise_id", "status"), ("enterprise_id", "status"), "1 = 1"),
          "person_status_count", tables=("person_status_count",)),
    Check("department_counters", "审核部门各状态人数计数器等于实际人数",
          "department/status counters equal the counted persons",
          _counter_sql("department_status_count", ("department_id", "status"), ("department_id", "status"), "1 = 1",
                       source="(SELECT e.department_id, p.status FROM person p "
                              "JOIN enterprise e ON e.id = p.enterprise_id) AS pd"),
          "department_status_count", tables=("department_status_count",)),
    Check("station_counters", "接种站各状态人数计数器等于实际人数", "station/status counters equal the counted persons",
          _counter_sql("station_status_count", ("station_id", "status"), ("station_id", "status"),
                       "station_id IS NOT NULL"),
          "station_status_count", tables=("station_status_count",)),
    Check("day_counters", "每日接种人数计数器等于实际人数", "vaccinations-per-day counters equal the counted persons",
          _counter_sql("vaccination_day_count", ("day", "station_id"), ("date(finished_at)", "station_id"),
                       f"status = '{VACCINATED}' AND finished_at IS NOT NULL AND station_id IS NOT NULL"),
          "vaccination_day_count", tables=("vaccination_day_count",)),
    # models/lot_counts.py: the doses given of each lot, as the recall list and the lots list show them.
    Check("lot_dose_counters", "各批号已接种剂次计数器等于实际接种记录数",
          "per-lot given-dose counters equal the lot's given, valid vaccination records",
          _counter_sql("lot_dose_count", ("lot_id",), ("lot_id",),
                       "lot_id IS NOT NULL AND outcome = 'given' AND state = 'valid'", source="vaccination"),
          "lot_dose_count", tables=("lot_dose_count", "vaccination")),
    # models/dose_counts.py: the per-dose figures of the dashboards, at each of their three grains.
    Check("dose_counters", "分剂次接种计数器（按日、接种站、企业）等于实际接种记录数",
          "per-dose counters by day, station and enterprise equal the given, valid vaccination records",
          _counter_sql("dose_count", ("day", "station_id", "enterprise_id", "kind"),
                       ("day", "station_id", "enterprise_id", "kind"), "1 = 1", source=DOSES_GIVEN),
          "dose_count", tables=("dose_count", "vaccination")),
    Check("dose_station_days", "各接种站每日分剂次接种计数器等于实际接种记录数",
          "per-station, per-day dose counters equal the given, valid vaccination records",
          _counter_sql("dose_station_day", ("day", "station_id", "kind"), ("day", "station_id", "kind"), "1 = 1",
                       source=DOSES_GIVEN),
          "dose_station_day", tables=("dose_station_day", "vaccination")),
    Check("dose_station_totals", "各接种站分剂次累计接种计数器等于实际接种记录数",
          "per-station dose totals equal the given, valid vaccination records",
          _counter_sql("dose_station_total", ("station_id", "kind"), ("station_id", "kind"), "1 = 1",
                       source=DOSES_GIVEN),
          "dose_station_total", tables=("dose_station_total", "vaccination")),
    Check("dose_enterprise_totals", "各企业分剂次累计接种计数器等于实际接种记录数",
          "per-enterprise dose totals equal the given, valid vaccination records",
          _counter_sql("dose_enterprise_total", ("enterprise_id", "kind"), ("enterprise_id", "kind"), "1 = 1",
                       source=DOSES_GIVEN),
          "dose_enterprise_total", tables=("dose_enterprise_total", "vaccination")),
]


def register_check(check):
    """Add a check (e.g. of a counters table kept by another module)."""
    if any(existing.key == check.key for existing in CHECKS):
        raise ValueError(f"duplicate check {check.key}")
    CHECKS.append(check)


def run_checks(connection, checks=None, examples=5):
    """Run every check on `connection`; return one Finding per check, in order."""
    existing = set(inspect(connection).get_table_names())
    findings = []
    for check in checks or CHECKS:
        if not set(check.tables) <= existing:
            findings.append(Finding(check, 0, skipped=True))
            continue
        rows = connection.execute(
            text(f"SELECT id, COUNT(*) OVER () AS total FROM ({check.sql}) AS found ORDER BY id LIMIT :examples"),
            {"examples": examples},
        ).all()
        findings.append(Finding(check, rows[0].total if rows else 0, [row.id for row in rows]))
    return findings


def format_report(findings):
    """Return the report an operator reads: one line per check, then a summary."""
    lines = ["数据一致性检查 / data consistency check"]
    for finding in findings:
        check = finding.check
        title = f"{check.title_zh} / {check.title_en}"
        if finding.skipped:
            lines.append(f"  [跳过 SKIP] {check.key}: {title}（表不存在 / table not present）")
        elif finding.ok:
            lines.append(f"  [通过 OK]   {check.key}: {title}")
        else:
            examples = ", ".join(str(i) for i in finding.example_ids)
            more = " …" if finding.count > len(finding.example_ids) else ""
            lines.append(f"  [问题 FAIL] {check.key}: {title}: {finding.count} 行不符 rows break it；"
                         f"例如 e.g. {check.subject}.id {examples}{more}")
    failed = [f for f in findings if not f.ok]
    ran = [f for f in findings if not f.skipped]
    if failed:
        lines.append(f"共 {len(ran)} 项检查，{len(failed)} 项发现问题 / "
                     f"{len(ran)} checks, {len(failed)} found problems")
    else:
        lines.append(f"共 {len(ran)} 项检查，全部通过 / {len(ran)} checks, all passed")
    return "\n".join(lines)
