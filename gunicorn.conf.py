"""gunicorn settings for production: `make serve`, or `gunicorn -c gunicorn.conf.py`.

Every value can be set from the environment (see docs/deploy.md):
  BIND (default 127.0.0.1:$PORT, PORT default 8000), WEB_CONCURRENCY (worker processes),
  GUNICORN_THREADS (threads per worker), GUNICORN_TIMEOUT, GUNICORN_CONTROL_SOCKET.
The app itself reads DATABASE_URL, REDIS_URL, SECRET_KEY, LOG_LEVEL, ... (config.py).
"""

import multiprocessing
import os

# Production mode: the app refuses to start without a real SECRET_KEY (services/startup_checks.py).
os.environ.setdefault("APP_ENV", "production")

wsgi_app = "wsgi:app"
bind = os.environ.get("BIND") or f"127.0.0.1:{os.environ.get('PORT') or 8000}"

# gthread: each worker process runs a pool of threads. An open station desk or dashboard
# page holds one thread for its live-event stream (SSE), so threads, not processes, are
# what the open pages use up: workers x threads must exceed the pages open at once plus
# the ordinary requests in flight.
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY") or min(2 * multiprocessing.cpu_count() + 1, 8))
threads = int(os.environ.get("GUNICORN_THREADS") or 32)

# A restart must not wait for the live streams to end by themselves: they are cut after
# 2 s and the browsers reconnect (EventSource does so on its own) to the new workers.
graceful_timeout = 2
timeout = int(os.environ.get("GUNICORN_TIMEOUT") or 60)
keepalive = 5
max_requests = 5000
max_requests_jitter = 500

# The app writes one line per request itself (services/request_log.py), without query
# strings, which can carry ID numbers; gunicorn's access log would repeat them.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()

# The control socket (gunicorn >= 25) lives under $HOME by default, which a service
# account often cannot write; it is off unless a path is given.
if os.environ.get("GUNICORN_CONTROL_SOCKET"):
    control_socket = os.environ["GUNICORN_CONTROL_SOCKET"]
else:
    control_socket_disable = True

# Trust X-Forwarded-Proto from the local proxy only.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")


def on_starting(server):
    # The workers read this to warn about a set-up that breaks with several processes.
    os.environ["WEB_CONCURRENCY"] = str(server.cfg.workers)


def worker_exit(server, worker):
    # A stopping gthread worker waits graceful_timeout for open requests, then returns;
    # but the interpreter would still join its request threads at exit, and a live
    # stream's thread never ends by itself, so a reload (SIGHUP) would leave the old
    # worker holding its streams until the master's timeout kills it. End the process
    # now: the browsers reconnect to the new workers.
    import logging
    import sys

    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
