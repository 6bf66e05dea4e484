"""One gate every request's typed values pass before any view reads them.

Query arguments, form fields, URL path arguments and the strings of a JSON body are refused
when they carry what no user types and what breaks the code or the database further in:
  - NUL and other control characters (tab, newline and carriage return allowed in form
    fields, where a textarea legitimately sends them), DEL and the C1 controls;
  - bidirectional overrides and isolates (U+202A-U+202E, U+2066-U+2069), which make a name
    or a file name read differently from what is stored;
  - a number where an id, a page or an amount is expected that is not plain ASCII digits
    (int() takes "١٢" but the database and the URL builders do not), negative, or past the
    integer columns' range;
  - a date (a whole value of YYYY-MM-DD, optionally with a time) whose year no record of this
    system can have: the views' date arithmetic overflows at year 9999. Free text that merely
    starts with such a date (a remark "0001-01-01 补录") is text, and passes.
The answer is a 400 page with a Chinese message, or for the reader API (/api/...) a JSON 422
in the API's error format; nothing is read or written by the view.
"""

import re

from flask import render_template, request

from api import error_response

MAX_INT = 2**31 - 1  # the integer columns' range (PostgreSQL's integer)
FIRST_YEAR, LAST_YEAR = 1900, 2199
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
TEXTAREA_WHITESPACE = frozenset("\t\n\r")
# Parameters that carry a row id, a page or a count wherever they appear.
INTEGER_NAMES = frozenset({
    "page", "page_size", "id", "pk", "rowid", "ids", "person_id", "slot", "slot_id", "target_slot", "station",
    "station_id", "enterprise", "enterprise_id", "read", "read_id", "department_id", "parent_id", "territory_id",
    "user_id", "lot", "lot_id", "product", "product_id", "vaccination_id", "observation_id", "report_id",
    "amount", "capacity", "packages", "doses_per_package", "dose_number", "count",
})
NUMERIC = re.compile(r"\s*[-+]?\d+\s*")  # \d: any script's digits, refused below unless ASCII
ISO_DATE = re.compile(r"\s*(\d{1,6})-(\d{1,2})-(\d{1,2})"  # the year, month and day
                      r"(?:[T ]\d{1,2}:\d{1,2}(?::\d{1,2}(?:\.\d+)?)?)?(?:Z|[+-]\d{2}:?\d{2})?\s*")

CONTROL_CHARACTER, BIDI_OVERRIDE, NOT_AN_INTEGER, NEGATIVE, OUT_OF_RANGE, IMPLAUSIBLE_DATE = (
    "control_character", "bidi_override", "not_an_integer", "negative", "out_of_range", "implausible_date")
MESSAGES = {
    CONTROL_CHARACTER: "输入内容含有不可见的控制字符，请删除后重新输入",
    BIDI_OVERRIDE: "输入内容含有改变文字方向的特殊字符，请删除后重新输入",
    NOT_AN_INTEGER: "编号、页码和数量只能是半角数字（0-9）",
    NEGATIVE: "编号、页码和数量不能为负数",
    OUT_OF_RANGE: "编号、页码或数量超出范围，请检查后重新输入",
    IMPLAUSIBLE_DATE: f"日期超出范围，请输入{FIRST_YEAR}至{LAST_YEAR}年之间的日期",
}


def text_problem(value, allow_whitespace):
    """The code of what is wrong with a typed string, or None."""
    for char in value:
        code = ord(char)
        if code < 32 or 127 <= code < 160:
            if not (allow_whitespace and char in TEXTAREA_WHITESPACE):
                return CONTROL_CHARACTER
        elif char in BIDI_CONTROLS:
            return BIDI_OVERRIDE
    found = ISO_DATE.fullmatch(value)
    if found and not FIRST_YEAR <= int(found.group(1)) <= LAST_YEAR:
        return IMPLAUSIBLE_DATE
    return None


def integer_problem(value):
    """For a parameter that names an id, a page or a count: what is wrong with a number in it."""
    if not NUMERIC.fullmatch(value):
        return None  # not a number at all ("all", a search word): the view decides
    digits = value.strip().lstrip("+-")
    if not digits.isascii():
        return NOT_AN_INTEGER
    if value.strip().startswith("-") and int(digits):
        return NEGATIVE
    if int(digits) > MAX_INT:
        return OUT_OF_RANGE
    return None


def value_problem(name, value, allow_whitespace):
    problem = text_problem(value, allow_whitespace)
    if problem is None and name in INTEGER_NAMES:
        problem = integer_problem(value)
    return problem


def json_strings(node, depth=0):
    """Every string (keys included) in a parsed JSON body, to a bounded depth."""
    if depth > 20:
        return
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, item in node.items():
            yield from json_strings(key, depth + 1)
            yield from json_strings(item, depth + 1)
    elif isinstance(node, list):
        for item in node:
            yield from json_strings(item, depth + 1)


def request_problem():
    """The first problem among the current request's typed values, or None."""
    for value in (request.view_args or {}).values():
        if isinstance(value, str) and (problem := text_problem(value, allow_whitespace=False)):
            return problem
    for name, value in request.args.items(multi=True):
        if problem := value_problem(name, value, allow_whitespace=False):
            return problem
    if request.method in ("POST", "PUT", "PATCH"):
        if request.is_json:
            for value in json_strings(request.get_json(silent=True)):
                if problem := text_problem(value, allow_whitespace=False):
                    return problem
        else:
            for name, value in request.form.items(multi=True):
                if problem := value_problem(name, value, allow_whitespace=True):
                    return problem
    return None


def refuse(problem):
    if request.path.startswith("/api/"):
        return error_response(422, problem, MESSAGES[problem])
    return render_template("message.html", title="输入有误", message=MESSAGES[problem]), 400


def check_request():
    problem = request_problem()
    if problem is not None:
        return refuse(problem)
    return None


def init_input_hygiene(app):
    app.before_request(check_request)
