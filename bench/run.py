"""One benchmark run: database, dataset, every measurement, the table."""

from flask_migrate import upgrade
from sqlalchemy import func, select

from bench import ops_cardread, ops_dashboard, ops_export, ops_forms, ops_lists, ops_queue, ops_recall, ops_workflow
from bench.context import BenchContext
from bench.database import BenchDatabase, bench_app
from bench.dataset import Dataset
from bench.harness import RESULTS_DIR, machine_info, write_report
from extensions import db
from models.person import Person


def run(args, log):
    out_dir = args.out or RESULTS_DIR
    database = BenchDatabase(args.db, args.persons, name=args.db_name, server_url=args.postgres_url,
                             directory=out_dir)
    reuse = args.reuse and database.exists()
    if not reuse:
        database.create()
    app = bench_app(database.url)
    plain_view = ops_lists.mount_plain_view(app)
    try:
        with app.app_context():
            if reuse:
                log(f"reusing {database.name}")
                upgrade()
            else:
                log(f"building {database.name} ({args.persons:,} persons) on {args.db}")
                upgrade()
                Dataset(args.persons, log=log).run()
            persons = db.session.execute(select(func.count()).select_from(Person)).scalar_one()
        ctx = BenchContext(app=app, url=database.url, engine=args.db, persons=persons, repeat=args.repeat,
                           batch=args.batch, load_seconds=args.load_seconds, out_dir=out_dir, log=log,
                           booking=args.booking, reminders=args.reminders, deliveries=args.deliveries)
        only = set(args.only.split(","))
        rows = []
        if "workflow" in only:
            rows += ops_workflow.measure(ctx)
        if "lists" in only:
            rows += ops_lists.measure(ctx, plain_view)
        if "dashboard" in only:
            rows += ops_dashboard.measure(ctx)
        if "cardread" in only:
            rows += ops_cardread.measure(ctx)
        if "export" in only:
            rows += ops_export.measure(ctx)
        if "forms" in only:
            rows += ops_forms.measure(ctx)
        if "recall" in only:
            rows += ops_recall.measure(ctx)
        if "queue" in only:
            rows += ops_queue.measure(ctx)
        settings = {"persons": persons, "engine": args.db, "repeat": args.repeat, "batch": args.batch,
                    "database": database.name}
        return write_report(rows, settings, machine_info(database.version()), out_dir)
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        if not args.keep:
            database.drop()
            log(f"dropped {database.name}")
