"""Every code the domain speaks in has its Chinese words in admin_views/labels.py, and only there."""

import ast
import re
from pathlib import Path

import pytest

from admin_views import labels
from models.aefi import CLASSIFICATIONS, OUTCOMES
from models.certificates import ISSUER
from models.errors import DomainError
from models.lots import WASTE_REASONS
from models.options import DEFAULT_OPTIONS
from models.persons import GENDER_INPUTS, NO_INPUTS, YES_INPUTS
from models.stats import FUNNEL_KEYS
from models.status import ALL_STATUSES
from models.vaccines import SEEDED_PRODUCTS
from models.workflow import AUDITED_ACTIONS, WorkflowError

ROOT = Path(__file__).resolve().parent.parent
CJK = re.compile(r"[\u4e00-\u9fff]")


def test_every_status_has_exactly_one_label():
    assert set(labels.STATUS_LABELS) == set(ALL_STATUSES)


def test_every_transition_the_audit_trail_can_name_has_a_label():
    assert set(labels.TRANSITION_LABELS) == AUDITED_ACTIONS


# Every model module (the demo data aside: its names and places are data it makes up).
MODEL_MODULES = sorted(f"models/{path.name}" for path in (ROOT / "models").glob("*.py")
                       if not path.name.startswith("demo")) + ["services/card_match.py"]  # the desk's verdicts


def refusal_names():
    """The names of DomainError and every subclass of it, and FieldError."""
    classes, names = [DomainError], {"FieldError"}
    while classes:
        cls = classes.pop()
        names.add(cls.__name__)
        classes.extend(cls.__subclasses__())
    return names


def refusal_codes(source):
    """The codes a module's refusals name: SomeError("code", …) and FieldError(field, "code", …)."""
    codes, refusals = set(), refusal_names()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in refusals:
            position = 1 if node.func.id == "FieldError" else 0
            if len(node.args) > position and isinstance(node.args[position], ast.Constant):
                codes.add(node.args[position].value)
    return codes


@pytest.mark.parametrize("module", MODEL_MODULES)
def test_every_refusal_code_a_model_names_has_a_message(module):
    import models  # noqa: F401 - every refusal class is defined (and so found) once the models are
    raised = refusal_codes((ROOT / module).read_text())
    assert raised <= set(labels.ERROR_MESSAGES), raised - set(labels.ERROR_MESSAGES)


def refusal_calls(source):
    """(code, the param names given) of each refusal a module's source names with a constant code."""
    refusals = refusal_names()
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in refusals):
            continue
        if node.func.id == "FieldError":
            if len(node.args) > 1 and isinstance(node.args[1], ast.Constant):
                given = node.args[2] if len(node.args) > 2 else None
                yield node.args[1].value, ({key.value for key in given.keys} if isinstance(given, ast.Dict) else set())
        elif node.args and isinstance(node.args[0], ast.Constant):
            if any(keyword.arg is None for keyword in node.keywords):
                continue  # AccountError(problem.code, **problem.params): passed on from a checked refusal
            yield node.args[0].value, {keyword.arg for keyword in node.keywords}


@pytest.mark.parametrize("module", MODEL_MODULES)
def test_every_refusal_gives_the_params_its_message_words(module):
    """A placeholder the raise does not fill would turn the refusal into a server error."""
    from string import Formatter

    import models  # noqa: F401

    for code, given in refusal_calls((ROOT / module).read_text()):
        wanted = {name for _, name, _, _ in Formatter().parse(labels.ERROR_MESSAGES[code]) if name}
        assert wanted == given, (module, code, wanted, given)


def test_the_codes_built_from_a_field_name_have_messages():
    """lots._positive_count(count, what) raises f"{what}_not_positive"; aefi._text(…, what) f"{what}_too_long"."""
    for module, helper, position, suffix in (("lots", "_positive_count", 1, "_not_positive"),
                                             ("aefi", "_text", 2, "_too_long")):
        tree = ast.parse((ROOT / f"models/{module}.py").read_text())
        names = {node.args[position].value for node in ast.walk(tree)
                 if isinstance(node, ast.Call) and getattr(node.func, "id", None) == helper
                 and len(node.args) > position and isinstance(node.args[position], ast.Constant)}
        assert names and {name + suffix for name in names} <= set(labels.ERROR_MESSAGES), (module, names)
    assert "count_not_positive" in labels.ERROR_MESSAGES  # _positive_count's default


def test_every_certificate_verdict_reason_is_worded():
    source = (ROOT / "models/certificates.py").read_text()
    reasons = set(re.findall(r'Verdict\(\w+, "([a-z_]+)"', source)) | set(re.findall(r'return "([a-z_]+)"', source))
    assert reasons and reasons <= set(labels.CERTIFICATE_REASONS), reasons - set(labels.CERTIFICATE_REASONS)


