"""Long operations show that they are running, and then say what they did."""

import json

from openpyxl import load_workbook
from playwright.sync_api import expect

from tests.conftest import TEST_PASSWORD, make_id_number

# Runs in every page: when a form is submitted (after the page's own handlers), report the
# state of its submit buttons as the user now sees them, until the next page arrives.
REPORT_SUBMIT_STATE = """
document.addEventListener("submit", function (event) {
  var buttons = Array.from(event.target.querySelectorAll("button[type=submit]"))
    .map(function (b) { return [b.textContent.trim(), b.disabled]; });
  console.log("submit-state " + JSON.stringify({sent: !event.defaultPrevented, buttons: buttons}));
});
"""


def watch_submits(page):
    """Return the list that receives {sent, buttons} for each form submitted on `page`."""
    states = []
    page.add_init_script(REPORT_SUBMIT_STATE)

    def on_console(message):
        if message.text.startswith("submit-state "):
            states.append(json.loads(message.text.split(" ", 1)[1]))
    page.on("console", on_console)
    return states


def test_import_shows_a_busy_button_then_the_result(page, base_url, browser_login, make_enterprise, make_user, db,
                                                    tmp_path):
    enterprise = make_enterprise("天津滨海万通物流有限公司")
    make_user("enterprise", enterprise, username="wantong")
    db.session.commit()
    browser_login(page, "enterprise", "wantong", TEST_PASSWORD)
    page.wait_for_url(f"{base_url}/enterprise/")
    page.wait_for_load_state()
    submits = watch_submits(page)
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

    page.get_by_label("选择 Excel 文件").set_input_files(str(template))
    page.get_by_role("button", name="上传并导入").click()
    expect(page.get_by_role("heading", name="导入结果")).to_be_visible()
    expect(page.get_by_text("成功导入 3 人")).to_be_visible()
    page.wait_for_load_state()
    # While the file was on its way the button said so and could not send it twice.
    assert submits == [{"sent": True, "buttons": [["处理中…", True]]}]


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
    submits = watch_submits(page)
    page.goto(f"{base_url}/review/review_persons/")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="全部审核").click()
    expect(page.get_by_text("已处理 3 人，跳过 0 人")).to_be_visible()
    page.wait_for_load_state()
    assert submits == [{"sent": True, "buttons": [["处理中…", True]]}]


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
    link = page.get_by_role("link", name="导出全部")
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
    expect(page.get_by_role("link", name="导出全部")).not_to_have_attribute("aria-busy", "true")
    assert len(held) == 1
