"""The real Content-Security-Policy header in Chromium: no page of any console or of the public side breaks it.

Each role logs in and opens its console's home and every page of its menu (person lists, the
tree, allocation, appointments, desk, queue, progress, system pages), plus a person's detail
page; anonymous visitors open the portal, registration, the employee form, privacy and the
forgotten-password page. Every `securitypolicyviolation` event (recorded by an init script
into window.__cspViolations) and every console error about the Content Security Policy fails
the test, naming the page.
"""

import pytest

from tests.conftest import TEST_PASSWORD
from tests.security_world import ADMIN, CENTER, DEPT_X, ENT_A, STATION_S, build_world

RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (event) => {
  window.__cspViolations.push(`${event.violatedDirective} blocked=${event.blockedURI} `
                              + `at ${event.sourceFile}:${event.lineNumber} sample=${event.sample}`);
});
"""

CONSOLES = {ENT_A: "enterprise", DEPT_X: "review", CENTER: "center", STATION_S: "station", ADMIN: "admin"}


@pytest.fixture
def world(db, make_department, make_enterprise, make_station, make_slot, make_user):
    return build_world(db, make_department, make_enterprise, make_station, make_slot, make_user)


@pytest.fixture
def csp_page(browser, base_url):
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN", base_url=base_url)
    context.set_default_timeout(15000)
    context.add_init_script(RECORD_VIOLATIONS)
    page = context.new_page()
    page.console_errors = []
    page.on("console", lambda message: page.console_errors.append(message.text)
            if message.type == "error" and "Content Security Policy" in message.text else None)
    yield page
    context.close()


def visit(page, path, found):
    """Open `path`, wait for it to settle, and add its violations to `found`."""
    page.console_errors.clear()
    response = page.goto(path, wait_until="load")
    assert response is not None and response.status < 500, f"{path}: {response and response.status}"
    page.wait_for_timeout(150)  # violation events are queued tasks: let them run
    violations = page.evaluate("window.__cspViolations || []")
    found += [f"{path}: {text}" for text in violations + page.console_errors]


def menu_links(page, prefix):
    hrefs = page.eval_on_selector_all(".navbar a[href], nav a[href]", "links => links.map(a => a.getAttribute('href'))")
    wanted = []
    for href in hrefs:
        path = href.split("#")[0]
        if path.startswith(prefix) and path not in wanted and "logout" not in path:
            wanted.append(path)
    return wanted


@pytest.mark.parametrize("kind", list(CONSOLES))
def test_every_console_page_keeps_the_content_security_policy(csp_page, world, browser_login, base_url, kind):
    role = CONSOLES[kind]
    user = world.users[kind]
    browser_login(csp_page, role, user.username, TEST_PASSWORD)
    csp_page.wait_for_url(f"**/{role}/**")
    prefix = f"/{role}/"
    pages = [prefix] + menu_links(csp_page, prefix)
    assert len(pages) >= 3, pages  # the menu was found
    if role == "enterprise":
        pages.append(f"/enterprise/enterprise_persons/details/?id={world.ids['a_registered']}")
    if role == "review":
        pages.append(f"/review/review_persons/details/?id={world.ids['a_submitted']}")
    if role == "station":
        pages.append(f"/station/queue/{world.ids['a_checked_in']}/")
    pages.append("/change-password")
    found = []
    for path in pages:
        visit(csp_page, path, found)
    assert not found, "\n".join(found)


def test_public_pages_keep_the_content_security_policy(csp_page, world):
    found = []
    for path in ("/", "/register", f"/e/{world.ids['qr_token_a']}", f"/e/{world.ids['qr_token_a']}/poster",
                 "/privacy", "/forgot-password", "/login/enterprise", "/login/station"):
        visit(csp_page, path, found)
    # A refused employee form shows its error messages too.
    csp_page.goto(f"/e/{world.ids['qr_token_a']}")
    csp_page.get_by_role("button", name="提交").click()
    csp_page.wait_for_load_state()
    csp_page.wait_for_timeout(150)
    found += [f"refused form: {text}" for text in csp_page.evaluate("window.__cspViolations") + csp_page.console_errors]
    assert not found, "\n".join(found)
