"""Option lists an admin can edit: 人员类别 and 未接种原因."""

from sqlalchemy import UniqueConstraint

from extensions import db

PERSON_CATEGORY = "person_category"
NOT_VACCINATED_REASON = "not_vaccinated_reason"
AEFI_SYMPTOM = "aefi_symptom"

# The rows seeded into option_item; a person's category, a 未接种 reason and an AEFI report
# store the label itself, so these are data, not UI words.
DEFAULT_OPTIONS = {
    PERSON_CATEGORY: [
        "企业职工", "冷链从业人员", "口岸及港口人员", "医务人员", "交通运输人员",
        "公共服务人员", "学校教职员工", "其他",
    ],
    NOT_VACCINATED_REASON: [
        "发热(体温≥37.3℃)", "急性疾病发作期", "对疫苗成分过敏", "妊娠期或哺乳期",
        "近期接种过其他疫苗", "本人拒绝接种", "信息不符", "其他",
    ],
    # Reactions of the 方案's reporting list most often seen within the observation period.
    AEFI_SYMPTOM: [
        "发热", "接种部位红肿", "接种部位硬结", "过敏性皮疹", "血管性水肿", "过敏性休克", "晕厥",
        "头痛", "乏力", "恶心呕吐", "腹泻", "肌肉酸痛", "呼吸困难", "抽搐",
    ],
}


class OptionItem(db.Model):
    __tablename__ = "option_item"
    id = db.Column(db.Integer, primary_key=True)
    kind = db.Column(db.String(32), nullable=False)
    label = db.Column(db.String(100), nullable=False)
    sort_order = db.Column(db.Integer, nullable=False, default=0)
    active = db.Column(db.Boolean, nullable=False, default=True)

    __table_args__ = (UniqueConstraint("kind", "label", name="uq_option_item_kind_label"),)

    def __str__(self):
        return self.label


def option_labels(kind):
    """Return the active labels of one option list, in order."""
    rows = db.session.execute(
        db.select(OptionItem.label)
        .where(OptionItem.kind == kind, OptionItem.active.is_(True))
        .order_by(OptionItem.sort_order, OptionItem.id)
    ).scalars()
    return list(rows)


def seed_default_options():
    """Insert the default option lists where a kind has none yet."""
    for kind, labels in DEFAULT_OPTIONS.items():
        exists = db.session.execute(db.select(OptionItem.id).where(OptionItem.kind == kind).limit(1)).first()
        if exists:
            continue
        for order, label in enumerate(labels):
            db.session.add(OptionItem(kind=kind, label=label, sort_order=order))
