"""Excel files in and out: the one .xlsx writer (streamed or to a file), the import template, reading uploads.

Every export goes through `stream_xlsx`, which writes the workbook's XML itself and zips it
as the rows are read (stdlib zipfile, ZIP64 for the sheet so a stream past 4 GiB stays a
valid file): the first bytes leave at once and memory stays flat. `write_xlsx` is the same
writer collected into a file. One set of cell rules serves both (`cell_value`): characters
XML cannot carry are dropped, text a spreadsheet program could run as a formula (= + - @,
tab, carriage return) gets a leading apostrophe, identifiers such as ID numbers are written
as text, never as numbers that lose their last digits. Import templates, which need data
validation and several sheets, are built with openpyxl; uploads are read with openpyxl.
"""

import re
import tempfile
import zipfile
from datetime import date, datetime
from xml.sax.saxutils import escape, quoteattr

from openpyxl import Workbook, load_workbook
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
# Excel keeps 15 significant digits: a longer whole number is written as text.
LONGEST_EXACT_NUMBER = 10 ** 15
LOST_DIGITS_MARK = "#存为数字"
# What a cell holds at most in Excel; longer text is cut there rather than refused by Excel.
MAX_CELL_TEXT = 32767
# Characters XML 1.0 cannot carry: control characters but tab, newline and carriage return,
# lone surrogates, U+FFFE and U+FFFF.
XML_ILLEGAL = dict.fromkeys([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0xD800, 0xE000),
                             0xFFFE, 0xFFFF])
# Characters Excel refuses in a sheet name (besides a leading or trailing apostrophe).
SHEET_NAME_FORBIDDEN = re.compile(r"[\\/?*\[\]:]")


class SpreadsheetError(Exception):
    """An uploaded file that cannot be read as the expected sheet; the message is for the user."""


def xml_safe(text):
    """`text` without the characters an XML 1.0 document cannot contain."""
    return str(text).translate(XML_ILLEGAL)


def neutralise(value):
    """Return a cell value that no spreadsheet program will run as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def cell_value(value, as_text=False):
    """What a cell holds: a number, or text that is safe to open (the one rule of every export)."""
    if value is None:
        return ""
    if as_text:
        value = str(value)
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, int) and abs(value) < LONGEST_EXACT_NUMBER:
        return value
    # Dropped before the formula check: "\x01=cmd" must not become "=cmd" unguarded.
    return neutralise(xml_safe(value))[:MAX_CELL_TEXT]


def sheet_title(title):
    """A sheet name Excel accepts: no forbidden or control characters, 31 characters at most."""
    name = SHEET_NAME_FORBIDDEN.sub("_", xml_safe(title)).strip().strip("'")[:31].strip()
    return name or "Sheet1"


def write_xlsx(headers, rows, title="Sheet1", text_columns=(), widths=None):
    """Write `rows` under `headers` with stream_xlsx; return a temporary file at offset 0."""
    output = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 - the response closes it
    for piece in stream_xlsx(headers, rows, title=title, text_columns=text_columns, widths=widths):
        output.write(piece)
    output.seek(0)
    return output


# ---------------------------------------------------------------- the writer

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
    # Style 1 is the header: bold on the HEADER_FILL colour.
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

def _xml_row(number, values, letters, style=""):
    cells = []
    for letter, value in zip(letters, values, strict=False):
        if value is None or value == "":
            continue
        if isinstance(value, int | float) and not isinstance(value, bool):
            cells.append(f'<c r="{letter}{number}"{style}><v>{value}</v></c>')
        else:
            cells.append(f'<c r="{letter}{number}"{style} t="inlineStr"><is><t xml:space="preserve">'
                         f'{escape(value)}</t></is></c>')
    return f'<row r="{number}">{"".join(cells)}</row>'


def _column_widths(headers, widths):
    return "".join(
        f'<col min="{i}" max="{i}" width="{(widths or {}).get(i - 1) or max(10, len(str(h)) * 2 + 2)}" '
        f'customWidth="1"/>' for i, h in enumerate(headers, start=1)
    )


def stream_xlsx(headers, rows, title="Sheet1", text_columns=(), widths=None, rows_per_chunk=500):
    """Yield an .xlsx file of `rows` under `headers` in pieces, as the rows are read.

    A bold header row, column widths, `text_columns` (indexes) written as text whatever
    their type, every cell through cell_value. Cells are inline strings and the zip
    entries carry data descriptors, as a stream must; the sheet is a ZIP64 entry, so a
    download past 4 GiB uncompressed is still one valid file.
    """
    letters = [get_column_letter(index) for index in range(1, len(headers) + 1)]
    text_columns = set(text_columns)
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for name, body in STATIC_PARTS.items():
            archive.writestr(name, XML_HEAD + body)
        archive.writestr("xl/workbook.xml", (
            f'{XML_HEAD}<workbook xmlns="{MAIN_NS}" xmlns:r="{DOC_REL}"><sheets>'
            f'<sheet name={quoteattr(sheet_title(title))} sheetId="1" r:id="rId1"/></sheets></workbook>'
        ))
        yield sink.take()
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            pending = [f'{XML_HEAD}<worksheet xmlns="{MAIN_NS}"><cols>{_column_widths(headers, widths)}</cols>'
                       '<sheetData>', _xml_row(1, [cell_value(h, as_text=True) for h in headers], letters, ' s="1"')]
            for number, row in enumerate(rows, start=2):
                values = [cell_value(v, as_text=i in text_columns) for i, v in enumerate(row)]
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
