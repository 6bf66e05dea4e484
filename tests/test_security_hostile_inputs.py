"""Hostile values in every parameter of every rule of the URL map: never a 5xx, never a change.

The rules and the logged-in users come from the authorization matrix (tests/test_security_authz.py):
each rule is probed by the user who may use it (the owner of its console, anonymous for the
public pages, the reader token for the API). The parameters of a rule are
  - its path arguments,
  - the query arguments its own page declares (links back to the same page, GET forms) and the
    list arguments every console reads (page, search, sort, a filter),
  - the fields of the forms that post to it (read from the pages of the whole map), or a few
    generic ids when no page declares one.
Each parameter gets each class of bad value in a request of its own, the other parameters left
out, so one refusal cannot hide another parameter's crash. A bad value must be answered (2xx,
3xx, 4xx) and change nothing: the database is compared per rule and method, as the matrix does.
"""

import re
import time
from collections import defaultdict
from urllib.parse import parse_qsl, quote, urlsplit

import pytest
from werkzeug.exceptions import HTTPException

from tests.security_world import ANON, snapshot
from tests.test_security_authz import OWNERS, console_of, url_values

BAD_VALUES = {
    "NUL": "12\x00",
    "control": "a\x1b[2J\x07b",
    "bidi": "\u202e1gpj.exe",
    "fullwidth digits": "１２３",
    "huge int": "9" * 40,
    "negative": "-5",
    "long string": "测" * 5000,
    "extreme date": "9999-12-31",
}
# Every console list reads these (Flask-Admin's paging, search, sort and filters, the trees' node).
LIST_ARGS = ("page", "page_size", "search", "sort", "desc", "flt0_0", "tab", "node", "id")
GENERIC_FORM = ("id", "rowid", "person_id", "reason")
SENTINEL = 918273645  # stands for the bad value while the URL is built (an <int:> takes no text)
NO_SUCH_ID = 2**31 - 9
STATIC_ARGS = {"filename", "export_type"}  # names of files: a bad value is a 404 by construction
STREAMS = {"station.stream"}  # held open: probed once per class with the body not read
LOGOUTS = {"auth.logout", "self_service.logout"}
# The gate refuses these everywhere: nothing may change. The other classes are ordinary text in a
# text field ("-5" is a valid station name), so a form that needs one field may take them.
REFUSED_CLASSES = ("NUL", "control", "bidi")
ACTS_ON_ONE_FIELD = {
    "admin_departments.create_view", "admin_option_aefi_symptoms.create_view",
    "admin_option_categories.create_view", "admin_option_reasons.create_view", "admin_stations.create_view",
    "admin_territories.create_view",  # a name is all a new row needs
    "enterprise_qr.rotate",  # rotates on any post
    "station_queue.defaults",  # clears the station's default product/lot when a field is empty
    # 下一位 (a POST only: a GET answers 405) claims the next waiting person, whatever its `after` says
    "station_queue.next_person",
}

FORM = re.compile(r"<form\b([^>]*)>(.*?)</form>", re.S | re.I)
FIELD = re.compile(r"<(?:input|select|textarea|button)\b[^>]*\bname=\"([^\"]+)\"", re.I)
ATTR = re.compile(r"\b(action|method)=\"([^\"]*)\"", re.I)
LINK = re.compile(r"href=\"([^\"]*\?[^\"]*)\"")


def prober_of(rule):
    owners = OWNERS.get(console_of(rule))
    return sorted(owners)[0] if owners else ANON


def declared_parameters(app, rules, clients, world, current_qr_token):
    """GET every page as its prober; return (query args per endpoint, form fields per endpoint)."""
    adapter = app.url_map.bind("localhost")
    query_args, form_fields = defaultdict(set), defaultdict(set)
    for rule in rules:
        if "GET" not in rule.methods or rule.endpoint in STREAMS | LOGOUTS or rule.arguments & STATIC_ARGS:
            continue
        path = rule.build(url_values(rule, world.ids, current_qr_token), append_unknown=False)[1]
        response = clients[prober_of(rule)].get(path)
        if response.mimetype != "text/html":
            response.close()
            continue
        html = response.get_data(as_text=True)
        for href in LINK.findall(html):
            target = _endpoint_of(adapter, href.replace("&amp;", "&"), "GET")
            if target:
                query_args[target] |= {name for name, _ in parse_qsl(urlsplit(href).query.replace("&amp;", "&"))}
        for attributes, body in FORM.findall(html):
            attrs = {k.lower(): v for k, v in ATTR.findall(attributes)}
            method = attrs.get("method", "get").upper()
            target = _endpoint_of(adapter, attrs.get("action") or path, method)
            if target:
                (form_fields if method == "POST" else query_args)[target] |= set(FIELD.findall(body))
    return query_args, form_fields


