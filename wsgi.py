"""The WSGI entry point for production servers: `gunicorn -c gunicorn.conf.py` serves `wsgi:app`.

Behind a reverse proxy (nginx) set FORWARDED_PROXIES to the number of proxies in front
of the app (1 for the set-up in docs/deploy.md), so the client address used by the rate
limits and the https scheme used for links come from the proxy's X-Forwarded-* headers.
Leave it 0 when clients reach the app server directly: those headers could be forged.
"""

import os

from werkzeug.middleware.proxy_fix import ProxyFix

from app import create_app

app = create_app()

_proxies = int(os.environ.get("FORWARDED_PROXIES", "0") or 0)
if _proxies > 0:
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=_proxies, x_proto=_proxies, x_host=_proxies, x_port=_proxies)
