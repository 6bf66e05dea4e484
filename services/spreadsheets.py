"""Excel files in and out: streaming .xlsx exports, the import template, reading uploaded sheets.

Exports use openpyxl's write-only mode, so a list of any length is written row by row
without holding it in memory. Every text cell that a spreadsheet program could take for
a formula (= + - @, tab, carriage return) gets a leading apostrophe, and identifiers such as
ID numbers are always written as text, never as numbers that lose their last digits.
"""

import tempfile
import zipfile
from datetime import date, datetime

from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.worksheet.datavalidation import DataValidation

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEADER_FONT = Font(bold=True)
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
# Numbers read from a sheet are exact integers only up to 2**53; an 18-digit ID typed as
# a number in Excel has already lost its last digits.
EXACT_INTEGER_LIMIT = 2 ** 53
LOST_DIGITS_MARK = "#存为数字"


class SpreadsheetError(Exception):
    """An uploaded file that cannot be read as the expected sheet; the message is for the user."""


def neutralise(value):
    """Return a cell value that no spreadsheet program will run as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _cell_value(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, int):
        return value
    return neutralise(str(value))


def write_xlsx(headers, rows, title="Sheet1", text_columns=(), widths=None):
    """Write `rows` (an iterable of sequences) under `headers`; return a temporary file at offset 0.

    Values in `text_columns` (indexes) are written as text whatever their type.
    """
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31])
    for index, header in enumerate(headers, start=1):
        width = (widths or {}).get(index - 1) or max(10, len(header) * 2 + 2)
        sheet.column_dimensions[get_column_letter(index)].width = width
    header_cells = []
    for header in headers:
        cell = WriteOnlyCell(sheet, value=header)
        cell.font, cell.fill = HEADER_FONT, HEADER_FILL
        header_cells.append(cell)
    sheet.append(header_cells)
    text_columns = set(text_columns)
    for row in rows:
        values = []
        for index, value in enumerate(row):
            if index in text_columns and value is not None:
                value = str(value)
            values.append(_cell_value(value))
        sheet.append(values)
    output = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 - the response closes it
    workbook.save(output)
    output.seek(0)
    return output


def write_template(headers, required, notes, choices=None, text_headers=(), rows=1000):
    """Build an import template: headers (required ones marked *), text columns, dropdowns, notes sheet."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "人员信息"
    lists = workbook.create_sheet("选项")
    lists.sheet_state = "hidden"
    for index, header in enumerate(headers, start=1):
        cell = sheet.cell(row=1, column=index, value=header + ("*" if header in required else ""))
        cell.font, cell.fill = HEADER_FONT, HEADER_FILL
        cell.alignment = Alignment(horizontal="center")
        letter = get_column_letter(index)
        sheet.column_dimensions[letter].width = 22 if header in text_headers else 14
        if header in text_headers:
            # Text format on the empty cells, so Excel keeps all 18 digits of what is typed.
            for row in range(2, rows + 2):
                sheet.cell(row=row, column=index).number_format = "@"
        if choices and choices.get(header):
            # The choices live on a hidden sheet: an inline list is limited to 255 characters.
            for row, value in enumerate(choices[header], start=1):
                lists.cell(row=row, column=index, value=value)
            validation = DataValidation(type="list", formula1=f"'选项'!${letter}$1:${letter}${len(choices[header])}",
                                        allow_blank=True, showErrorMessage=True,
                                        errorTitle="请从列表中选择", error="请从下拉列表中选择")
            validation.add(f"{letter}2:{letter}{rows + 1}")
            sheet.add_data_validation(validation)
    sheet.freeze_panes = "A2"
    help_sheet = workbook.create_sheet("填写说明", index=1)
    help_sheet.column_dimensions["A"].width = 100
    for line in notes:
        help_sheet.append([line])
    output = tempfile.SpooledTemporaryFile(max_size=4 * 1024 * 1024)  # noqa: SIM115 - the response closes it
    workbook.save(output)
    output.seek(0)
    return output


def _header_key(value):
    return str(value or "").strip().rstrip("*＊").strip()


def read_rows(stream, header_map, required_headers, max_rows):
    """Read the first sheet of an uploaded .xlsx; return [(sheet row number, {key: text})].

    `header_map` maps a Chinese header to a field key. Raises SpreadsheetError with a
    message for the user when the file is not a readable .xlsx or misses columns.
    """
    try:
        workbook = load_workbook(stream, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError, TypeError) as error:
        raise SpreadsheetError("无法读取该文件：请上传由模板填写的 Excel 文件（.xlsx 格式）") from error
    try:
        return _read_sheet(workbook.worksheets[0], header_map, required_headers, max_rows)
    except SpreadsheetError:
        raise
    except Exception as error:  # noqa: BLE001 - a damaged file may fail anywhere inside openpyxl
        raise SpreadsheetError("文件内容已损坏，无法读取，请用模板重新填写") from error
    finally:
        workbook.close()


def _read_sheet(sheet, header_map, required_headers, max_rows):
    rows = sheet.iter_rows(values_only=True)
    header_row = next(rows, None)
    if not header_row:
        raise SpreadsheetError("表格是空的：第一行应为列名（请使用下载的模板）")
    columns = {}
    for index, value in enumerate(header_row):
        key = header_map.get(_header_key(value))
        if key and key not in columns:
            columns[key] = index
    missing = [header for header in required_headers if header_map[header] not in columns]
    if missing:
        raise SpreadsheetError("表格缺少列：" + "、".join(missing) + "（请使用下载的模板）")
    result = []
    for number, values in enumerate(rows, start=2):
        if values is None or all(v is None or str(v).strip() == "" for v in values):
            continue
        if len(result) >= max_rows:
            raise SpreadsheetError(f"每次最多导入{max_rows}行，请分批上传")
        result.append((number, {key: _read_cell(values, index) for key, index in columns.items()}))
    return result


def _read_cell(values, index):
    value = values[index] if index < len(values) else None
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if abs(value) >= EXACT_INTEGER_LIMIT:
            # The digits are already gone in the file: mark it so validation can say so.
            return LOST_DIGITS_MARK
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime | date):
        return value.strftime("%Y-%m-%d")
    return str(value).strip()
