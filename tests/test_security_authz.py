"""The authorization matrix: every URL rule × every method × every kind of user, each cell expected.

The rules come from the app's URL map, so an endpoint added later without an expectation in
EXPECTED fails `test_every_endpoint_has_an_expectation`. URL parameters, query strings and
form bodies carry the ids of rows of enterprise A / department X / station S, so the users
of B, Y and T probe foreign objects by guessed ids: details, edit, delete, export, every
batch action (each Flask-Admin @action and each 全部… button), the desk and queue pages.

A cell's outcome is read from the response:
  ok      the user reached the page or action (2xx, a redirect other than to a login page,
          a 4xx complaint about the input);
  login   redirected to a login page;
  403/401/404  refused;
  hidden  a foreign probe: ok, 403 or 404, but the answer holds none of A's people and the
          database is unchanged.
Every answer to a user who may not see A's people (anonymous, B, Y, T) is searched for the
names, ID numbers (full and masked), phones and signature of A's people; every cell that is
not "ok" must leave every table as it was. The owners' own posts carry an empty form (or a
search that matches nobody), so they prove access without moving anyone.
"""

import io
import re
import uuid
from dataclasses import dataclass

import pytest
from openpyxl import load_workbook

from tests.security_world import (
    ADMIN,
    ANON,
    CENTER,
    DEPT_X,
    DEPT_Y,
    ENT_A,
    ENT_B,
    MAY_SEE_A,
    STATION_S,
    STATION_T,
    USER_KINDS,
    snapshot,
)

OK, LOGIN, DENY, UNAUTH, NOT_FOUND, NOT_ALLOWED, HIDDEN = "ok", "login", "403", "401", "404", "405", "hidden"
ALL_KINDS = USER_KINDS


def console(owner, foreign=None):
    """A console page: anonymous -> login, the owner -> ok, the foreign unit -> hidden, the rest -> 403."""
    cells = {kind: DENY for kind in ALL_KINDS}
    cells[ANON] = LOGIN
    cells[owner] = OK
    if foreign:
        cells[foreign] = HIDDEN
    return cells


def everyone(outcome=OK):
    return {kind: outcome for kind in ALL_KINDS}


ENTERPRISE = console(ENT_A, ENT_B)
REVIEW = console(DEPT_X, DEPT_Y)
STATION = console(STATION_S, STATION_T)
CENTER_ONLY = console(CENTER)
ADMIN_ONLY = console(ADMIN)
PUBLIC = everyone(OK)
LOGGED_IN = {**everyone(OK), ANON: LOGIN}
# Flask-Admin's generated endpoints of one model view.
MODEL_VIEW_ENDPOINTS = ("index_view", "action_view", "ajax_lookup", "ajax_update", "delete_view", "details_view",
                        "edit_view", "export", "create_view")


def model_view(name, cells):
    """Every generated endpoint of a view; no console has inline editing or ajax lookups: 404 to the owner too."""
    no_ajax = {kind: NOT_FOUND if outcome == OK else outcome for kind, outcome in cells.items()}
    return {f"{name}.{endpoint}": no_ajax if endpoint.startswith("ajax_") else cells
            for endpoint in MODEL_VIEW_ENDPOINTS}


def by_method(**cells_of_method):
    return cells_of_method


# ---------------------------------------------------------------- THE TABLE (endpoint -> kind -> outcome)

