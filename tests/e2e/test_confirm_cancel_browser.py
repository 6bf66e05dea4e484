"""全部… asks first: answering 取消 to the confirmation leaves every record as it was.

The manual: 点击“全部审核”，跳出弹窗“是否确认全部提交审核”；点击“确定”，完成全部人员统一审核；
点击“取消”，全部审核操作取消。The same holds for 全部审核 at the review department and
全部提交 at the enterprise.
"""

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from models import AuditEvent, Person
from tests.conftest import TEST_PASSWORD

CONSOLES = {
    # role: (list page, status of the people listed, button, question, status after 确定)
    "center": ("/center/review/", "dept_approved", "全部审核", "是否确认全部提交审核（共 4 人）", "center_approved"),
    "review": ("/review/review_persons/", "submitted", "全部审核", "是否确认全部审核？（共 4 人）", "dept_approved"),
    "enterprise": ("/enterprise/enterprise_persons/", "registered", "全部提交", "是否确认全部提交？（共 4 人）",
                   "submitted"),
}


def snapshot(db):
    """Every person's status and version, and how many audit events there are."""
    db.session.rollback()
    people = db.session.execute(select(Person.id, Person.status, Person.version).order_by(Person.id)).all()
    events = db.session.execute(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action.not_in(("login", "login_failed")))).scalar_one()
    return [tuple(row) for row in people], events


@pytest.mark.parametrize("role", list(CONSOLES))
def test_cancel_in_the_confirmation_changes_nothing_and_ok_does(role, page, base_url, browser_login, db,
                                                                 make_department, make_enterprise, make_persons,
                                                                 make_user, screenshot):
    path, status, button_label, question, approved = CONSOLES[role]
    department = make_department("区商务局")
    enterprise = make_enterprise("天津滨海商贸有限公司", department=department)
    make_persons(enterprise, 4, status=status, name="商贸员工")
    unit = {"center": None, "review": department, "enterprise": enterprise}[role]
    make_user(role, unit, username=f"{role}-confirm")
    db.session.commit()
    before = snapshot(db)

    browser_login(page, role, f"{role}-confirm", TEST_PASSWORD)
    page.wait_for_url(f"{base_url}/{role}/")
    page.wait_for_load_state()
    page.goto(base_url + path)
    expect(page.locator("tbody tr")).to_have_count(4)
    button = page.get_by_role("button", name=button_label)

    questions = []
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.dismiss()))
    button.click()
    assert questions == [question]
    # Nothing was posted: the button is as it was, no result message, every record unchanged.
    expect(button).to_be_enabled()
    expect(button).to_have_text(button_label)
    expect(page.get_by_text("已处理")).to_have_count(0)
    assert snapshot(db) == before
    screenshot(page, f"confirm-cancelled-{role}")

    # 确定 does what 取消 did not.
    page.once("dialog", lambda dialog: dialog.accept())
    button.click()
    expect(page.get_by_text("已处理 4 人，跳过 0 人")).to_be_visible()
    page.wait_for_load_state()
    people, _ = snapshot(db)
    assert {row[1] for row in people} == {approved}


@pytest.mark.parametrize("role", ["review", "center"])
def test_a_click_before_the_page_can_ask_posts_nothing(role, page, base_url, browser_login, db, make_department,
                                                       make_enterprise, make_persons, make_user):
    """The page's scripts arrive late (a slow line): 全部… pressed meanwhile does nothing, then asks."""
    path, status, button_label, question, _ = CONSOLES[role]
    department = make_department("区商务局")
    enterprise = make_enterprise("天津滨海商贸有限公司", department=department)
    make_persons(enterprise, 4, status=status, name="商贸员工")
    make_user(role, None if role == "center" else department, username=f"{role}-early")
    db.session.commit()
    before = snapshot(db)
    browser_login(page, role, f"{role}-early", TEST_PASSWORD)
    page.wait_for_url(f"{base_url}/{role}/")
    page.wait_for_load_state()

    held = []
    page.route("**/static/js/*.js", lambda route: held.append(route))
    questions = []
    page.on("dialog", lambda dialog: (questions.append(dialog.message), dialog.dismiss()))
    page.goto(base_url + path, wait_until="commit")
    button = page.get_by_role("button", name=button_label)
    button.wait_for(state="visible")
    # The scenario is scripts that arrive late; the stylesheet that holds the button until they have
    # run has arrived (on a loaded machine it can come after the button is laid out).
    page.wait_for_function(
        "b => getComputedStyle(b).pointerEvents === 'none'", arg=button.element_handle())
    box = button.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)  # no waiting for the page
    page.wait_for_timeout(500)
    assert questions == [] and snapshot(db) == before and page.url == base_url + path

    for route in held:
        route.continue_()
    page.unroute("**/static/js/*.js")
    expect(page.locator("html")).to_have_class(re.compile("scripts-ready"))
    button.click()
    assert questions == [question] and snapshot(db) == before