def test_no_label_table_names_a_code_twice():
    """A dict literal keeps the last of two equal keys without a word: one code, one message."""
    tree = ast.parse((ROOT / "admin_views/labels.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            keys = [ast.unparse(key) for key in node.keys if key is not None]
            assert len(keys) == len(set(keys)), sorted({key for key in keys if keys.count(key) > 1})


def test_the_funnel_and_every_console_figure_are_worded():
    assert set(FUNNEL_KEYS) <= set(labels.FIGURE_LABELS)
    assert set(labels.ENTERPRISE_FIGURE_LABELS) <= set(labels.FIGURE_LABELS)


def test_an_error_is_worded_from_its_code_and_params():
    assert labels.error_text(WorkflowError("reason_required")) == "请填写原因"
    assert labels.error_text(WorkflowError("unknown_action", action="x")) == "未知操作：x"
    # An error raised with its own words (no known code) is shown as it is.
    assert labels.error_text(WorkflowError("请填写取消原因")) == "请填写取消原因"


def _each(module, values, reason):
    return {(module, value): reason for value in values}


# Chinese the models may hold outside docstrings and comments: stored data and typed input, each
# with why it is not a label. Anything else Chinese in a model belongs in admin_views/labels.py.
DATA_VALUES = {
    ("models/workflow.py", "本人"): "the username audited for a person acting on their own record",
    **_each("models/lots.py", WASTE_REASONS, "a 报损 reason, stored in the ledger's and the audit row's reason"),
    **_each("models/aefi.py", OUTCOMES, "a 转归 of the 方案, stored in aefi_report.outcome"),
    **_each("models/aefi.py", CLASSIFICATIONS, "a 反应分类 of the 方案, stored in aefi_report.classification"),
    **_each("models/options.py", [label for labels_ in DEFAULT_OPTIONS.values() for label in labels_],
            "a seeded option; a person's category, a 未接种 reason and a report store the label itself"),
    **_each("models/vaccines.py", [text for row in SEEDED_PRODUCTS for text in row[:2]],
            "a seeded product's registered name and maker, stored in vaccine_product"),
    ("models/certificates.py", ISSUER): "the iss claim signed into every certificate issued",
    **_each("models/persons.py", [*GENDER_INPUTS, *YES_INPUTS, *NO_INPUTS],
            "what a sheet or form may type for gender and 是否住在滨海新区: input the parser reads"),
    **_each("models/housekeeping.py", ["已删除过期验证码 ", " 条、过期的导入失败文件 ", " 个、旧任务记录 ", " 条"],
            "the purge's summary, stored once in job_run.summary beside the other jobs' (services/tasks.py)"),
}


def chinese_constants(source):
    """Chinese string constants of a module's source, outside its docstrings (comments are not in the AST)."""
    tree = ast.parse(source)
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                  and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    return [node.value for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
            and CJK.search(node.value)]


@pytest.mark.parametrize("module", MODEL_MODULES)
def test_the_domain_holds_no_chinese_text_outside_comments_and_docstrings(module):
    texts = [text for text in chinese_constants((ROOT / module).read_text()) if (module, text) not in DATA_VALUES]
    assert texts == [], texts


def test_a_chinese_message_raised_by_a_model_is_caught():
    """The scan sees a refusal worded in the model, f-strings too, and passes docstrings and comments."""
    source = '"""Docstring 中文 is fine."""\n# 注释 too\ndef f(n):\n    raise ValueError(f"批号 {n} 已冻结")\n'
    assert chinese_constants(source) == ["批号 ", " 已冻结"]
    assert refusal_codes('raise StockError("no_such_code")\nFieldError("phone", "nor_this")') == {
        "no_such_code", "nor_this"}
    # The params test would see this raise miss on_hand and count.
    assert list(refusal_calls('StockError("stock_short", lot=1)')) == [("stock_short", {"lot"})]


def test_a_refusal_reads_as_the_user_reads_it():
    from models.lots import StockError

    error = StockError("stock_short", lot="L1", on_hand=2, count=3)
    assert labels.error_text(error) == str(error) == "批号 L1 本站库存不足（现有 2 剂，需要 3 剂）"
    assert labels.error_text(StockError("trace_codes_taken", codes=["1", "2"])) == "追溯码已登记过，不能重复入库：1、2"


def test_a_refused_batch_is_told_in_chinese(client, login, make_user, make_enterprise, make_persons):
    ticked = make_persons(make_enterprise(), 1, status="dept_approved")
    login(make_user("center"))
    page = client.post("/center/review/action/", data={"action": "center_return", "rowid": ticked, "reason": " ",
                                                       "url": "/center/review/"}, follow_redirects=True)
    text = page.get_data(as_text=True)
    assert "请填写原因" in text and "reason_required" not in text