EXPECTED = {
    # public pages
    "portal.index": PUBLIC, "portal.healthz": PUBLIC, "portal.register_qr": PUBLIC, "static": PUBLIC,
    "registration.register": PUBLIC, "registration.send_code": PUBLIC, "registration.done": PUBLIC,
    "employee.form": PUBLIC, "employee.done": PUBLIC, "employee.poster": PUBLIC, "employee.qr_image": PUBLIC,
    "employee.privacy": PUBLIC,
    "auth.login": PUBLIC, "auth.change_password": LOGGED_IN,
    # logging out (POST only) sends a user to the login page of the role, anonymous to the portal
    "auth.logout": {**everyone(LOGIN), ANON: OK},
    "forgot_password.start": PUBLIC, "forgot_password.enter_code": PUBLIC, "forgot_password.new_password": PUBLIC,
    "forgot_password.resend": PUBLIC,
    # certificates: the published keys and revocation list, /verify, and 我的接种 (an SMS code, not an account:
    # without one every page sends back to its first step)
    "verify.jwks": PUBLIC, "verify.revoked": PUBLIC, "verify.verify": PUBLIC,
    "self_service.start": PUBLIC, "self_service.enter_code": PUBLIC, "self_service.resend": PUBLIC,
    "self_service.logout": PUBLIC, "self_service.record": PUBLIC, "self_service.cancel": PUBLIC,
    "self_service.certificate": PUBLIC, "self_service.certificate_png": PUBLIC,
    "self_service.certificate_pdf": PUBLIC,
    # Flask-Admin's own static files of each console
    "enterprise.static": PUBLIC, "review.static": PUBLIC, "center.static": PUBLIC, "station.static": PUBLIC,
    "admin.static": PUBLIC,
    # the reader API: a bearer token or nothing (no session user gets in)
    "api.create_card_read": by_method(POST=everyone(UNAUTH), GET=everyone(NOT_ALLOWED)),
    # SMS delivery receipts: the gateway's bearer token (SMS_RECEIPT_TOKEN) or nothing
    "api.sms_receipts": by_method(POST=everyone(UNAUTH), GET=everyone(NOT_ALLOWED)),
    # 企业端
    "enterprise.index": ENTERPRISE,
    **model_view("enterprise_persons", ENTERPRISE),
    "enterprise_persons.act_on_all": ENTERPRISE, "enterprise_persons.export_all": ENTERPRISE,
    "enterprise_persons.edit_person": ENTERPRISE,
    "enterprise_import.index": ENTERPRISE, "enterprise_import.template": ENTERPRISE,
    "enterprise_import.upload": ENTERPRISE,
    # a rejected-rows sheet is named by a random token: an unknown one is 404 to its owner as well
    "enterprise_import.rejected": {**ENTERPRISE, ENT_A: NOT_FOUND},
    "enterprise_qr.index": ENTERPRISE, "enterprise_qr.poster": ENTERPRISE, "enterprise_qr.qr_png": ENTERPRISE,
    "enterprise_qr.rotate": ENTERPRISE,
    # 审核部门端
    "review.index": REVIEW,
    **model_view("review_persons", REVIEW),
    "review_persons.act_on_all": REVIEW, "review_persons.return_view": REVIEW,
    # 防控中心端
    "center.index": CENTER_ONLY, "center.live": CENTER_ONLY,
    **model_view("center_persons", CENTER_ONLY),
    "center_persons.act_on_all": CENTER_ONLY, "center_persons.tree_fragment": CENTER_ONLY,
    **model_view("center_allocation", CENTER_ONLY),
    "center_allocation.act_on_all": CENTER_ONLY, "center_allocation.allocate": CENTER_ONLY,
    "center_allocation.choose_station": CENTER_ONLY, "center_allocation.tree_fragment": CENTER_ONLY,
    **model_view("center_appointments", CENTER_ONLY),
    "center_appointments.act_on_all": CENTER_ONLY, "center_appointments.book": CENTER_ONLY,
    "center_appointments.cancel": CENTER_ONLY, "center_appointments.change": CENTER_ONLY,
    "center_appointments.tree_fragment": CENTER_ONLY,
    "center_self_cancellations.index": CENTER_ONLY, "station_self_cancellations.index": STATION,
    "center_slots.index": CENTER_ONLY, "center_slots.capacity": CENTER_ONLY, "center_slots.delete": CENTER_ONLY,
    # an empty form names no station
    "center_slots.create": {**CENTER_ONLY, CENTER: NOT_FOUND},
    "center_lots.index": CENTER_ONLY, "center_lots.freeze": CENTER_ONLY, "center_lots.unfreeze": CENTER_ONLY,
    "center_lots.recipients": CENTER_ONLY, "center_lots.export": CENTER_ONLY, "center_lots.sms": CENTER_ONLY,
    "center_stock.index": CENTER_ONLY,
    "center_aefi.index": CENTER_ONLY, "center_aefi.alerts": CENTER_ONLY, "center_aefi.investigate": CENTER_ONLY,
    "center_aefi.close": CENTER_ONLY,
    "center_reports.index": CENTER_ONLY, "center_reports.daily_xlsx": CENTER_ONLY,
    "center_reports.fhir_bundle": CENTER_ONLY,
    "center_vaccines.index": CENTER_ONLY, "center_vaccines.station_products": CENTER_ONLY,
    # 接种站端
    "station.index": STATION, "station.stream": STATION, "station.lookup": STATION, "station.check_in": STATION,
    "station.check_in_early": STATION,
    "station.read_panel": STATION, "station.recent_panel": STATION,
    **model_view("station_persons", STATION),
    "station_persons.act_on_all": STATION,
    "station_appointments.index": STATION, "station_appointments.people": STATION,
    "station_appointments.act": STATION,
    "station_progress.index": STATION, "station_progress.panel": STATION,
    "station_queue.index": STATION, "station_queue.panel": STATION, "station_queue.exit_form": STATION,
    "station_queue.vaccinate": STATION, "station_queue.not_vaccinated": STATION,
    "station_queue.signature": STATION, "station_queue.defaults": STATION, "station_queue.trace_code": STATION,
    "station_queue.next_person": STATION,
    "station_stock.index": STATION, "station_stock.receive": STATION, "station_stock.waste": STATION,
    "station_stock.transfer": STATION, "station_stock.day_close": STATION,
    "station_observation.index": STATION, "station_observation.panel": STATION, "station_observation.end": STATION,
    "station_observation.leave": STATION, "station_observation.reaction": STATION,
    # an empty post names no dose: 404 to the owner as well
    "station_aefi.index": STATION, "station_aefi.new": by_method(GET=STATION, POST={**STATION, STATION_S: NOT_FOUND}),
    # 系统管理
    "admin.index": ADMIN_ONLY,
    **model_view("admin_users", ADMIN_ONLY),
    "admin_users.manage_view": ADMIN_ONLY, "admin_users.set_active_view": ADMIN_ONLY,
    "admin_users.reset_password_view": ADMIN_ONLY, "admin_users.unlock_view": ADMIN_ONLY,
    "admin_users.new_account_view": ADMIN_ONLY,
    **model_view("admin_departments", ADMIN_ONLY),
    "admin_departments.import_view": ADMIN_ONLY, "admin_departments.import_template_view": ADMIN_ONLY,
    "admin_departments.tree_view": ADMIN_ONLY,
    **model_view("admin_territories", ADMIN_ONLY),
    **model_view("admin_stations", ADMIN_ONLY),
    **model_view("admin_vaccines", ADMIN_ONLY),
    **model_view("admin_reader_tokens", ADMIN_ONLY),
    **model_view("admin_option_categories", ADMIN_ONLY),
    **model_view("admin_option_reasons", ADMIN_ONLY),
    **model_view("admin_option_aefi_symptoms", ADMIN_ONLY),
    **model_view("admin_audit", ADMIN_ONLY),
    **model_view("admin_sms", ADMIN_ONLY),
    **model_view("admin_jobs", ADMIN_ONLY),
}

