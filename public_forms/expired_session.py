"""A form posted after its session ended: the login of the form's console, then the page it was on.

A session ends when the user logs out in another tab, the account's sessions are ended, or
the browser drops its cookie. A form still open in a console then posts into nothing: the
CSRF check (no session, no token) or the console's access check refuses it. Instead of a
page that only leads home, the user logs in again at the login page of the console the
form belongs to (its URL prefix names it) and lands on the page the form was on. A public
form refused the same way gets a page leading back to the form.
"""

from urllib.parse import urlsplit

from flask import flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user

from admin_views.labels import ROLE_LABELS
from services.safe_redirect import local_path, safe_next

EXPIRED_MESSAGE = "登录已过期，请重新登录后继续操作"
STALE_PAGE_MESSAGE = "页面已过期，请刷新页面后再操作一次"


def console_of(path):
    """The role whose console `path` is in (/enterprise/…, /review/…, …), or None for a public page."""
    first = path.split("/", 2)[1] if path.startswith("/") else ""
    return first if first in ROLE_LABELS else None


def referring_path():
    """The path and query of the Referer when it is a page of this site, else None."""
    referrer = urlsplit(request.referrer or "")
    if referrer.netloc != request.host:
        return None
    return local_path(referrer.path + (f"?{referrer.query}" if referrer.query else ""))


def from_script():
    return request.headers.get("X-Requested-With") == "fetch"


def page_posted_from(role):
    """The page the form was on: the Referer when it is in the same console, else the console's home."""
    return safe_next(referring_path(), url_for(f"{role}.index"), prefix=f"/{role}/")


def login_again(role):
    """Answer a post whose session has ended: the console's login, coming back to the page after it."""
    login = url_for("auth.login", role=role, next=page_posted_from(role))
    if from_script():  # the page's script shows the message
        return jsonify(ok=False, message=EXPIRED_MESSAGE, login_url=login), 401
    flash(EXPIRED_MESSAGE, "warning")
    return redirect(login)


def expired_form_page(error):
    """Answer a refused CSRF token with a way back to where the user was, never a dead end."""
    role = console_of(request.path)
    if role is not None and not current_user.is_authenticated:
        return login_again(role)
    # Still logged in (a token of an earlier session of this browser, or a forged post), or a
    # public form: nothing was done; the page offers the form again.
    if from_script():
        return jsonify(ok=False, message=STALE_PAGE_MESSAGE), 400
    back = page_posted_from(role) if role is not None else public_page_posted_from()
    return render_template("expired.html", back=back), 400


def public_page_posted_from():
    """The public page a refused form was on (the Referer, outside the consoles), else the address it posted to."""
    back = referring_path()
    if back is not None and console_of(back) is None:
        return back
    opens = request.url_rule is not None and "GET" in request.url_rule.methods  # a form posted to itself
    return request.path if opens else url_for("portal.index")
