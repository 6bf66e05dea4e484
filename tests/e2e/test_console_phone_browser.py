"""The consoles on a 375-pixel phone: the list comes first, the tree folds away, each row is a card."""


import pytest
from playwright.sync_api import expect

from tests.e2e.pages import log_in

PHONE = {"width": 375, "height": 812}


@pytest.fixture
def district(make_territory, make_department, make_enterprise, make_persons, make_user, db):
    xinhe = make_territory("新河街道")
    port = make_department("天津港集团公司")
    tug = make_enterprise("天津港轮驳有限公司", department=port, territory=xinhe)
    make_persons(tug, 3, status="dept_approved", name="轮驳员工")
    make_persons(tug, 2, status="registered", name="新填员工")
    make_user("center", username="center-phone")
    make_user("enterprise", tug, username="tug-phone")
    db.session.commit()


def test_center_review_on_a_phone_shows_the_people_first_as_cards(phone_page, district, screenshot):
    page = phone_page
    log_in(page, "center", "center-phone")
    page.goto("/center/review/")
    screenshot(page, "center-review-375")
    rows = page.locator("table.model-list tbody tr")
    expect(rows).to_have_count(3)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # nothing sideways
    assert rows.first.bounding_box()["y"] < PHONE["height"]  # the first person within the first screen
    card = rows.first
    expect(card.locator("td.col-name")).to_contain_text("轮驳员工")
    # each value says which column it is (its label is drawn before it)
    expect(card.locator("td[data-label='身份证号']")).to_contain_text("120116")
    expect(card.locator("td[data-label='状态']")).to_be_visible()
    expect(card.locator("td.col-gender")).to_be_hidden()  # not essential on a phone
    tree = page.get_by_role("link", name="天津港集团公司", exact=True)
    expect(tree).to_be_hidden()  # folded away until asked for
    page.get_by_role("button", name="按审核部门筛选").click()
    expect(tree).to_be_visible()
    page.set_viewport_size({"width": 1366, "height": 900})
    expect(page.get_by_role("button", name="按审核部门筛选")).to_be_hidden()
    screenshot(page, "center-review-1366")
    page.wait_for_load_state()


def test_the_enterprise_list_on_a_phone_is_cards_without_empty_lines(phone_page, district, screenshot):
    page = phone_page
    log_in(page, "enterprise", "tug-phone")
    page.goto("/enterprise/enterprise_persons/")
    screenshot(page, "enterprise-list-375")
    rows = page.locator("table.model-list tbody tr")
    expect(rows).to_have_count(2)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    card = rows.first
    expect(card.locator("td.col-name")).to_contain_text("新填员工")
    expect(card.locator("td[data-label='退回原因']")).to_be_hidden()  # nothing to say: no line
    page.wait_for_load_state()


def test_the_review_list_on_a_phone_starts_within_the_first_screen(phone_page, db, make_department, make_enterprise,
                                                                   make_persons, make_user, screenshot):
    department = make_department("区交通运输局")
    for number in range(15):  # a department with many enterprises: their panel sits above the list
        make_persons(make_enterprise(f"滨海第{number + 1}运输有限公司", department=department), 1,
                     status="submitted", name=f"司机{number + 1}")
    make_user("review", department, username="jtj-phone")
    db.session.commit()
    page = phone_page
    log_in(page, "review", "jtj-phone")
    page.goto("/review/review_persons/")
    screenshot(page, "review-list-375")
    rows = page.locator("table.model-list tbody tr")
    expect(rows).to_have_count(15)
    assert rows.first.bounding_box()["y"] < PHONE["height"]
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.wait_for_load_state()
