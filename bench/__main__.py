"""`python -m bench`: build a district-sized dataset, measure every heavy operation against its baseline.

Each figure is the median of several runs, taken alternately with a baseline measured in
the same run on the same data, so the ratio holds on a busy or a quiet machine alike.
"""

import argparse
import os
import signal
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OPERATIONS = ("workflow", "lists", "dashboard", "cardread", "export", "forms", "recall", "queue")
# The task-queue lines' sizes: (quick mode, below 200,000 persons; the district).
QUEUE_SIZES = {"booking": (5_000, 50_000), "reminders": (10_000, 100_000), "deliveries": (2_000, 10_000)}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=20_000,
                        help="persons in the dataset (default 20,000: the quick mode; the targets hold at 1,000,000)")
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite", help="database engine")
    parser.add_argument("--postgres-url", default=None,
                        help="server to create the benchmark database on "
                             "(default $BENCH_POSTGRES_URL or postgresql://postgres@127.0.0.1:5432/postgres)")
    parser.add_argument("--db-name", default=None, help="database (or SQLite file) name, default bench_<persons>")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per figure (median)")
    parser.add_argument("--batch", type=int, default=50_000, help="people moved by one 全部… batch")
    parser.add_argument("--load-seconds", type=float, default=None,
                        help="length of each public-form load run (default 2 s below 200,000 persons, else 8 s)")
    parser.add_argument("--booking", type=int, default=None,
                        help="people booked by the queue line's 分期分量预约 (default 5,000; 50,000 from 200,000)")
    parser.add_argument("--reminders", type=int, default=None,
                        help="reminders queued by the scheduler line (default 10,000; 100,000 from 200,000)")
    parser.add_argument("--deliveries", type=int, default=None,
                        help="messages the worker delivers to the fake gateway (default 2,000; 10,000 from 200,000)")
    parser.add_argument("--only", default=",".join(OPERATIONS),
                        help=f"comma-separated subset of {','.join(OPERATIONS)}")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database afterwards")
    parser.add_argument("--reuse", action="store_true",
                        help="reuse a kept database of the same name instead of generating it again")
    parser.add_argument("--out", default=None, help="directory for the result table (default bench/results)")
    args = parser.parse_args(argv)
    if args.load_seconds is None:
        args.load_seconds = 2.0 if args.persons < 200_000 else 8.0
    for name, (quick, district) in QUEUE_SIZES.items():
        if getattr(args, name) is None:
            setattr(args, name, quick if args.persons < 200_000 else district)
    unknown = set(args.only.split(",")) - set(OPERATIONS)
    if unknown:
        parser.error(f"unknown operations: {', '.join(sorted(unknown))}")
    return args


def log(message):
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def unwind_on_term():
    """A TERM (timeout, kill, CI) unwinds like Ctrl-C, so the fake gateway and gunicorn children
    are stopped by their context managers instead of being left running."""
    signal.signal(signal.SIGTERM, _exit_on_term)


def _exit_on_term(signum, frame):
    raise SystemExit(128 + signum)


def main(argv=None):
    args = parse_args(argv)
    unwind_on_term()
    os.chdir(ROOT)  # migrations/ and the app's templates are found from the project root
    sys.path.insert(0, str(ROOT))
    from bench.run import run

    text = run(args, log)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
