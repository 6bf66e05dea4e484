"""The portal and a console in a real browser."""

from playwright.sync_api import expect

from tests.conftest import TEST_PASSWORD


def test_portal_shows_four_entries_and_the_registration_qr(page, base_url, screenshot):
    page.goto(base_url + "/")
    for entry in ("企业端", "审核部门端", "防控中心端", "接种站端"):
        expect(page.get_by_role("link", name=entry)).to_be_visible()
    qr = page.get_by_role("img", name="企业注册二维码")
    expect(qr).to_be_visible()
    assert page.evaluate("img => img.naturalWidth", qr.element_handle()) > 100
    screenshot(page, "portal-desktop")


def test_wrong_password_then_login_lands_in_the_center_console(page, base_url, make_user, db, browser_login,
                                                               screenshot):
    make_user("center", username="center-e2e")
    db.session.commit()
    browser_login(page, "center", "center-e2e", "wrong-password1")
    expect(page.get_by_role("alert")).to_contain_text("账号或密码错误")
    browser_login(page, "center", "center-e2e", TEST_PASSWORD)
    for figure in ("企业数", "申报人数", "提交审核", "分配人数", "预约人数", "接种站登记", "完成接种"):
        expect(page.get_by_text(figure, exact=True).first).to_be_visible()
    screenshot(page, "center-home-desktop")