# The unit whose users own the probed rows of each console (they get empty posts).
OWNERS = {"enterprise": {ENT_A}, "review": {DEPT_X}, "center": {CENTER}, "station": {STATION_S}, "admin": {ADMIN}}


# ---------------------------------------------------------------- filling in a request

def console_of(rule):
    first = rule.rule.strip("/").split("/")[0]
    return first if first in OWNERS else None


def person_param(endpoint, ids):
    """The person a URL's <person_id> names: one of A's, in the status the page acts on."""
    if endpoint == "station_queue.signature":
        return ids["a_vaccinated"]
    if endpoint.startswith("station_"):
        return ids["a_checked_in"]
    return ids["a_registered"]


def url_values(rule, ids, current_qr_token, action=None):
    values = {}
    for name in rule.arguments:
        if name == "person_id":
            values[name] = person_param(rule.endpoint, ids)
        elif name == "user_id":
            values[name] = ids["victim_user"]
        elif name == "slot_id":
            values[name] = ids["spare_slot_s"]
        elif name == "station_id":
            values[name] = ids["station_s"]
        elif name == "read_id":
            values[name] = ids["card_read"]
        elif name == "lot_id":
            values[name] = ids["lot"]
        elif name == "observation_id":
            values[name] = ids["observation_a"]
        elif name == "report_id":
            values[name] = ids["aefi_a"]
        elif name == "token":
            values[name] = current_qr_token() if rule.endpoint.startswith("employee.") else uuid.uuid4().hex
        elif name == "filename":
            values[name] = "css/app.css" if rule.endpoint == "static" else "admin/js/helpers.js"
        elif name == "export_type":
            values[name] = "csv"
        elif name == "role":
            values[name] = "enterprise"
        elif name == "action":
            values[name] = action
        else:
            raise AssertionError(f"no value for <{name}> of {rule.rule}: teach url_values")
    return values


