"""The public and employee pages checked by axe-core, a tool nobody here wrote: no serious or critical violation.

axe-core comes from the npm registry (package.json pins it; `make test` runs npm ci) and is injected
by the test, never served by the app. The context bypasses the Content-Security-Policy only so that
the injected script runs; the page's own scripts are the app's as always.
"""

from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.conftest import TEST_PASSWORD

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
SCREENS = ({"width": 1366, "height": 900}, {"width": 375, "height": 812})
HARMFUL = ("serious", "critical")


@pytest.fixture
def axe_page(browser, base_url):
    if not AXE.exists():
        pytest.fail(f"axe-core is not installed ({AXE}): run `make test`, or `npm ci` in the checkout")
    context = browser.new_context(locale="zh-CN", base_url=base_url, bypass_csp=True)
    context.set_default_timeout(10000)
    yield context.new_page()
    context.close()


def harmful_violations(page):
    """What axe-core finds serious or critical on the page as it is now, one line per element."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [f"{violation['id']} ({violation['impact']}): {violation['help']} — {node['target']} {node['html'][:120]}"
            for violation in result["violations"] if violation["impact"] in HARMFUL
            for node in violation["nodes"]]


def check_at_both_widths(page, name, screenshot):
    found = []
    for size in SCREENS:
        page.set_viewport_size(size)
        found += [f"{size['width']}px {line}" for line in harmful_violations(page)]
        screenshot(page, f"a11y-{name}-{size['width']}")
    assert not found, "\n".join(found)


@pytest.fixture
def company(db, make_enterprise):
    enterprise = make_enterprise("天津临港海通船务有限公司")
    db.session.commit()
    return enterprise


def test_the_portal_has_no_serious_accessibility_violation(axe_page, screenshot):
    axe_page.goto("/")
    check_at_both_widths(axe_page, "portal", screenshot)


def test_the_login_page_with_its_error_has_no_serious_accessibility_violation(axe_page, screenshot):
    axe_page.goto("/login/review")
    check_at_both_widths(axe_page, "login", screenshot)
    axe_page.get_by_role("button", name="登录").click()
    expect(axe_page.get_by_role("alert")).to_be_visible()
    check_at_both_widths(axe_page, "login-error", screenshot)


def test_registration_empty_and_refused_has_no_serious_accessibility_violation(axe_page, company, screenshot):
    axe_page.goto("/register")
    check_at_both_widths(axe_page, "register", screenshot)
    axe_page.get_by_role("button", name="立刻提交").click()
    expect(axe_page.get_by_role("alert")).to_contain_text("提交未成功")
    check_at_both_widths(axe_page, "register-errors", screenshot)


def test_the_employee_form_empty_and_refused_has_no_serious_accessibility_violation(axe_page, company, screenshot):
    axe_page.goto(f"/e/{company.qr_token}")
    check_at_both_widths(axe_page, "employee-form", screenshot)
    axe_page.get_by_role("button", name="立刻提交").click()
    expect(axe_page.get_by_role("alert")).to_contain_text("提交未成功")
    check_at_both_widths(axe_page, "employee-form-errors", screenshot)


def test_the_wrong_entry_notice_and_the_last_tries_warning_have_no_serious_accessibility_violation(
        axe_page, db, make_department, make_user, screenshot):
    make_user("review", make_department("区应急管理局"), username="yjj-axe")
    db.session.commit()
    axe_page.goto("/login/enterprise")
    axe_page.get_by_label("账号").fill("yjj-axe")
    axe_page.get_by_label("密码").fill(TEST_PASSWORD)
    axe_page.get_by_role("button", name="登录").click()
    expect(axe_page.get_by_role("alert")).to_contain_text("请从「审核部门端」入口登录")
    check_at_both_widths(axe_page, "login-wrong-entry", screenshot)

    axe_page.goto("/login/review")
    for _ in range(3):
        axe_page.get_by_label("账号").fill("yjj-axe")
        axe_page.get_by_label("密码").fill("not-the-password")
        axe_page.get_by_role("button", name="登录").click()
        axe_page.wait_for_load_state()
    expect(axe_page.get_by_role("alert")).to_contain_text("还可尝试")
    check_at_both_widths(axe_page, "login-last-tries", screenshot)
