"""CSRF: every state-changing endpoint (every POST rule of the URL map but the bearer-token API)
refuses a request without a valid token and changes nothing, also for the user who may act there.
"""

import re

import pytest

from app import create_app
from extensions import db as _db
from tests.conftest import TEST_PASSWORD
from tests.security_world import ANON, id_number, snapshot
from tests.test_security_authz import OWNERS, console_of, hostile_form, url_values

TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')
# Bearer-token API: no session, no cookie, so no CSRF (api/__init__.py exempts it).
EXEMPT_PREFIXES = ("api.",)


@pytest.fixture
def csrf_app(database_url):
    application = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url, "WTF_CSRF_ENABLED": True,
                              "RATELIMIT_ENABLED": False, "SECRET_KEY": "csrf-test-secret-key"})
    yield application
    with application.app_context():
        _db.engine.dispose()


def page_token(client, path):
    match = TOKEN.search(client.get(path).get_data(as_text=True))
    assert match, f"no CSRF token on {path}"
    return match.group(1) or match.group(2)


def logged_in(csrf_app, user):
    client = csrf_app.test_client()
    token = page_token(client, f"/login/{user.role}")
    response = client.post(f"/login/{user.role}", data={"csrf_token": token, "username": user.username,
                                                       "password": TEST_PASSWORD})
    assert response.status_code == 302, "login with the page's token must work"
    return client, token


def post_rules(application):
    return sorted((rule for rule in application.url_map.iter_rules()
                   if "POST" in rule.methods and not rule.endpoint.startswith(EXEMPT_PREFIXES)),
                  key=lambda rule: rule.rule)


def test_every_post_without_a_valid_token_is_refused_and_changes_nothing(csrf_app, world, db):
    clients = {ANON: (csrf_app.test_client(), None)}
    for kind, user in world.users.items():
        clients[kind] = logged_in(csrf_app, user)
    rules = post_rules(csrf_app)
    refused = 0
    failures = []
    for rule in rules:
        console = console_of(rule)
        # The user who may act there: the owner of the console's rows, or anonymous on public pages.
        kinds = sorted(OWNERS[console]) if console else [ANON]
        for kind in kinds:
            client, _ = clients[kind]
            path = rule.build(url_values(rule, world.ids, lambda: world.ids["qr_token_a"], action="submit"),
                              append_unknown=False)[1]
            form = hostile_form(world.ids, world.a_people)
            for variant, data in (("no token", form), ("forged token", {**form, "csrf_token": "forged.token"})):
                before = snapshot(db)
                response = client.post(path, data=data)
                after = snapshot(db)
                if response.status_code != 400 or "页面已过期" not in response.get_data(as_text=True):
                    failures.append(f"POST {path} as {kind} ({variant}): {response.status_code}")
                changed = [table for table in before if before[table] != after[table]]
                if changed:
                    failures.append(f"POST {path} as {kind} ({variant}) changed {changed}")
                refused += 1
    print(f"CSRF: {len(rules)} POST rules, {refused} requests without a valid token refused")
    assert not failures, "\n".join(failures)
    assert len(rules) > 80


def test_a_token_of_another_session_is_refused(csrf_app, world, db):
    from tests.security_world import ENT_A, ENT_B

    client_a, _ = logged_in(csrf_app, world.users[ENT_A])
    _, token_b = logged_in(csrf_app, world.users[ENT_B])
    before = snapshot(db)
    response = client_a.post("/enterprise/enterprise_persons/all/submit", data={"csrf_token": token_b})
    assert response.status_code == 400
    assert snapshot(db) == before


def test_logout_needs_the_token_too(csrf_app, world):
    from tests.security_world import CENTER

    client, token = logged_in(csrf_app, world.users[CENTER])
    assert client.post("/logout").status_code == 400
    assert client.get("/center/").status_code == 200, "still logged in after a forged logout"
    assert client.post("/logout", data={"csrf_token": page_token(client, "/center/")}).status_code == 302
    assert client.get("/center/").status_code == 302


def test_the_reader_api_needs_no_csrf_token_but_a_bearer_token(csrf_app, world):
    client = csrf_app.test_client()
    response = client.post("/api/v1/card-reads", json={"read_id": "11111111-2222-4333-8444-555555555555",
                                                        "id_number": id_number("120105", 3)},
                           headers={"Authorization": f"Bearer {world.reader_token}"})
    assert response.status_code == 201, response.get_data(as_text=True)
    assert client.post("/api/v1/card-reads", json={}).status_code == 401