def query_of(rule, ids):
    """Query arguments naming A's / S's rows, for the pages that read ids from the query string."""
    person = person_param(rule.endpoint, ids)
    return {"id": person, "person_id": person, "slot": ids["slot_s"], "slot_id": ids["slot_s"],
            "station": ids["station_s"], "read": ids["card_read"], "enterprise": ids["ent_a"],
            "node": f"dept:{ids['dept_x']}", "vaccination_id": ids["vaccination_a"]}


def hostile_form(ids, a_people):
    """A post that would move every one of A's people if the scope let it."""
    everyone_of_a = [str(pid) for pid, _ in a_people]
    return {
        "rowid": everyone_of_a, "person_id": everyone_of_a, "ids": everyone_of_a, "id": str(ids["a_registered"]),
        "pk": str(ids["a_registered"]), "name": "篡改", "value": "篡改", "reason": "越权测试", "scope": "ticked",
        "station": str(ids["station_s"]), "station_id": str(ids["station_s"]), "slot": str(ids["slot_s"]),
        "target_slot": str(ids["spare_slot_s"]), "read_id": str(ids["card_read"]), "amount": "100",
        "capacity": "1", "vaccine_product": "x", "vaccine_lot": "x", "other_reason": "越权测试",
        "default_vaccine_product": "x", "default_vaccine_lot": "x", "active": "0", "url": "/",
    }


@dataclass
class Probe:
    endpoint: str
    method: str
    path: str
    kind: str
    form: dict | None
    action: str | None = None


def actions_of(app, endpoint):
    """The @action names of a Flask-Admin view, or the bulk buttons (全部…) of its /all/<action>."""
    view_name, _, view_endpoint = endpoint.partition(".")
    for console in app.extensions["consoles"].values():
        for view in console._views:
            if view.endpoint != view_name:
                continue
            if view_endpoint == "act_on_all":
                return [button[0] for button in getattr(view, "bulk_buttons", ())]
            if view_endpoint == "action_view":
                return [name for name, _ in getattr(view, "_actions", ())] or [None]
    return [None]


def probes_of(app, world, current_qr_token):
    """Every cell of the matrix, in probing order (owners last on each endpoint)."""
    ids = world.ids
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint)):
        console_name = console_of(rule)
        owners = OWNERS.get(console_name, set())
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            actions = [None]
            if rule.endpoint.endswith((".act_on_all", ".action_view")):
                actions = actions_of(app, rule.endpoint)
            for action in actions:
                for kind in ALL_KINDS:
                    url_action = action if "action" in rule.arguments else None
                    path = rule.build(url_values(rule, ids, current_qr_token, url_action), append_unknown=False)[1]
                    owner = kind in owners
                    query = {} if owner and method == "POST" else query_of(rule, ids)
                    if rule.endpoint.endswith(".act_on_all") and owner:
                        query = {"search": "没有这个人"}
                    if query and not rule.rule.startswith(("/static", "/api")):
                        path += "?" + "&".join(f"{k}={v}" for k, v in query.items())
                    form = None
                    if method == "POST":
                        form = {} if owner else hostile_form(ids, world.a_people)
                        if action and "action" not in rule.arguments:
                            form = {**form, "action": action}
                    yield Probe(rule.endpoint, method, path, kind, form, action)


