"""The Flask-Admin assumptions of admin_views/base.py still hold (fails loudly after an upgrade).

FlaskAdminInternals is the one place that reads Flask-Admin's non-public names; the
templates copied from Flask-Admin (admin/model/layout.html, row_actions.html, actions.html)
replace its own. Each check here names what to look at again when it fails.
"""

import inspect
import re
from pathlib import Path

import flask_admin
import pytest
from flask_admin.contrib.sqla import ModelView
from flask_admin.model.base import BaseModelView
from jinja2 import nodes
from sqlalchemy import select

from admin_views.base import FLASK_ADMIN_VERSION, FlaskAdminInternals, PersonListView
from models import Person

ROOT = Path(__file__).resolve().parent.parent
FLASK_ADMIN_TEMPLATES = Path(flask_admin.__file__).parent / "templates" / "bootstrap4"
COPIED_TEMPLATES = ("admin/model/layout.html", "admin/model/row_actions.html", "admin/actions.html",
                    "admin/static.html")

# name: the parameters (after self) FlaskAdminInternals calls it with.
PRIVATE_METHODS = {
    "_get_list_extra_args": [],
    "_apply_sorting": ["query", "joins", "sort_column", "sort_desc"],
    "_apply_pagination": ["query", "page", "page_size"],
    "_get_filter_groups": [],
    "_refresh_filters_cache": [],
}


def test_the_installed_flask_admin_is_the_pinned_one():
    assert flask_admin.__version__ == FLASK_ADMIN_VERSION, (
        f"Flask-Admin {flask_admin.__version__} installed, admin_views/base.py was checked against "
        f"{FLASK_ADMIN_VERSION}: re-check FlaskAdminInternals and the copied templates, then update the pin")
    pins = (ROOT / "requirements.txt").read_text()
    assert re.search(rf"^Flask-Admin\[translation\]=={re.escape(FLASK_ADMIN_VERSION)}$", pins, re.M)


@pytest.mark.parametrize("name", PRIVATE_METHODS)
def test_each_private_method_used_exists_with_the_parameters_we_pass(name):
    method = getattr(ModelView, name, None)
    assert callable(method), f"ModelView.{name} is gone: FlaskAdminInternals relies on it"
    parameters = list(inspect.signature(method).parameters)[1:]
    assert parameters == PRIVATE_METHODS[name], f"ModelView.{name}{parameters}: FlaskAdminInternals passes " \
                                                f"{PRIVATE_METHODS[name]}"


def test_no_other_module_reads_a_private_flask_admin_name():
    """Only FlaskAdminInternals may touch the names above (or `_filters`, `_template`…)."""
    private = set(PRIVATE_METHODS) | {"_filters", "_template", "_list_columns", "_apply_search", "_apply_filters",
                                      "_search_supported", "_filter_joins", "_sortable_columns"}
    names = "|".join(sorted(private))
    pattern = re.compile(rf"\b(?:self|super\(\)|view|admin_view)\.({names})\b|\bdef ({names})\(")
    base = (ROOT / "admin_views" / "base.py").read_text()
    inside = base[base.index("class FlaskAdminInternals"):base.index("# ---", base.index("class FlaskAdminInternals"))]
    offenders = []
    for path in sorted((ROOT / "admin_views").glob("*.py")):
        text = path.read_text()
        if path.name == "base.py":
            text = text.replace(inside, "")
        offenders += [f"{path.name}: {m.group(0)}" for m in pattern.finditer(text)]
    assert not offenders, offenders


def test_list_arguments_are_parsed_as_flask_admin_parses_them(app):
    from admin_views.enterprise import EnterprisePersonView

    view = EnterprisePersonView(name="人员清单", endpoint="pin_probe")
    index = next(i for i, f in enumerate(view._filters) if f.column is Person.status)
    arg = f"flt0_{view.get_filter_arg(index, view._filters[index])}"
    with app.test_request_context(f"/enterprise/pin_probe/?search=王&{arg}=submitted"):
        search, filters = view.list_arguments()
        assert search == "王"
        [(flt, value)] = view.active_filters(filters)
        assert (flt.column, value) == (Person.status, "submitted")
        # A filter applied to a select of persons gives a select whose WHERE is a condition on Person.
        narrowed = flt.apply(select(Person.id), value)
        assert narrowed.get_final_froms() == [Person.__table__] and narrowed.whereclause is not None


def test_the_internals_are_mixed_in_before_model_view():
    # Our _get_filter_groups must run before ModelView's, and call it through super().
    mro = PersonListView.__mro__
    assert mro.index(FlaskAdminInternals) < mro.index(BaseModelView)


@pytest.mark.parametrize("name", COPIED_TEMPLATES)
def test_copied_templates_define_every_macro_flask_admin_defines(name):
    """A copied template replaces Flask-Admin's: a macro added upstream would be missing from ours."""
    def macros(path):
        return set(re.findall(r"{%-?\s*macro\s+(\w+)", path.read_text()))

    ours, theirs = macros(ROOT / "templates" / name), macros(FLASK_ADMIN_TEMPLATES / name)
    assert theirs <= ours, f"templates/{name} lacks {sorted(theirs - ours)} of Flask-Admin {flask_admin.__version__}"
    assert f"Flask-Admin {FLASK_ADMIN_VERSION}" in (ROOT / "templates" / name).read_text()


def test_every_block_our_templates_fill_exists_in_the_template_they_extend(app):
    """A block Flask-Admin renamed or dropped would be skipped silently (buttons gone from a page)."""
    env = app.jinja_env
    missing = []
    with app.app_context():
        for path in sorted((ROOT / "templates").rglob("*.html")):
            name = path.relative_to(ROOT / "templates").as_posix()
            parent = _parent_of(path.read_text())
            if parent is None:
                continue
            missing += [f"{name}: {block}" for block in sorted(_outer_blocks(env, path.read_text())
                                                               - _chain_blocks(env, parent))]
    assert not missing, missing


def _outer_blocks(env, source):
    """The blocks a template fills, leaving out the new ones it opens inside them for its own children."""
    every = list(env.parse(source).find_all(nodes.Block))
    nested = {inner.name for block in every for inner in block.find_all(nodes.Block)}
    return {block.name for block in every} - nested


def _parent_of(source):
    match = re.search(r"{%-?\s*extends\s+(?:[\"']([^\"']+)[\"']|(admin_base_template))", source)
    if match is None:
        return None
    return match.group(1) or "admin/base.html"


def _chain_blocks(env, name):
    source, _, _ = env.loader.get_source(env, name)
    blocks = set(env.get_template(name).blocks)
    parent = _parent_of(source)
    return blocks | (_chain_blocks(env, parent) if parent else set())
