"""Vaccine products (疫苗品种), their dose schedules, and which products each station gives.

The seeded products and their figures, with where each figure comes from:

- 新冠病毒灭活疫苗(Vero细胞) (北京生物制品研究所; the same schedule applies to the other
  Vero-cell inactivated vaccines): 2 doses, the second 21 to 56 days after the first.
  Source: 国家卫生健康委《新冠病毒疫苗接种技术指南（第一版）》(2021-03-29): "两剂之间的接种间隔
  建议≥3周，第2剂在8周内尽早完成" — 3 weeks = 21 days, 8 weeks = 56 days.
- 重组新冠病毒蛋白疫苗(CHO细胞) (安徽智飞龙科马): 3 doses. Same guide: "相邻两剂之间的接种
  间隔建议≥4周。第2剂尽量在接种第1剂次后8周内完成，第3剂尽量在接种第1剂次后6个月内完成".
  Dose 2: 28 to 56 days after dose 1. Dose 3: at least 28 days after dose 2; the guide's
  limit counts from dose 1 (6 months), the schedule here counts from the previous dose, so
  the latest is 124 days: even a dose 2 on its last day (56) then keeps dose 3 within
  180 days of dose 1 (56 + 124 = 180).
- 腺病毒载体新冠疫苗(Ad5-nCoV) (康希诺生物): 1 dose (same guide: "接种1剂").
- Booster (加强免疫): offered from 180 days after the last primary dose. Source: 国务院联防联控
  机制 press conference of 2021-10-23 / 国家卫生健康委 加强免疫工作方案: "完成全程接种满6个月的
  ...人群" — 6 months taken as 180 days. The same rule is seeded for the three products;
  the admin edits it when the district's guidance changes.
"""

from sqlalchemy import CheckConstraint, UniqueConstraint, insert, select

from extensions import db
from models.errors import DomainError

# The products seeded into vaccine_product (names and makers as registered): data, not labels.
SEEDED_PRODUCTS = (
    # name, manufacturer, code, primary doses, booster after days, reserve next dose, {dose: (min, max)}
    ("新冠病毒灭活疫苗(Vero细胞)", "北京生物制品研究所有限责任公司", "COV-INACT-VERO", 2, 180, True,
     {2: (21, 56)}),
    ("重组新冠病毒蛋白疫苗(CHO细胞)", "安徽智飞龙科马生物制药有限公司", "COV-RBD-CHO", 3, 180, True,
     {2: (28, 56), 3: (28, 124)}),
    ("腺病毒载体新冠疫苗(Ad5-nCoV)", "康希诺生物股份公司", "COV-AD5", 1, 180, False, {}),
)


class VaccineError(DomainError, ValueError):
    """A product choice that cannot be applied; its code is worded by admin_views/labels.py."""


class VaccineProduct(db.Model):
    """A vaccine product and its primary course (number of doses, booster rule)."""

    __tablename__ = "vaccine_product"
    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(100), nullable=False, unique=True)
    manufacturer = db.Column(db.String(100), nullable=False, default="")
    code = db.Column(db.String(32), nullable=False, unique=True)
    primary_doses = db.Column(db.Integer, nullable=False, default=1)
    booster_after_days = db.Column(db.Integer)
    reserve_next_dose = db.Column(db.Boolean, nullable=False, default=False)
    active = db.Column(db.Boolean, nullable=False, default=True)

    rules = db.relationship("VaccineDoseRule", backref="product", order_by="VaccineDoseRule.dose_number",
                            cascade="all, delete-orphan")

    __table_args__ = (
        CheckConstraint("primary_doses >= 1", name="primary_doses_positive"),
        CheckConstraint("booster_after_days IS NULL OR booster_after_days >= 0", name="booster_days_positive"),
    )

    def rule_for(self, dose_number):
        return next((r for r in self.rules if r.dose_number == dose_number), None)

    def __str__(self):
        return self.name


