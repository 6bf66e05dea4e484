"""What every measurement gets: the app on the benchmark database, its settings, a log."""

from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

from sqlalchemy import select, text

from extensions import db
from models.counters import drop_trigger_ddl, trigger_ddl
from models.user import User


@dataclass
class BenchContext:
    app: object
    url: str
    engine: str
    persons: int
    repeat: int
    batch: int
    load_seconds: float
    out_dir: object = None
    # The task-queue lines (bench/ops_queue.py): people booked, reminders queued, messages delivered.
    booking: int = 5_000
    reminders: int = 10_000
    deliveries: int = 2_000
    log: object = print
    notes: dict = field(default_factory=dict)

    @property
    def is_postgres(self):
        return self.engine == "postgresql"

    def user(self, username):
        return db.session.execute(select(User).where(User.username == username)).scalar_one()

    def settle(self):
        """Let PostgreSQL clean up after a timed batch (VACUUM, CHECKPOINT): every run starts from the same state."""
        db.session.commit()
        if self.is_postgres:
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.execute(text("VACUUM person, person_event"))
                # The pages that put-back and VACUUM dirtied are written now, not by a checkpoint
                # in the middle of the next timed run (needs a superuser or pg_checkpoint: else skipped).
                with suppress(Exception):
                    connection.execute(text("CHECKPOINT"))

    @contextmanager
    def plain_schema(self):
        """Run the statements inside on the plain schema: no trigger of ours fires (commit after the block).

        Raw baselines use it, so their figure is what the bare statements cost.
        """
        if self.is_postgres:
            db.session.execute(text("SET LOCAL session_replication_role = replica"))
            yield
            return
        for statement in drop_trigger_ddl("sqlite"):
            db.session.execute(text(statement))
        yield
        for statement in trigger_ddl("sqlite"):
            db.session.execute(text(statement))
