"""doses: vaccine products and schedules, one vaccination record per dose, the person's course, 待续种

Revision ID: 0008_doses
Revises: 0007_session_version_reset_state
Create Date: 2026-12-01 21:50:00

Schema: vaccine_product, vaccine_dose_rule, station_product, vaccination; person gains
product_id, dose_number, doses_given, next_dose_earliest, next_dose_latest and the
status due_next (待续种).

Data (frozen here, not read from the models, so a later model change cannot alter it):
- the three seeded products of models/vaccines.py with their schedules (sources there);
- every person 已接种 today gets a dose-1 record (given, valid) with the product, lot,
  station, slot, time, vaccinator and signature recorded on the person, and the audit
  event that vaccinated them; every 未接种 person gets a dose-1 not_given record with the reason;
- the course's product is the seeded product whose name equals the free-text
  vaccine_product exactly (after trimming). A vaccinated person whose text matches a
  product of more than one dose becomes 待续种 for dose 2, with the window counted from
  the day of dose 1 (and no slot: the dose-1 slot stays on the record, still booked).
- When the text matches no product (a typo, an old name, empty), the course product stays
  empty: the record keeps the text in vaccination.product_name, the person stays 已接种
  (the course is taken as complete, since no schedule is known) and is offered no booster
  until an operator sets the product. Guessing a product from a near match would put
  people on a schedule nobody chose.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0008_doses'
down_revision = '0007_session_version_reset_state'
branch_labels = None
depends_on = None

OLD_STATUSES = ('registered', 'submitted', 'dept_approved', 'center_approved', 'allocated', 'appointed',
                'checked_in', 'vaccinated', 'not_vaccinated')
NEW_STATUSES = OLD_STATUSES + ('due_next',)

PRODUCTS = (
    # name, manufacturer, code, primary doses, booster after days, reserve next dose, {dose: (min, max)}
    ('新冠病毒灭活疫苗(Vero细胞)', '北京生物制品研究所有限责任公司', 'COV-INACT-VERO', 2, 180, True, {2: (21, 56)}),
    ('重组新冠病毒蛋白疫苗(CHO细胞)', '安徽智飞龙科马生物制药有限公司', 'COV-RBD-CHO', 3, 180, True,
     {2: (28, 56), 3: (28, 124)}),
    ('腺病毒载体新冠疫苗(Ad5-nCoV)', '康希诺生物股份公司', 'COV-AD5', 1, 180, False, {}),
)

PERSON_INDEX = ('ix_person_next_dose_earliest', ['next_dose_earliest', 'station_id'], 'next_dose_earliest')


def _status_check(statuses):
    return 'status IN (' + ', '.join(f"'{s}'" for s in statuses) + ')'


def upgrade():
    _create_tables()
    _alter_person()
    _seed_products()
    _migrate_vaccinated()


def _create_tables():
    op.create_table(
        'vaccine_product',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('manufacturer', sa.String(length=100), nullable=False),
        sa.Column('code', sa.String(length=32), nullable=False),
        sa.Column('primary_doses', sa.Integer(), nullable=False),
        sa.Column('booster_after_days', sa.Integer(), nullable=True),
        sa.Column('reserve_next_dose', sa.Boolean(), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.CheckConstraint('primary_doses >= 1', name=op.f('ck_vaccine_product_primary_doses_positive')),
        sa.CheckConstraint('booster_after_days IS NULL OR booster_after_days >= 0',
                           name=op.f('ck_vaccine_product_booster_days_positive')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_vaccine_product')),
        sa.UniqueConstraint('code', name=op.f('uq_vaccine_product_code')),
        sa.UniqueConstraint('name', name=op.f('uq_vaccine_product_name')),
    )
    op.create_table(
        'vaccine_dose_rule',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('product_id', sa.Integer(), nullable=False),
        sa.Column('dose_number', sa.Integer(), nullable=False),
        sa.Column('min_interval_days', sa.Integer(), nullable=False),
        sa.Column('max_interval_days', sa.Integer(), nullable=True),
        sa.CheckConstraint('dose_number >= 2', name=op.f('ck_vaccine_dose_rule_dose_number_after_first')),
        sa.CheckConstraint('min_interval_days >= 0', name=op.f('ck_vaccine_dose_rule_min_interval_positive')),
        sa.CheckConstraint('max_interval_days IS NULL OR max_interval_days >= min_interval_days',
                           name=op.f('ck_vaccine_dose_rule_interval_order')),
        sa.ForeignKeyConstraint(['product_id'], ['vaccine_product.id'],
                                name=op.f('fk_vaccine_dose_rule_product_id_vaccine_product'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_vaccine_dose_rule')),
        sa.UniqueConstraint('product_id', 'dose_number', name='uq_vaccine_dose_rule_product_dose'),
    )
    op.create_table(
        'station_product',
        sa.Column('station_id', sa.Integer(), nullable=False),
        sa.Column('product_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['product_id'], ['vaccine_product.id'],
                                name=op.f('fk_station_product_product_id_vaccine_product'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['station_id'], ['station.id'],
                                name=op.f('fk_station_product_station_id_station'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('station_id', 'product_id', name=op.f('pk_station_product')),
    )
    op.create_table(
        'vaccination',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('person_id', sa.Integer(), nullable=False),
        sa.Column('dose_number', sa.Integer(), nullable=False),
        sa.Column('is_booster', sa.Boolean(), nullable=False),
        sa.Column('product_id', sa.Integer(), nullable=True),
        sa.Column('product_name', sa.String(length=100), nullable=True),
        sa.Column('lot_id', sa.Integer(), nullable=True),
        sa.Column('lot_number', sa.String(length=50), nullable=True),
        sa.Column('station_id', sa.Integer(), nullable=True),
        sa.Column('slot_id', sa.Integer(), nullable=True),
        sa.Column('outcome', sa.String(length=16), nullable=False),
        sa.Column('reason', sa.String(length=200), nullable=True),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.Column('vaccinator_id', sa.Integer(), nullable=True),
        sa.Column('signature_png', sa.LargeBinary(), nullable=True),
        sa.Column('event_id', sa.Integer(), nullable=True),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('supersedes_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.CheckConstraint("outcome IN ('given', 'not_given')", name=op.f('ck_vaccination_outcome_known')),
        sa.CheckConstraint("state IN ('valid', 'corrected', 'cancelled')", name=op.f('ck_vaccination_state_known')),
        sa.CheckConstraint('dose_number >= 1', name=op.f('ck_vaccination_dose_number_positive')),
        sa.ForeignKeyConstraint(['event_id'], ['audit_event.id'], name=op.f('fk_vaccination_event_id_audit_event')),
        sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_vaccination_person_id_person'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['product_id'], ['vaccine_product.id'],
                                name=op.f('fk_vaccination_product_id_vaccine_product')),
        sa.ForeignKeyConstraint(['slot_id'], ['appointment_slot.id'],
                                name=op.f('fk_vaccination_slot_id_appointment_slot')),
        sa.ForeignKeyConstraint(['station_id'], ['station.id'], name=op.f('fk_vaccination_station_id_station')),
        sa.ForeignKeyConstraint(['supersedes_id'], ['vaccination.id'],
                                name=op.f('fk_vaccination_supersedes_id_vaccination')),
        sa.ForeignKeyConstraint(['vaccinator_id'], ['user.id'], name=op.f('fk_vaccination_vaccinator_id_user')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_vaccination')),
    )
    with op.batch_alter_table('vaccination', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vaccination_event_id'), ['event_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_vaccination_person_id'), ['person_id'], unique=False)
        batch_op.create_index('ix_vaccination_station_at', ['station_id', 'at'], unique=False)


def _person_columns():
    return (
        sa.Column('product_id', sa.Integer(), nullable=True),
        sa.Column('dose_number', sa.Integer(), server_default='1', nullable=False),
        sa.Column('doses_given', sa.Integer(), server_default='0', nullable=False),
        sa.Column('next_dose_earliest', sa.Date(), nullable=True),
        sa.Column('next_dose_latest', sa.Date(), nullable=True),
    )


def _alter_person():
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        for column in _person_columns():
            op.add_column('person', column)
        op.create_foreign_key(op.f('fk_person_product_id_vaccine_product'), 'person', 'vaccine_product',
                              ['product_id'], ['id'])
        op.drop_constraint(op.f('ck_person_status_known'), 'person', type_='check')
        op.create_check_constraint(op.f('ck_person_status_known'), 'person', _status_check(NEW_STATUSES))
    else:
        _alter_person_sqlite(bind)
    name, columns, present = PERSON_INDEX
    where = sa.text(f'{present} IS NOT NULL')
    op.create_index(name, 'person', columns, unique=False, postgresql_where=where, sqlite_where=where)


def _alter_person_sqlite(bind):
    """SQLite changes a CHECK constraint only by copying the table: keep its triggers and indexes as they are."""
    kept = bind.execute(sa.text(
        "SELECT type, name, sql FROM sqlite_master WHERE tbl_name = 'person' AND type IN ('index', 'trigger') "
        "AND sql IS NOT NULL")).all()
    with op.batch_alter_table('person', schema=None, recreate='always') as batch_op:
        for column in _person_columns():
            batch_op.add_column(column)
        batch_op.create_foreign_key(batch_op.f('fk_person_product_id_vaccine_product'), 'vaccine_product',
                                    ['product_id'], ['id'])
        batch_op.drop_constraint(op.f('ck_person_status_known'), type_='check')
        batch_op.create_check_constraint(op.f('ck_person_status_known'), _status_check(NEW_STATUSES))
    for kind, name, sql in kept:
        op.execute(f'DROP {kind.upper()} IF EXISTS "{name}"')
        op.execute(sql)


def _seed_products():
    product = sa.table('vaccine_product', *(sa.column(c) for c in (
        'name', 'manufacturer', 'code', 'primary_doses', 'booster_after_days', 'reserve_next_dose', 'active')))
    rule = sa.table('vaccine_dose_rule', *(sa.column(c) for c in (
        'product_id', 'dose_number', 'min_interval_days', 'max_interval_days')))
    bind = op.get_bind()
    for name, manufacturer, code, doses, booster, reserve, rules in PRODUCTS:
        bind.execute(product.insert().values(name=name, manufacturer=manufacturer, code=code, primary_doses=doses,
                                             booster_after_days=booster, reserve_next_dose=reserve, active=True))
        product_id = bind.execute(sa.text('SELECT id FROM vaccine_product WHERE name = :n'), {'n': name}).scalar_one()
        for dose, (low, high) in sorted(rules.items()):
            bind.execute(rule.insert().values(product_id=product_id, dose_number=dose, min_interval_days=low,
                                              max_interval_days=high))


def _days_after(bind, moment, days):
    if bind.dialect.name == 'postgresql':
        return f'(CAST({moment} AS DATE) + {days})'
    return f"date({moment}, '+' || ({days}) || ' days')"


def _migrate_vaccinated():
    bind = op.get_bind()
    false = 'FALSE' if bind.dialect.name == 'postgresql' else '0'
    op.execute(
        "UPDATE person SET product_id = "
        "(SELECT p.id FROM vaccine_product p WHERE p.name = TRIM(person.vaccine_product)) WHERE status = 'vaccinated'"
    )
    op.execute(
        "INSERT INTO vaccination (person_id, dose_number, is_booster, product_id, product_name, lot_number, "
        "station_id, slot_id, outcome, reason, at, vaccinator_id, signature_png, event_id, state, created_at) "
        f"SELECT p.id, 1, {false}, p.product_id, p.vaccine_product, p.vaccine_lot, p.station_id, p.slot_id, "
        "CASE WHEN p.status = 'vaccinated' THEN 'given' ELSE 'not_given' END, "
        "CASE WHEN p.status = 'vaccinated' THEN NULL ELSE p.not_vaccinated_reason END, "
        "COALESCE(p.finished_at, p.created_at), p.finished_by_id, "
        "CASE WHEN p.status = 'vaccinated' THEN p.signature_png END, "
        "(SELECT e.id FROM audit_event e WHERE e.id = p.last_event_id "
        " AND e.action IN ('vaccinate', 'mark_not_vaccinated')), "
        "'valid', COALESCE(p.finished_at, p.created_at) "
        "FROM person p WHERE p.status IN ('vaccinated', 'not_vaccinated') ORDER BY p.id"
    )
    op.execute("UPDATE person SET doses_given = 1, dose_number = 2 WHERE status = 'vaccinated'")
    minimum = "(SELECT r.min_interval_days FROM vaccine_dose_rule r WHERE r.product_id = person.product_id " \
              "AND r.dose_number = 2)"
    maximum = minimum.replace('min_interval_days', 'max_interval_days')
    op.execute(
        "UPDATE person SET status = 'due_next', previous_status = 'vaccinated', "
        f"next_dose_earliest = {_days_after(bind, 'COALESCE(finished_at, created_at)', minimum)}, "
        f"next_dose_latest = {_days_after(bind, 'COALESCE(finished_at, created_at)', maximum)}, "
        "previous_slot_id = slot_id, slot_id = NULL, version = version + 1 "
        "WHERE status = 'vaccinated' AND product_id IN (SELECT id FROM vaccine_product WHERE primary_doses > 1)"
    )


def downgrade():
    op.execute("UPDATE person SET status = 'vaccinated', slot_id = COALESCE(slot_id, previous_slot_id) "
               "WHERE status = 'due_next'")
    op.drop_index(PERSON_INDEX[0], table_name='person')
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        op.drop_constraint(op.f('ck_person_status_known'), 'person', type_='check')
        op.create_check_constraint(op.f('ck_person_status_known'), 'person', _status_check(OLD_STATUSES))
        op.drop_constraint(op.f('fk_person_product_id_vaccine_product'), 'person', type_='foreignkey')
        for column in _person_columns():
            op.drop_column('person', column.name)
    else:
        kept = bind.execute(sa.text(
            "SELECT type, name, sql FROM sqlite_master WHERE tbl_name = 'person' AND type IN ('index', 'trigger') "
            "AND sql IS NOT NULL AND name <> :n"), {'n': PERSON_INDEX[0]}).all()
        with op.batch_alter_table('person', schema=None, recreate='always') as batch_op:
            batch_op.drop_constraint(op.f('fk_person_product_id_vaccine_product'), type_='foreignkey')
            for column in _person_columns():
                batch_op.drop_column(column.name)
            batch_op.drop_constraint(op.f('ck_person_status_known'), type_='check')
            batch_op.create_check_constraint(op.f('ck_person_status_known'), _status_check(OLD_STATUSES))
        for kind, name, sql in kept:
            op.execute(f'DROP {kind.upper()} IF EXISTS "{name}"')
            op.execute(sql)
    op.drop_table('vaccination')
    op.drop_table('station_product')
    op.drop_table('vaccine_dose_rule')
    op.drop_table('vaccine_product')