class VaccineDoseRule(db.Model):
    """When dose `dose_number` of a product may be given, counted in days from the previous dose."""

    __tablename__ = "vaccine_dose_rule"
    id = db.Column(db.Integer, primary_key=True)
    product_id = db.Column(db.Integer, db.ForeignKey("vaccine_product.id", ondelete="CASCADE"), nullable=False)
    dose_number = db.Column(db.Integer, nullable=False)
    min_interval_days = db.Column(db.Integer, nullable=False)
    max_interval_days = db.Column(db.Integer)

    __table_args__ = (
        UniqueConstraint("product_id", "dose_number", name="uq_vaccine_dose_rule_product_dose"),
        CheckConstraint("dose_number >= 2", name="dose_number_after_first"),
        CheckConstraint("min_interval_days >= 0", name="min_interval_positive"),
        CheckConstraint("max_interval_days IS NULL OR max_interval_days >= min_interval_days",
                        name="interval_order"),
    )


class StationProduct(db.Model):
    """A station gives this product (the center chooses)."""

    __tablename__ = "station_product"
    station_id = db.Column(db.Integer, db.ForeignKey("station.id", ondelete="CASCADE"), primary_key=True)
    product_id = db.Column(db.Integer, db.ForeignKey("vaccine_product.id", ondelete="CASCADE"), primary_key=True)

    station = db.relationship("Station", backref=db.backref("product_links", cascade="all, delete-orphan"))
    product = db.relationship("VaccineProduct")


def seed_vaccine_products():
    """Add the seeded products that are missing (by name); return {name: product}."""
    existing = {p.name: p for p in db.session.execute(select(VaccineProduct)).scalars()}
    for name, manufacturer, code, doses, booster, reserve, rules in SEEDED_PRODUCTS:
        if name in existing:
            continue
        product = VaccineProduct(name=name, manufacturer=manufacturer, code=code, primary_doses=doses,
                                 booster_after_days=booster, reserve_next_dose=reserve, active=True)
        product.rules = [VaccineDoseRule(dose_number=d, min_interval_days=lo, max_interval_days=hi)
                         for d, (lo, hi) in sorted(rules.items())]
        db.session.add(product)
        existing[name] = product
    db.session.flush()
    return existing


def station_products(station_id):
    """The active products a station gives, by name."""
    return list(db.session.execute(
        select(VaccineProduct).join(StationProduct, StationProduct.product_id == VaccineProduct.id)
        .where(StationProduct.station_id == station_id, VaccineProduct.active.is_(True))
        .order_by(VaccineProduct.name)
    ).scalars())


def set_station_products(actor, station, product_ids):
    """Make `station` give exactly the products `product_ids` (center); audited."""
    from models.audit import record_event

    wanted = {int(i) for i in product_ids}
    known = set(db.session.execute(select(VaccineProduct.id).where(VaccineProduct.id.in_(wanted))).scalars())
    if known != wanted:
        raise VaccineError("product_unknown")
    current = set(db.session.execute(
        select(StationProduct.product_id).where(StationProduct.station_id == station.id)).scalars())
    removed, added = current - wanted, wanted - current
    if removed:
        db.session.execute(StationProduct.__table__.delete().where(
            StationProduct.station_id == station.id, StationProduct.product_id.in_(removed)))
    if added:
        db.session.execute(insert(StationProduct), [{"station_id": station.id, "product_id": p} for p in added])
    record_event(actor, "station_products", target_type="station", target_id=station.id,
                 detail=f"added={sorted(added)} removed={sorted(removed)}", changed=len(added) + len(removed))
    db.session.flush()
    return len(added), len(removed)


def is_primary_dose(person):
    """Whether the person's next dose belongs to the primary course (else it is a booster)."""
    return person.product is None or person.dose_number <= person.product.primary_doses


def products_for_dose(station_id, person):
    """The products the desk may give `person` now: the course's product for a primary dose, any for a booster."""
    offered = station_products(station_id)
    if person.product_id is not None and person.doses_given and is_primary_dose(person):
        return [p for p in offered if p.id == person.product_id]
    return offered
