"""审核部门 人员审核 on a 1366-pixel office screen: every column fits, the row's buttons stay on one line."""


import pytest
from playwright.sync_api import expect

from models import Person
from tests.e2e.pages import log_in


@pytest.fixture
def department_desk(make_territory, make_department, make_enterprise, make_persons, make_user, db):
    port = make_department("天津港集团公司")
    firm = make_enterprise("天津港第二港埠有限公司（滨海新区临港经济区分公司）", department=port,
                           territory=make_territory("新港街道"))
    make_persons(firm, 3, status="submitted", name="欧阳思思", community="滨海新区新港街道港湾花园小区",
                 category="企业职工", remarks="需要复核")
    returned = make_persons(firm, 1, status="registered", name="司马长风")
    db.session.get(Person, returned[0]).return_reason = "身份证号与姓名不符，请核对后重新提交身份证复印件"
    make_user("review", port, username="port-review")
    db.session.commit()


def test_the_review_list_fits_a_1366_screen(page, department_desk, screenshot):
    page.set_viewport_size({"width": 1366, "height": 768})
    log_in(page, "review", "port-review")
    for tab, shown in (("pending", "欧阳思思"), ("returned", "司马长风")):
        page.goto(f"/review/review_persons/?tab={tab}")
        page.wait_for_load_state()
        screenshot(page, f"review-persons-{tab}-1366")
        table = page.locator("table.model-list")
        expect(table.locator("tbody tr").first).to_contain_text(shown)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        for header in ("状态", "退回原因", "提交时间"):
            box = table.locator("thead th", has_text=header).first.bounding_box()
            assert box and box["x"] + box["width"] <= 1366, f"{header} cut off: {box}"
        if tab != "pending":
            continue
        # The toolbar's last button (退回) stays on the toolbar's line, beside 全部审核.
        approve_all = page.get_by_role("button", name="全部审核").bounding_box()
        send_back = page.get_by_role("button", name="退回", exact=True).bounding_box()
        assert abs(send_back["y"] - approve_all["y"]) < 5, (approve_all, send_back)
