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


# ---------------------------------------------------------------- streaming export

class _Sink:
    """A write-only file for zipfile that keeps what was written until it is taken (no seek, no tell)."""

    def __init__(self):
        self.parts = []

    def write(self, data):
        self.parts.append(bytes(data))
        return len(data)

    def flush(self):
        pass

    def take(self):
        data = b"".join(self.parts)
        self.parts.clear()
        return data


XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
DOC_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
STATIC_PARTS = {
    "[Content_Types].xml": (
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        '<Override PartName="/xl/styles.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
        '</Types>'
    ),
    "_rels/.rels": (
        f'<Relationships xmlns="{REL_NS}"><Relationship Id="rId1" '
        f'Type="{DOC_REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
    ),
    "xl/_rels/workbook.xml.rels": (
        f'<Relationships xmlns="{REL_NS}">'
        f'<Relationship Id="rId1" Type="{DOC_REL}/worksheet" Target="worksheets/sheet1.xml"/>'
        f'<Relationship Id="rId2" Type="{DOC_REL}/styles" Target="styles.xml"/></Relationships>'
    ),
    # Style 1 is the header: bold on the HEADER_FILL colour, as write_xlsx draws it.
    "xl/styles.xml": (
        f'<styleSheet xmlns="{MAIN_NS}">'
        '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
        '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
        '<fills count="3"><fill><patternFill patternType="none"/></fill>'
        '<fill><patternFill patternType="gray125"/></fill>'
        '<fill><patternFill patternType="solid"><fgColor rgb="FFDDEBF7"/><bgColor indexed="64"/></patternFill>'
        '</fill></fills>'
        '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
        '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
        '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
        '<xf numFmtId="0" fontId="1" fillId="2" borderId="0" xfId="0" applyFont="1" applyFill="1"/></cellXfs>'
        '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
        '</styleSheet>'
    ),
}
# Characters XML 1.0 forbids (control characters but tab, newline, carriage return).
XML_ILLEGAL = dict.fromkeys([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20)])


def _xml_text(value):
    text = str(value).translate(XML_ILLEGAL)
    if "&" in text or "<" in text or ">" in text:
        text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text


def _xml_row(number, values, letters, style=""):
    cells = []
    for letter, value in zip(letters, values):
        if value is None or value == "":
            continue
        if isinstance(value, int | float) and not isinstance(value, bool):
            cells.append(f'<c r="{letter}{number}"{style}><v>{value}</v></c>')
        else:
            cells.append(f'<c r="{letter}{number}"{style} t="inlineStr"><is><t xml:space="preserve">'
                         f'{_xml_text(value)}</t></is></c>')
    return f'<row r="{number}">{"".join(cells)}</row>'


def stream_xlsx(headers, rows, title="Sheet1", text_columns=(), widths=None, rows_per_chunk=500):
    """Yield an .xlsx file of `rows` under `headers` in pieces, as the rows are read.

    What write_xlsx writes (header style, widths, text columns, formulas neutralised), but
    streamed: the first bytes leave at once and memory stays flat whatever the length, so
    a download of 100,000 rows is a response that flows, not a file built first. Cells are
    inline strings and the zip entries carry data descriptors, as a stream must.
    """
    letters = [get_column_letter(index) for index in range(1, len(headers) + 1)]
    text_columns = set(text_columns)
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for name, body in STATIC_PARTS.items():
            archive.writestr(name, XML_HEAD + body)
        archive.writestr("xl/workbook.xml", (
            f'{XML_HEAD}<workbook xmlns="{MAIN_NS}" xmlns:r="{DOC_REL}"><sheets>'
            f'<sheet name="{_xml_text(title[:31])}" sheetId="1" r:id="rId1"/></sheets></workbook>'
        ))
        yield sink.take()
        with archive.open("xl/worksheets/sheet1.xml", "w") as sheet:
            columns = "".join(
                f'<col min="{i}" max="{i}" width="{(widths or {}).get(i - 1) or max(10, len(h) * 2 + 2)}" '
                f'customWidth="1"/>' for i, h in enumerate(headers, start=1)
            )
            pending = [f'{XML_HEAD}<worksheet xmlns="{MAIN_NS}"><cols>{columns}</cols><sheetData>',
                       _xml_row(1, headers, letters, ' s="1"')]
            for number, row in enumerate(rows, start=2):
                values = [_cell_value(str(v) if i in text_columns and v is not None else v)
                          for i, v in enumerate(row)]
                pending.append(_xml_row(number, values, letters))
                if len(pending) >= rows_per_chunk:
                    sheet.write("".join(pending).encode())
                    pending.clear()
                    chunk = sink.take()
                    if chunk:
                        yield chunk
            pending.append("</sheetData></worksheet>")
            sheet.write("".join(pending).encode())
    yield sink.take()


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
