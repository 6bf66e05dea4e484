"""企业端 批量导入: staff from an Excel sheet, as an alternative to the QR code.

Every row is checked with the same rules as the employee form (models/persons.py),
duplicates within the sheet and against the whole district are refused, valid rows become
未提交 records with one bulk INSERT, and the refused rows come back as a workbook of their
own with the reason in a last column. The import is one operation and one commit: the rows,
the workbook and the audit event are written together or not at all.
"""

import io
import re

from flask import abort, current_app, flash, redirect, request, send_file
from flask_admin import BaseView, expose
from flask_login import current_user

from admin_views.base import RoleAccessMixin
from extensions import db
from models import persons
from models.base import today
from models.options import PERSON_CATEGORY, option_labels
from models.user import ENTERPRISE
from public_forms.person_data import error_text
from services.spreadsheets import (
    LOST_DIGITS_MARK,
    XLSX_MIMETYPE,
    SpreadsheetError,
    read_rows,
    write_template,
    write_xlsx,
)

IMPORT_HEADERS = ("姓名", "性别", "身份证号", "年龄", "手机号", "人员类别", "是否住在滨海新区", "现居住小区", "备注")
REQUIRED_HEADERS = ("姓名", "身份证号", "手机号", "人员类别", "是否住在滨海新区", "现居住小区")
HEADER_MAP = {
    "姓名": "name", "性别": "gender", "身份证号": "id_number", "身份证号码": "id_number", "年龄": "age",
    "手机号": "phone", "手机号码": "phone", "人员类别": "category", "是否住在滨海新区": "lives_in_binhai",
    "现居住小区": "community", "备注": "remarks",
}
FIELD_OF_HEADER = {header: HEADER_MAP[header] for header in IMPORT_HEADERS}
TEMPLATE_NOTES = (
    "人员批量导入说明",
    "1. 在“人员信息”工作表中每行填写一名员工，第一行列名请勿修改；带 * 的列为必填。",
    "2. 身份证号为18位，最后一位可以是 X；该列已设为文本格式，请勿改成数字格式，否则 Excel 会丢失末几位。",
    "3. 性别、年龄可不填，系统按身份证号自动填写；填写了但与身份证号不符的行不会导入。",
    "4. 人员类别请从下拉列表中选择；是否住在滨海新区填“是”或“否”。",
    "5. 已在全区登记过的身份证号不会重复导入；表内重复的身份证号只导入第一行。",
    "6. 导入成功的人员进入“人员清单 → 未提交”，核对后再提交审核。未导入的行可下载清单，修改后重新上传。",
)


def import_max_rows():
    return current_app.config.get("IMPORT_MAX_ROWS", 10000)


class EnterpriseImportView(RoleAccessMixin, BaseView):
    role = ENTERPRISE

    def is_accessible(self):
        return super().is_accessible() and current_user.enterprise is not None

    @expose("/")
    def index(self):
        return self.render("enterprise/import.html", max_rows=import_max_rows())

    @expose("/template.xlsx")
    def template(self):
        categories = option_labels(PERSON_CATEGORY)
        choices = {"人员类别": categories, "是否住在滨海新区": ["是", "否"], "性别": ["男", "女"]}
        output = write_template(IMPORT_HEADERS, REQUIRED_HEADERS, TEMPLATE_NOTES, choices=choices,
                                text_headers=("身份证号", "手机号"))
        return send_file(output, mimetype=XLSX_MIMETYPE, as_attachment=True, download_name="人员批量导入模板.xlsx",
                         max_age=0)

    @expose("/upload", methods=("POST",))
    def upload(self):
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            flash("请选择要上传的 Excel 文件", "error")
            return redirect(self.get_url(".index"))
        if not upload.filename.lower().endswith(".xlsx"):
            flash("只支持 .xlsx 格式的 Excel 文件：请用下载的模板填写（旧版 .xls 请另存为 .xlsx）", "error")
            return redirect(self.get_url(".index"))
        try:
            rows = read_rows(upload.stream, HEADER_MAP, REQUIRED_HEADERS, import_max_rows())
        except SpreadsheetError as error:
            flash(str(error), "error")
            return redirect(self.get_url(".index"))
        if not rows:
            flash("表格中没有人员数据：请从第二行开始填写", "warning")
            return redirect(self.get_url(".index"))
        outcome = persons.import_people(current_user, rows, option_labels(PERSON_CATEGORY),
                                        rejects_workbook=rejects_workbook, lost_digits_mark=LOST_DIGITS_MARK)
        db.session.commit()
        shown = [(number, raw, error_text(errors)) for number, raw, errors in outcome.rejected[:200]]
        return self.render("enterprise/import_result.html", total=outcome.total, inserted=outcome.inserted,
                           rejected=shown, rejected_count=len(outcome.rejected), reject_token=outcome.reject_token,
                           filename=upload.filename)

    @expose("/rejected/<token>.xlsx")
    def rejected(self, token):
        stored = None
        if re.fullmatch(r"[A-Za-z0-9_-]{16,64}", token or ""):
            stored = persons.stored_rejects(current_user.enterprise_id, token)
        if stored is None:
            abort(404)
        name = f"{current_user.enterprise.name}-未导入人员-{today():%Y%m%d}.xlsx"
        return send_file(io.BytesIO(stored.content), mimetype=XLSX_MIMETYPE, as_attachment=True,
                         download_name=name, max_age=0)


# ---------------------------------------------------------------- the rejected-rows workbook

def rejects_workbook(rejected):
    """The rejected rows (original columns, row number, reason) as the bytes of a workbook."""
    headers = ("原行号", *IMPORT_HEADERS, "未导入原因")
    rows = ((number, *(raw.get(FIELD_OF_HEADER[h], "") for h in IMPORT_HEADERS), error_text(errors))
            for number, raw, errors in rejected)
    with write_xlsx(headers, rows, title="未导入人员", text_columns=(3, 5),
                    widths={3: 22, 5: 14, 8: 20, 10: 60}) as output:
        return output.read()
