"""Long operations show that they are running, and then say what they did."""

import json

from openpyxl import load_workbook
from playwright.sync_api import expect

from tests.conftest import TEST_PASSWORD, make_id_number

# Runs in every page: when a form is submitted, report (once the page's own handlers, deferred
# ones included, have run) the state of its submit buttons as the user now sees them.
REPORT_SUBMIT_STATE = """
document.addEventListener("submit", function (event) {
  var form = event.target;
  function report() {
    var buttons = Array.from(form.querySelectorAll("button[type=submit]"))
      .map(function (b) { return [b.textContent.trim(), b.disabled]; });
    console.log("submit-state " + JSON.stringify({sent: !event.defaultPrevented, buttons: buttons}));
  }
  window.setTimeout(function () { window.setTimeout(report, 0); }, 0);  // after the page's own timers
});
"""


def submit_and_watch(page, click):
    """Click (a button that posts) and return what its form looked like while the answer was on its way.

    The posted request is held until the page has reported, so the busy state is seen for certain.
    """
    page.add_init_script(REPORT_SUBMIT_STATE)
    page.reload()
    page.wait_for_load_state()
    held = []

    def hold(route):
        if route.request.method == "POST":
            held.append(route)
        else:
            route.continue_()
    page.route("**/*", hold)
    with page.expect_console_message(lambda message: message.text.startswith("submit-state ")) as report:
        click()
    for _ in range(100):  # let Playwright hand the held request over (it may come after the report)
        if held:
            break
        page.wait_for_timeout(20)
    assert len(held) == 1, "the form went exactly once"
    held[0].continue_()
    page.unroute("**/*", hold)
    return json.loads(report.value.text.split(" ", 1)[1])


def test_import_shows_a_busy_button_then_the_result(page, base_url, browser_login, make_enterprise, make_user, db,
                                                    tmp_path):
    enterprise = make_enterprise("天津滨海万通物流有限公司")
    make_user("enterprise", enterprise, username="wantong")
    db.session.commit()
    browser_login(page, "enterprise", "wantong", TEST_PASSWORD)
    page.wait_for_url(f"{base_url}/enterprise/")
    page.wait_for_load_state()
    page.goto(f"{base_url}/enterprise/import/")
    with page.expect_download() as template_info:
        page.get_by_role("link", name="下载导入模板").first.click()
    template = tmp_path / "template.xlsx"
    template_info.value.save_as(template)
    workbook = load_workbook(template)
    sheet = workbook["人员信息"]
    for row, name in enumerate(("孙立", "周敏", "吴刚"), start=2):
        for column, value in enumerate((name, "", make_id_number(), "", f"1391234560{row}", "企业职工", "是",
                                        "新河街道·华润橡树湾", ""), start=1):
            sheet.cell(row=row, column=column, value=value)
    workbook.save(template)
    workbook.close()

    def upload():
        page.get_by_label("选择 Excel 文件").set_input_files(str(template))
        page.get_by_role("button", name="上传并导入").click(no_wait_after=True)
    # While the file is on its way the button says so and cannot send it twice.
    assert submit_and_watch(page, upload) == {"sent": True, "buttons": [["处理中…", True]]}
    expect(page.get_by_role("heading", name="导入结果")).to_be_visible()
    expect(page.get_by_text("成功导入 3 人")).to_be_visible()
    page.wait_for_load_state()


def test_approve_all_shows_a_busy_button_then_how_many_were_processed(page, base_url, browser_login, db,
                                                                       make_department, make_enterprise,
                                                                       make_persons, make_user):
    department = make_department("区商务局")
    make_persons(make_enterprise(department=department), 3, status="submitted")
    make_user("review", department, username="sw-busy")
    db.session.commit()
    browser_login(page, "review", "sw-busy", TEST_PASSWORD)
    page.wait_for_url(f"{base_url}/review/")
    page.wait_for_load_state()
    page.goto(f"{base_url}/review/review_persons/")
    page.once("dialog", lambda dialog: dialog.accept())
    state = submit_and_watch(page, lambda: page.get_by_role("button", name="全部审核").click(no_wait_after=True))
    assert state == {"sent": True, "buttons": [["处理中…", True]]}
    expect(page.get_by_text("已处理 3 人，跳过 0 人")).to_be_visible()
    page.wait_for_load_state()


def test_allocation_and_booking_show_busy_buttons_and_keep_what_the_button_says(
        page, base_url, browser_login, db, make_enterprise, make_station, make_slot, make_persons, make_user):
    enterprise = make_enterprise("天津滨海万通物流有限公司")
    station = make_station("新河街社区卫生服务中心接种点")
    make_slot(station, capacity=10)
    make_persons(enterprise, 3, status="center_approved")
    make_user("center", username="center-busy")
    db.session.commit()
    browser_login(page, "center", "center-busy", TEST_PASSWORD)
    page.wait_for_url(f"{base_url}/center/")
    page.wait_for_load_state()
    page.goto(f"{base_url}/center/allocation/")
    page.get_by_role("button", name="全部分配").click()
    expect(page.get_by_role("heading", name="请选择接种站")).to_be_visible()
    state = submit_and_watch(page, lambda: page.get_by_role("button", name="确认").click(no_wait_after=True))
    assert state == {"sent": True, "buttons": [["处理中…", True]]}
    expect(page.get_by_text("已处理 3 人，跳过 0 人")).to_be_visible()
    page.wait_for_load_state()

    # 按当前列表预约 posts scope=all through its own name=value: the busy state must not lose it.
    page.goto(f"{base_url}/center/appointments/?station={station.id}")
    page.once("dialog", lambda dialog: dialog.accept())
    state = submit_and_watch(
        page, lambda: page.get_by_role("button", name="按当前列表预约（3 人）").click(no_wait_after=True))
    assert state["sent"] and ["处理中…", True] in state["buttons"]
    expect(page.get_by_text("已预约 3 人")).to_be_visible()
    page.wait_for_load_state()


def test_export_says_it_is_working_until_the_file_arrives_then_names_it(page, base_url, browser_login, db,
                                                                        make_enterprise, make_persons, make_user,
                                                                        tmp_path):
    enterprise = make_enterprise("天津滨海万通物流有限公司")
    make_persons(enterprise, 3, status="registered", name="万通员工")
    make_user("enterprise", enterprise, username="wantong-export")
    db.session.commit()
    browser_login(page, "enterprise", "wantong-export", TEST_PASSWORD)
    page.wait_for_url(f"{base_url}/enterprise/")
    page.wait_for_load_state()
    page.goto(f"{base_url}/enterprise/enterprise_persons/")
    held = []
    page.route("**/enterprise/enterprise_persons/export*", lambda route: held.append(route))  # "being built"
    link = page.get_by_role("link", name="导出本页签")
    link.click()
    busy = page.get_by_role("link", name="正在导出…")
    expect(busy).to_have_attribute("aria-busy", "true")
    busy.click(force=True)  # a second click while busy asks for nothing more
    assert len(held) == 1
    with page.expect_download() as download_info:
        held[0].continue_()
    saved = tmp_path / "export.xlsx"
    download_info.value.save_as(saved)
    assert download_info.value.suggested_filename.startswith("天津滨海万通物流有限公司-人员清单-未提交-")
    assert saved.read_bytes()[:2] == b"PK"
    expect(page.get_by_role("status")).to_contain_text("已导出：天津滨海万通物流有限公司-人员清单-未提交-")
    expect(page.get_by_role("link", name="导出本页签")).not_to_have_attribute("aria-busy", "true")
    assert len(held) == 1