# ---------------------------------------------------------------- reading an answer

def outcome_of(response):
    status = response.status_code
    if status >= 500:
        return f"{status}"
    location = response.headers.get("Location", "")
    if status in (301, 302, 303, 307, 308) and ("/login/" in location or "next=" in location):
        return LOGIN
    if status in (401, 403, 404, 405):
        return str(status)
    return OK


def body_text(response):
    if response.mimetype == "text/event-stream":
        first = next(iter(response.response), b"")
        response.close()
        return first.decode(errors="replace") if isinstance(first, bytes) else str(first)
    data = response.get_data()
    response.close()
    if data[:2] == b"PK":
        book = load_workbook(io.BytesIO(data), read_only=True)
        text = "\n".join(str(cell) for sheet in book.worksheets for row in sheet.iter_rows(values_only=True)
                         for cell in row if cell is not None)
        book.close()
        return text
    return data.decode("utf-8", errors="replace") + response.headers.get("Location", "")


REQUIRED_HEADERS = ("Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options", "Referrer-Policy")
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)([^>]*)>", re.I)
INLINE_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)
STYLE_ATTRIBUTE = re.compile(r"<[^>]+\sstyle\s*=", re.I)
# Flask-Admin's templates keep href="javascript:void(0)" on menu toggles, tabs and disabled page links:
# static/js/admin_csp.js cancels a click on them, so the browser never runs one. Anything else is code.
SCRIPT_URL = re.compile(r"(href|src|action)\s*=\s*[\"']\s*javascript:(?!void\(0\)[\"'])", re.I)


def page_problems(response, text):
    """What the Content-Security-Policy would block on this page, and missing security headers."""
    problems = [f"no {name}" for name in REQUIRED_HEADERS if name not in response.headers]
    if response.mimetype != "text/html":
        return problems
    nonce = re.search(r"'nonce-([^']+)'", response.headers.get("Content-Security-Policy", ""))
    for attributes in INLINE_SCRIPT.findall(text):
        if not nonce or f'nonce="{nonce.group(1)}"' not in attributes:
            problems.append(f"inline <script{attributes}> without this response's nonce")
    for pattern, what in ((INLINE_HANDLER, "inline event handler"), (STYLE_ATTRIBUTE, "style= attribute"),
                          (SCRIPT_URL, "javascript: URL")):
        found = pattern.search(text)
        if found:
            problems.append(f"{what}: {found.group(0)[:80]}")
    return problems


def matches(expected, got):
    if expected == HIDDEN:
        return got in (OK, DENY, NOT_FOUND)
    return expected == got


# ---------------------------------------------------------------- the tests

def expected_cells(endpoint, method):
    cells = EXPECTED.get(endpoint, {})
    return cells.get(method, {}) if set(cells) <= {"GET", "POST"} else cells


