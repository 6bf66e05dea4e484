"""Organisations: territories, review departments, enterprises, stations and their slots."""

import secrets

from sqlalchemy import CheckConstraint, Index, UniqueConstraint, select

from extensions import db
from models.base import now

INDUSTRY = "industry"
TERRITORY = "territory"
DIMENSIONS = (INDUSTRY, TERRITORY)  # worded in admin_views/labels.py


def new_qr_token():
    return secrets.token_urlsafe(24)


# ---------------------------------------------------------------- trees (departments, groups)

def children_map(pairs):
    """{parent id: [child ids]} from (id, parent id) pairs."""
    children = {}
    for node_id, parent_id in pairs:
        children.setdefault(parent_id, []).append(node_id)
    return children


def subtree_ids(root_id, children):
    """The id of `root_id` and of every node below it in `children`: one pass, safe against cycles."""
    found, stack = set(), [root_id]
    while stack:
        current = stack.pop()
        if current not in found:
            found.add(current)
            stack.extend(children.get(current, ()))
    return found


def department_children():
    """{department id: [ids of its direct units]} of every review department."""
    return children_map(db.session.execute(select(ReviewDepartment.id, ReviewDepartment.parent_id)).all())


def department_ids_under(department_id, children=None):
    """The id of a department and of every unit below it (a set)."""
    return subtree_ids(department_id, department_children() if children is None else children)


def subsidiary_children():
    """{enterprise id: [ids of its direct subsidiaries]} (few rows: only subsidiaries)."""
    return children_map(db.session.execute(
        select(Enterprise.id, Enterprise.parent_id).where(Enterprise.parent_id.is_not(None))
    ).all())


def enterprise_ids_with_subsidiaries(enterprise_id, children=None):
    """The id of an enterprise and of every subsidiary below it, at any depth (a set)."""
    return subtree_ids(enterprise_id, subsidiary_children() if children is None else children)


class Territory(db.Model):
    """A 街镇 or functional zone of Binhai: an enterprise's 所属辖区."""

    __tablename__ = "territory"
    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(64), nullable=False, unique=True)
    sort_order = db.Column(db.Integer, nullable=False, default=0)

    def __str__(self):
        return self.name


class ReviewDepartment(db.Model):
    """A 审核部门 (first-level approver), in the 行业 or 属地 dimension, possibly nested."""

    __tablename__ = "review_department"
    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(100), nullable=False, unique=True)
    dimension = db.Column(db.String(16), nullable=False, default=INDUSTRY)
    parent_id = db.Column(db.Integer, db.ForeignKey("review_department.id"), index=True)
    contact_phone = db.Column(db.String(20))
    sort_order = db.Column(db.Integer, nullable=False, default=0)

    parent = db.relationship("ReviewDepartment", remote_side=[id], backref="children")

    __table_args__ = (
        CheckConstraint(f"dimension IN ('{INDUSTRY}', '{TERRITORY}')", name="dimension"),
    )

    def __str__(self):
        return self.name


class Enterprise(db.Model):
    """A company that declares its staff for vaccination."""

    __tablename__ = "enterprise"
    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(120), nullable=False)
    credit_code = db.Column(db.String(18), nullable=False, unique=True)
    department_id = db.Column(db.Integer, db.ForeignKey("review_department.id"), nullable=False, index=True)
    territory_id = db.Column(db.Integer, db.ForeignKey("territory.id"), nullable=False, index=True)
    parent_id = db.Column(db.Integer, db.ForeignKey("enterprise.id"), index=True)
    address = db.Column(db.String(200), nullable=False, default="")
    contact_name = db.Column(db.String(50), nullable=False, default="")
    phone = db.Column(db.String(20), nullable=False, default="", index=True)
    qr_token = db.Column(db.String(64), nullable=False, unique=True, default=new_qr_token)
    created_at = db.Column(db.DateTime, nullable=False, default=now)

    department = db.relationship("ReviewDepartment", backref="enterprises")
    territory = db.relationship("Territory")
    parent = db.relationship("Enterprise", remote_side=[id], backref="subsidiaries")

    def rotate_qr_token(self):
        self.qr_token = new_qr_token()

    def __str__(self):
        return self.name


class Station(db.Model):
    """A vaccination station (接种站/接种点)."""

    __tablename__ = "station"
    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(100), nullable=False, unique=True)
    address = db.Column(db.String(200), nullable=False, default="")
    territory_id = db.Column(db.Integer, db.ForeignKey("territory.id"), index=True)
    contact_phone = db.Column(db.String(20))
    active = db.Column(db.Boolean, nullable=False, default=True)
    default_vaccine_product = db.Column(db.String(100))
    default_vaccine_lot = db.Column(db.String(50))

    territory = db.relationship("Territory")

    def __str__(self):
        return self.name


class AppointmentSlot(db.Model):
    """A time window of a station with a capacity; `booked` is kept by the workflow."""

    __tablename__ = "appointment_slot"
    id = db.Column(db.Integer, primary_key=True)
    station_id = db.Column(db.Integer, db.ForeignKey("station.id"), nullable=False)
    starts_at = db.Column(db.DateTime, nullable=False)
    ends_at = db.Column(db.DateTime, nullable=False)
    capacity = db.Column(db.Integer, nullable=False)
    booked = db.Column(db.Integer, nullable=False, default=0)

    station = db.relationship("Station", backref="slots")

    __table_args__ = (
        UniqueConstraint("station_id", "starts_at", name="uq_appointment_slot_station_start"),
        # The database itself refuses overbooking, whatever the code above it does.
        CheckConstraint("booked >= 0 AND booked <= capacity", name="within_capacity"),
        CheckConstraint("capacity >= 0", name="capacity_positive"),
        CheckConstraint("ends_at > starts_at", name="window_order"),
        Index("ix_appointment_slot_station_starts", "station_id", "starts_at"),
    )

    @property
    def free(self):
        return self.capacity - self.booked

    @property
    def saturation(self):
        return self.booked / self.capacity if self.capacity else 1.0

    def __str__(self):
        return f"{self.starts_at:%Y-%m-%d %H:%M}-{self.ends_at:%H:%M}"
