"""企业端 批量导入: staff from an Excel sheet, as an alternative to the QR code.

Every row is checked with the same rules as the employee form (public_forms.person_data),
duplicates within the sheet and against the whole district are refused, valid rows become
未提交 records with one bulk INSERT, and the refused rows come back as a workbook of their
own with the reason in a last column.
"""

import io
import re
import secrets
from datetime import timedelta

from flask import abort, current_app, flash, redirect, request, send_file
from flask_admin import BaseView, expose
from flask_login import current_user
from sqlalchemy import delete, select

from admin_views.base import RoleAccessMixin
from extensions import db
from models.audit import record_event
from models.base import now, today
from models.import_file import ImportRejectFile
from models.options import PERSON_CATEGORY, option_labels
from models.user import ENTERPRISE
from public_forms.person_data import (
    DUPLICATE_ID_MESSAGE,
    clean_person,
    insert_people,
    person_row,
    registered_id_numbers,
)
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
LOST_DIGITS_MESSAGE = "身份证号：被 Excel 存成了数字，末几位已丢失；请把该列设为“文本”格式后重新填写"
REJECTS_KEEP = timedelta(days=1)
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


def check_rows(rows, categories):
    """Split sheet rows into (valid [(row number, raw, values)], rejected [(row number, raw, reason)])."""
    valid, rejected, first_row_of = [], [], {}
    for number, raw in rows:
        if raw.get("id_number") == LOST_DIGITS_MARK:
            rejected.append((number, raw, LOST_DIGITS_MESSAGE))
            continue
        cleaned = clean_person(raw, categories)
        if not cleaned.ok:
            rejected.append((number, raw, cleaned.error_text()))
            continue
        id_number = cleaned.values["id_number"]
        if id_number in first_row_of:
            rejected.append((number, raw, f"身份证号：与第{first_row_of[id_number]}行重复"))
            continue
        first_row_of[id_number] = number
        valid.append((number, raw, cleaned.values))
    taken = registered_id_numbers(values["id_number"] for _, _, values in valid)
    rejected.extend((number, raw, "身份证号：" + DUPLICATE_ID_MESSAGE)
                    for number, raw, values in valid if values["id_number"] in taken)
    valid = [item for item in valid if item[2]["id_number"] not in taken]
    return valid, rejected


def import_people(enterprise_id, rows, categories):
    """Check and insert sheet rows; return (inserted count, rejected rows sorted by row number)."""
    valid, rejected = check_rows(rows, categories)
    at = now()
    refused = insert_people([person_row(enterprise_id, values, "import", at=at) for _, _, values in valid])
    refused_numbers = {row["id_number"] for row in refused}
    rejected.extend((number, raw, "身份证号：" + DUPLICATE_ID_MESSAGE)
                    for number, raw, values in valid if values["id_number"] in refused_numbers)
    rejected.sort(key=lambda item: item[0])
    return len(valid) - len(refused), rejected


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
        enterprise = current_user.enterprise
        inserted, rejected = import_people(enterprise.id, rows, option_labels(PERSON_CATEGORY))
        reject_token = save_rejects(enterprise.id, rejected) if rejected else None
        record_event(current_user, "person_import", target_type="person", requested=len(rows), changed=inserted,
                     detail=f"rows={len(rows)} inserted={inserted} rejected={len(rejected)}")
        db.session.commit()
        return self.render("enterprise/import_result.html", total=len(rows), inserted=inserted,
                           rejected=rejected[:200], rejected_count=len(rejected), reject_token=reject_token,
                           filename=upload.filename)

    @expose("/rejected/<token>.xlsx")
    def rejected(self, token):
        stored = stored_rejects(current_user.enterprise_id, token)
        if stored is None:
            abort(404)
        name = f"{current_user.enterprise.name}-未导入人员-{today():%Y%m%d}.xlsx"
        return send_file(io.BytesIO(stored.content), mimetype=XLSX_MIMETYPE, as_attachment=True,
                         download_name=name, max_age=0)


# ---------------------------------------------------------------- the rejected-rows workbook

def stored_rejects(enterprise_id, token):
    """The stored workbook of one enterprise's rejected rows (the token is random and bound to the enterprise)."""
    if not enterprise_id or not re.fullmatch(r"[A-Za-z0-9_-]{16,64}", token or ""):
        return None
    return db.session.execute(select(ImportRejectFile).where(
        ImportRejectFile.token == token, ImportRejectFile.enterprise_id == enterprise_id,
        ImportRejectFile.created_at >= now() - REJECTS_KEEP,
    )).scalar_one_or_none()


def save_rejects(enterprise_id, rejected):
    """Store the rejected rows (original columns, row number, reason) as a workbook; return its token."""
    remove_old_rejects()
    headers = ("原行号", *IMPORT_HEADERS, "未导入原因")
    rows = ((number, *(raw.get(FIELD_OF_HEADER[h], "") for h in IMPORT_HEADERS), reason)
            for number, raw, reason in rejected)
    token = secrets.token_urlsafe(24)
    output = write_xlsx(headers, rows, title="未导入人员", text_columns=(3, 5),
                        widths={3: 22, 5: 14, 8: 20, 10: 60})
    with output:
        db.session.add(ImportRejectFile(token=token, enterprise_id=enterprise_id, content=output.read()))
    db.session.commit()
    return token


def remove_old_rejects():
    """Rejected-row workbooks hold personal data: keep them a day at most."""
    db.session.execute(delete(ImportRejectFile).where(ImportRejectFile.created_at < now() - REJECTS_KEEP))