def test_every_endpoint_has_an_expectation(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    missing = sorted(endpoints - set(EXPECTED))
    stale = sorted(set(EXPECTED) - endpoints)
    assert not missing, f"endpoints without an expected outcome per user: {missing}"
    assert not stale, f"expectations of endpoints that no longer exist: {stale}"
    for rule in app.url_map.iter_rules():
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert set(expected_cells(rule.endpoint, method)) == set(ALL_KINDS), (rule.endpoint, method)


# Flask-Admin 2.2's QuerySelectField (the station of a new reader token) warns under WTForms 3.3.
@pytest.mark.filterwarnings("ignore:Yielding raw tuples:DeprecationWarning")
def test_authorization_matrix(app, db, world, clients, login):
    """Probe every cell; collect every difference and fail with the list."""
    from models.org import Enterprise

    def current_qr_token():
        token = db.session.get(Enterprise, world.ids["ent_a"]).qr_token
        db.session.rollback()
        return token

    probes = list(probes_of(app, world, current_qr_token))
    failures, cells, foreign_probes, pages = [], 0, 0, 0
    # The state after a probe that changed nothing is the state before the next one: taken
    # again only when something may have changed since (an allowed probe, a login, a change).
    known = {}  # scope ("world" or "all") -> snapshot of the database as it is now
    for probe in probes:
        expected = expected_cells(probe.endpoint, probe.method).get(probe.kind, "missing expectation")
        scope = "world" if expected == HIDDEN else "all" if expected != OK else None
        before = None
        if scope is not None:
            before = known.get(scope) or snapshot(db, world if scope == "world" else None)
        known.clear()  # the probe may change what is outside its scope, or anything if allowed
        client = clients[probe.kind]
        cells += 1
        where = f"{probe.method} {probe.path} [{probe.endpoint}{' ' + probe.action if probe.action else ''}] " \
                f"as {probe.kind}"
        try:
            if probe.method == "GET":
                response = client.get(probe.path)
            else:
                response = client.post(probe.path, data=probe.form)
        except Exception as error:  # noqa: BLE001 - a 500 in production (TESTING re-raises): listed
            db.session.rollback()
            failures.append(f"{where}: raised {type(error).__name__}: {error}")
            continue
        got = outcome_of(response)
        text = body_text(response)
        relogged = probe.endpoint == "auth.logout" and probe.kind != ANON
        if relogged:
            login(world.users[probe.kind], test_client=client)
        if not matches(expected, got):
            failures.append(f"{where}: expected {expected}, got {got} ({response.status_code})")
        failures += [f"{where}: {problem}" for problem in page_problems(response, text)]
        pages += response.mimetype == "text/html"
        if probe.kind not in MAY_SEE_A:
            foreign_probes += 1
            leaked = [secret for secret in world.secrets if secret in text]
            if leaked:
                failures.append(f"{where}: shows A's people: {leaked[:3]}")
        if before is not None:
            after = snapshot(db, world if scope == "world" else None)
            changed = [table for table in before if before[table] != after[table]]
            if relogged:
                # Logging out ends the account's sessions (its session version) and the
                # probe logs in again: both write the account's own row, nothing else.
                changed = [table for table in changed if table != "user"]
            if changed:
                failures.append(f"{where}: changed {changed} although {expected}")
            elif not relogged:
                known[scope] = after
    combinations = len({(p.endpoint, p.method, p.action) for p in probes})
    report = f"authorization matrix: {combinations} rule×method×action combinations × {len(ALL_KINDS)} kinds " \
             f"of user = {cells} cells, {foreign_probes} answers searched for A's people, " \
             f"{pages} HTML pages checked for what the CSP would block"
    print(report)
    assert not failures, report + "\n" + "\n".join(failures)
    assert cells > 1500


@pytest.mark.parametrize("kind", [ENT_B, DEPT_Y, STATION_T])
def test_foreign_users_cannot_reach_a_single_person_of_a_by_guessed_ids(world, clients, kind, db):
    """Every path that names one person, for each of A's people in every status."""
    client = clients[kind]
    paths = []
    for pid, _ in world.a_people:
        paths += [f"/enterprise/enterprise_persons/person/{pid}/edit",
                  f"/enterprise/enterprise_persons/details/?id={pid}",
                  f"/review/review_persons/details/?id={pid}", f"/station/station_persons/details/?id={pid}",
                  f"/station/queue/{pid}/", f"/station/queue/{pid}/signature.png"]
    before = snapshot(db)
    for path in paths:
        response = client.get(path)
        assert response.status_code in (302, 403, 404), path
        text = body_text(response)
        assert not [s for s in world.secrets if s in text], path
    assert snapshot(db) == before


def test_matrix_outcome_reader_distinguishes_login_from_other_redirects():
    class Fake:
        def __init__(self, status, location=""):
            self.status_code, self.headers = status, {"Location": location}

    assert outcome_of(Fake(302, "/login/center?next=/center/")) == LOGIN
    assert outcome_of(Fake(302, "/center/review/")) == OK
    assert outcome_of(Fake(403)) == DENY and outcome_of(Fake(500)) == "500"
    assert matches(HIDDEN, NOT_FOUND) and not matches(HIDDEN, LOGIN) and not matches(HIDDEN, "500")
