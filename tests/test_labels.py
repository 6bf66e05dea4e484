"""Every code the domain speaks in has its Chinese words in admin_views/labels.py, and only there."""

import ast
import re
from pathlib import Path

import pytest

from admin_views import labels
from models.stats import FUNNEL_KEYS
from models.status import ALL_STATUSES
from models.workflow import AUDITED_ACTIONS, WorkflowError

ROOT = Path(__file__).resolve().parent.parent
CJK = re.compile(r"[\u4e00-\u9fff]")


def test_every_status_has_exactly_one_label():
    assert set(labels.STATUS_LABELS) == set(ALL_STATUSES)


def test_every_transition_the_audit_trail_can_name_has_a_label():
    assert set(labels.TRANSITION_LABELS) == AUDITED_ACTIONS


# The modules whose refusals are codes (DomainError and its subclasses), worded only in labels.py.
CODED_MODULES = [
    "models/workflow.py", "models/appointments.py", "models/lots.py", "models/recall.py", "models/aefi.py",
    "models/observation.py",
]


@pytest.mark.parametrize("module", CODED_MODULES)
def test_every_error_code_the_domain_raises_has_a_message(module):
    source = (ROOT / module).read_text()
    raised = set(re.findall(r'[A-Z]\w*Error\(\s*"([a-z_]+)"', source))
    assert raised and raised <= set(labels.ERROR_MESSAGES), raised - set(labels.ERROR_MESSAGES)


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


# Chinese the models may hold: stored data values, each with why it is data and not a label.
DATA_VALUES = {
    ("models/workflow.py", "本人"): "the username audited for a person acting on their own record",
    ("models/lots.py", "破损"): "a 报损 reason, stored in the ledger's and the audit row's reason",
    ("models/lots.py", "过期"): "a 报损 reason, stored in the ledger's and the audit row's reason",
    ("models/lots.py", "开启未用完"): "a 报损 reason, stored in the ledger's and the audit row's reason",
    ("models/aefi.py", "痊愈"): "a 转归 of the 方案, stored in aefi_report.outcome",
    ("models/aefi.py", "好转"): "a 转归 of the 方案, stored in aefi_report.outcome",
    ("models/aefi.py", "未愈"): "a 转归 of the 方案, stored in aefi_report.outcome",
    ("models/aefi.py", "有后遗症"): "a 转归 of the 方案, stored in aefi_report.outcome",
    ("models/aefi.py", "死亡"): "a 转归 of the 方案, stored in aefi_report.outcome",
    ("models/aefi.py", "不详"): "a 转归 of the 方案, stored in aefi_report.outcome",
    ("models/aefi.py", "一般反应"): "a 反应分类 of the 方案, stored in aefi_report.classification",
    ("models/aefi.py", "异常反应"): "a 反应分类 of the 方案, stored in aefi_report.classification",
    ("models/aefi.py", "疫苗质量事故"): "a 反应分类 of the 方案, stored in aefi_report.classification",
    ("models/aefi.py", "接种事故"): "a 反应分类 of the 方案, stored in aefi_report.classification",
    ("models/aefi.py", "偶合症"): "a 反应分类 of the 方案, stored in aefi_report.classification",
    ("models/aefi.py", "心因性反应"): "a 反应分类 of the 方案, stored in aefi_report.classification",
    ("models/aefi.py", "不能判定"): "a 反应分类 of the 方案, stored in aefi_report.classification",
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


@pytest.mark.parametrize("module", [*CODED_MODULES, "models/status.py", "models/errors.py"])
def test_the_domain_holds_no_chinese_text_outside_comments_and_docstrings(module):
    texts = [text for text in chinese_constants((ROOT / module).read_text()) if (module, text) not in DATA_VALUES]
    assert texts == [], texts


def test_a_chinese_message_raised_by_a_model_is_caught():
    """The scan sees a refusal worded in the model, f-strings too, and passes docstrings and comments."""
    source = '"""Docstring 中文 is fine."""\n# 注释 too\ndef f(n):\n    raise ValueError(f"批号 {n} 已冻结")\n'
    assert chinese_constants(source) == ["批号 ", " 已冻结"]


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
