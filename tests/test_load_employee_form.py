"""Load without loss: 10,000 employee-form submissions from 64 concurrent clients to gunicorn on PostgreSQL.

5% are deliberate duplicates of ID numbers sent by other clients. Exactly the unique ones
are stored, every duplicate is sent to the 您的信息已提交 page (the enterprise already holds
the number), no 5xx. Each client is
one browser session: it fetches the form once for its CSRF token, then submits its share.
Throughput and latency (p50/p99) are printed. PostgreSQL pass only.
"""

import os
import random
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

import pytest
from sqlalchemy import create_engine, text

from models.identity import id_check_char
from tests.load_server import Client, cli, fresh_database, gunicorn, postgres_or_skip, qr_token_of_an_enterprise

pytestmark = [pytest.mark.slow, pytest.mark.postgres_only]
SUBMISSIONS = 10_000
CLIENTS = 64
DUPLICATE_SHARE = 0.05


def id_numbers(count, seed=11):
    rng = random.Random(seed)
    numbers, seen = [], set()
    while len(numbers) < count:
        born = date(1960, 1, 1) + timedelta(days=rng.randrange(20000))
        first17 = f"1201{rng.randrange(10, 20):02d}{born:%Y%m%d}{rng.randrange(1000):03d}"
        number = first17 + id_check_char(first17)
        if number not in seen:
            seen.add(number)
            numbers.append(number)
    return numbers


def test_ten_thousand_submissions_from_64_clients_store_exactly_the_unique_ones(tmp_path):
    postgres_or_skip()
    duplicates = int(SUBMISSIONS * DUPLICATE_SHARE)
    unique = id_numbers(SUBMISSIONS - duplicates)
    rng = random.Random(5)
    submissions = unique + rng.sample(unique, duplicates)
    rng.shuffle(submissions)
    shares = [submissions[i::CLIENTS] for i in range(CLIENTS)]
    with fresh_database() as (engine_url, app_url):
        env = {"DATABASE_URL": app_url, "INSTANCE_PATH": str(tmp_path / "cli")}
        cli({**os.environ, **env, "TEST_DATABASE_URL": ""}, "init-db")
        cli({**os.environ, **env, "TEST_DATABASE_URL": ""}, "seed-demo", "--enterprises", "2", "--persons", "20")
        token = qr_token_of_an_enterprise(engine_url)
        engine = create_engine(engine_url)
        with engine.connect() as connection:
            before = connection.execute(text("SELECT count(*) FROM person")).scalar_one()
        latencies, outcomes, lock = [], {"stored": 0, "duplicate": 0, "other": []}, threading.Lock()
        with gunicorn(app_url, tmp_path, EMPLOYEE_FORM_RATE_LIMIT="1000000 per minute") as server:

            def run(share):
                client = Client(server)
                csrf = client.csrf_token(f"/e/{token}")
                mine = []
                for number in share:
                    form = {"csrf_token": csrf, "name": "压测员工", "id_number": number, "phone": "13800138000",
                            "category": "企业职工", "lives_in_binhai": "1", "community": "压测小区", "consent": "1"}
                    started = time.perf_counter()
                    status, headers, page = client.request("POST", f"/e/{token}", form)
                    mine.append(time.perf_counter() - started)
                    with lock:
                        if status == 302 and headers["Location"].endswith("/done?already=1"):
                            outcomes["duplicate"] += 1
                        elif status == 302 and headers["Location"].endswith("/done"):
                            outcomes["stored"] += 1
                        else:
                            outcomes["other"].append((status, page[:200]))
                client.close()
                with lock:
                    latencies.extend(mine)

            started = time.perf_counter()
            with ThreadPoolExecutor(CLIENTS) as pool:
                list(pool.map(run, shares))
            elapsed = time.perf_counter() - started
        with engine.connect() as connection:
            stored = connection.execute(text("SELECT count(*) FROM person")).scalar_one() - before
            distinct = connection.execute(text("SELECT count(DISTINCT id_number) FROM person")).scalar_one()
        engine.dispose()
    latencies.sort()
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[int(len(latencies) * 0.99)] * 1000
    print(f"\nload: {SUBMISSIONS} submissions, {CLIENTS} clients, {elapsed:.1f} s, "
          f"{SUBMISSIONS / elapsed:.0f} submissions/s, p50 {p50:.0f} ms, p99 {p99:.0f} ms; "
          f"stored {outcomes['stored']}, duplicates refused {outcomes['duplicate']}, other {len(outcomes['other'])}")
    assert outcomes["other"] == []
    assert outcomes["stored"] == len(unique) == stored
    assert outcomes["duplicate"] == duplicates
    assert distinct == before + len(unique)
    assert elapsed < 300