def _endpoint_of(adapter, url, method):
    try:
        return adapter.match(urlsplit(url.replace("&amp;", "&")).path, method=method)[0]
    except HTTPException:
        return None


def requests_of(rule, method, world, current_qr_token, query_args, form_fields):
    """Yield (parameter, class, path, query, form): one bad value in one parameter each."""
    base_values = url_values(rule, world.ids, current_qr_token, None)
    for name in sorted(rule.arguments - STATIC_ARGS - {"action"}):
        for label, bad in BAD_VALUES.items():
            values = {**base_values, name: SENTINEL}
            path = rule.build(values, append_unknown=False)[1].replace(str(SENTINEL), quote(bad, safe=""))
            yield f"<{name}>", label, path, {}, None
    if method == "POST":  # a valid id in the path would let an action that needs no field act
        base_values = {name: NO_SUCH_ID if isinstance(value, int) else value for name, value in base_values.items()}
    path = rule.build(base_values, append_unknown=False)[1]
    names = set(query_args.get(rule.endpoint, ())) | (set(LIST_ARGS) if method == "GET" else set())
    for name in sorted(names - {"csrf_token"}):
        for label, bad in BAD_VALUES.items():
            yield f"?{name}", label, path, {name: bad}, {} if method == "POST" else None
    if method == "POST":
        fields = set(form_fields.get(rule.endpoint, ())) - {"csrf_token"} or set(GENERIC_FORM)
        for name in sorted(fields):
            for label, bad in BAD_VALUES.items():
                yield name, label, path, {}, {name: bad}


def send(client, method, path, query, form, headers):
    if method == "GET":
        return client.get(path, query_string=query, headers=headers)
    return client.post(path, query_string=query, data=form, headers=headers)


def probe(client, method, path, query, form, headers, endpoint):
    """Send one request; return what went wrong (a 5xx or an exception), or None."""
    try:
        response = send(client, method, path, query, form, headers)
    except Exception as error:  # noqa: BLE001 - TESTING re-raises what production answers 500
        return f"raised {type(error).__name__}: {str(error)[:160]}"
    if endpoint not in STREAMS:
        response.get_data()
    response.close()
    return f"{response.status_code}" if response.status_code >= 500 else None


@pytest.mark.filterwarnings("ignore:Yielding raw tuples:DeprecationWarning")
def test_hostile_values_in_every_parameter_of_every_rule(app, db, world, clients, login):
    from models.org import Enterprise

    def current_qr_token():
        token = db.session.get(Enterprise, world.ids["ent_a"]).qr_token
        db.session.rollback()
        return token

    started = time.monotonic()
    rules = sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint))
    query_args, form_fields = declared_parameters(app, rules, clients, world, current_qr_token)
    failures, sent, endpoints, classes_tried = [], 0, set(), set()
    before = snapshot(db)
    for rule in rules:
        kind = prober_of(rule)
        headers = {"Authorization": f"Bearer {world.reader_token}"} if rule.rule.startswith("/api") else {}
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            client = clients[kind]
            planned = list(requests_of(rule, method, world, current_qr_token, query_args, form_fields))
            refused = [r for r in planned if r[1] in REFUSED_CLASSES]
            for phase in (refused, [r for r in planned if r[1] not in REFUSED_CLASSES]):
                for parameter, label, path, query, form in phase:
                    sent += 1
                    endpoints.add((rule.endpoint, method))
                    classes_tried.add((rule.endpoint, method, label))
                    where = f"{method} {path} {parameter}={label} [{rule.endpoint}] as {kind}"
                    failure = probe(client, method, path, query, form, headers, rule.endpoint)
                    if failure:
                        db.session.rollback()
                        failures.append(f"{where}: {failure}")
                    if rule.endpoint in LOGOUTS and kind != ANON:
                        login(world.users[kind], test_client=client)
                after = snapshot(db)
                changed = [t for t in before if before[t] != after[t]
                           and not (rule.endpoint in LOGOUTS and t == "user")]
                if changed and (phase is refused or rule.endpoint not in ACTS_ON_ONE_FIELD):
                    failures.append(f"{method} {rule.rule} [{rule.endpoint}]: changed {changed}"
                                    f"{' by a refused value' if phase is refused else ''}")
                before = after
    report = (f"hostile inputs: {len(endpoints)} rule×method endpoints × {len(BAD_VALUES)} classes "
              f"({len(classes_tried)} endpoint×class pairs), {sent} requests, {len(failures)} failures, "
              f"{time.monotonic() - started:.0f} s")
    print(report)
    assert not failures, report + "\n" + "\n".join(failures)
    assert len(endpoints) == sum(len(r.methods - {"HEAD", "OPTIONS"}) for r in rules)
