"""The trigger shell that keeps a counter of vaccination records right, on either engine.

A counter module gives the statements that move its counts (`upserts(moves_sql)` over a
transition table's moves for PostgreSQL, `sqlite_change(row, k)` for one row on SQLite) and
the columns its counts depend on; this builds the triggers and creates them with the table.
PostgreSQL: statement triggers with transition tables; SQLite: row triggers.
"""

from sqlalchemy import DDL, event

from models.doses import Vaccination


def postgresql_triggers(function, names, upserts, moves):
    """The plpgsql function applying `upserts` to the moves of each statement, and its three triggers."""
    body = (
        f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n"
        "IF TG_OP = 'INSERT' THEN\n" + upserts(moves("new_rows", 1)) + "\n"
        "ELSIF TG_OP = 'DELETE' THEN\n" + upserts(moves("old_rows", -1)) + "\n"
        "ELSE\n" + upserts(moves("old_rows", -1) + " UNION ALL " + moves("new_rows", 1))
        + "\nEND IF;\nRETURN NULL;\nEND\n$$"
    )
    insert, update, delete = names
    return (
        body,
        f"CREATE TRIGGER {insert} AFTER INSERT ON vaccination REFERENCING NEW TABLE AS new_rows "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
        f"CREATE TRIGGER {update} AFTER UPDATE ON vaccination REFERENCING OLD TABLE AS old_rows "
        f"NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
        f"CREATE TRIGGER {delete} AFTER DELETE ON vaccination REFERENCING OLD TABLE AS old_rows "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
    )


def sqlite_triggers(names, change, watched):
    """Row triggers: a record counts out as it was and in as it is whenever a `watched` column changes."""
    insert, update, delete = names
    return (
        f"CREATE TRIGGER {insert} AFTER INSERT ON vaccination BEGIN {change('NEW.', 1)} END",
        f"CREATE TRIGGER {update} AFTER UPDATE OF {', '.join(watched)} ON vaccination "
        f"WHEN {' OR '.join(f'NEW.{c} IS NOT OLD.{c}' for c in watched)} "
        f"BEGIN {change('OLD.', -1)} {change('NEW.', 1)} END",
        f"CREATE TRIGGER {delete} AFTER DELETE ON vaccination BEGIN {change('OLD.', -1)} END",
    )


def create_with_vaccination(trigger_ddl):
    """Create the triggers `trigger_ddl(dialect name)` gives whenever the vaccination table is created."""
    def create(target, connection, **kw):
        for statement in trigger_ddl(connection.dialect.name):
            connection.execute(DDL(statement.replace("%", "%%")))
    event.listen(Vaccination.__table__, "after_create", create)
