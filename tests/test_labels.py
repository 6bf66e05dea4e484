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


# The modules whose errors are codes (WorkflowError and its subclasses), worded only in labels.py.
CODED_MODULES = ["models/workflow.py", "models/appointments.py"]


@pytest.mark.parametrize("module", CODED_MODULES)
def test_every_error_code_the_domain_raises_has_a_message(module):
    source = (ROOT / module).read_text()
    raised = set(re.findall(r'(?:WorkflowError|BookingError)\(\s*"([a-z_]+)"', source))
    assert raised and raised <= set(labels.ERROR_MESSAGES), raised - set(labels.ERROR_MESSAGES)


def test_the_funnel_and_every_console_figure_are_worded():
    assert set(FUNNEL_KEYS) <= set(labels.FIGURE_LABELS)
    assert set(labels.ENTERPRISE_FIGURE_LABELS) <= set(labels.FIGURE_LABELS)


def test_an_error_is_worded_from_its_code_and_params():
    assert labels.error_text(WorkflowError("reason_required")) == "请填写原因"
    assert labels.error_text(WorkflowError("unknown_action", action="x")) == "未知操作：x"
    # An error raised with its own words (no known code) is shown as it is.
    assert labels.error_text(WorkflowError("请填写取消原因")) == "请填写取消原因"


@pytest.mark.parametrize("module", [*CODED_MODULES, "models/status.py"])
def test_the_domain_holds_no_chinese_text_outside_comments_and_docstrings(module):
    tree = ast.parse((ROOT / module).read_text())
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef)) and node.body
                  and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    texts = [node.value for node in ast.walk(tree)
             if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
             and CJK.search(node.value)]
    # The username audited for a person acting on their own record: stored data, not a label.
    assert [t for t in texts if t != "本人"] == [], texts


def test_a_refused_batch_is_told_in_chinese(client, login, make_user, make_enterprise, make_persons):
    ticked = make_persons(make_enterprise(), 1, status="dept_approved")
    login(make_user("center"))
    page = client.post("/center/review/action/", data={"action": "center_return", "rowid": ticked, "reason": " ",
                                                       "url": "/center/review/"}, follow_redirects=True)
    text = page.get_data(as_text=True)
    assert "请填写原因" in text and "reason_required" not in text
