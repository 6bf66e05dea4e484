"""The department tree of the center console: 行业/属地 → departments → enterprises → subsidiaries.

A node is named by a short key that travels as a query argument: `dim:industry`,
`dept:12`, `ent:34`. `node_condition(key)` narrows a person list to the node, so the
全部… buttons of a list act on exactly the chosen node. An enterprise node includes its
subsidiaries (at any depth, whatever their own department): a group company's node holds
everyone of the group, as 天津港集团 expects.

Counts come grouped by department from the database and are rolled up here; enterprises'
own counts are asked only for the enterprises a page shows.
Enterprises are rendered only under the departments on the chosen path; the others load
theirs when opened (static/js/center.js), so a district of 10,000 enterprises stays light.
"""

import re
import threading
from dataclasses import dataclass, field

from flask import abort, has_request_context, request
from flask_admin import expose
from flask_login import current_user
from markupsafe import Markup, escape
from sqlalchemy import and_, select

from admin_views.base import EnterpriseNameSearchMixin, PersonListView, bounded_ids, bounded_int
from admin_views.labels import DIMENSION_LABELS
from extensions import db
from models import stats
from models.org import (
    Enterprise,
    ReviewDepartment,
    department_ids_under,
    enterprise_ids_with_subsidiaries,
    subsidiary_children,
)
from models.person import Person
from models.user import CENTER
from models.workflow import person_scope

NODE_PATTERN = re.compile(r"^(dim|dept|ent):([a-z]+|\d+)$")
NODE_SLOT = "__node__"


class NodeError(ValueError):
    """A node key that names nothing."""


@dataclass
class TreeNode:
    key: str
    kind: str
    label: str
    count: int = 0
    children: list = field(default_factory=list)
    open: bool = False
    selected: bool = False
    lazy: bool = False  # enterprises not rendered: loaded when the node is opened

    @property
    def expandable(self):
        return bool(self.children) or self.lazy


def parse_node(key):
    """Return (kind, value) of a node key; raise NodeError when it is malformed."""
    match = NODE_PATTERN.match(key or "")
    if not match:
        raise NodeError(key)
    kind, value = match.groups()
    if kind == "dim":
        if value not in DIMENSION_LABELS:
            raise NodeError(key)
        return kind, value
    if bounded_int(value) is None:
        raise NodeError(key)
    return kind, int(value)


def node_enterprise_ids(key):
    """Return a select of the ids of the enterprises a node covers."""
    kind, value = parse_node(key)
    if kind == "dim":
        departments = select(ReviewDepartment.id).where(ReviewDepartment.dimension == value)
        return select(Enterprise.id).where(Enterprise.department_id.in_(departments))
    if kind == "dept":
        return select(Enterprise.id).where(Enterprise.department_id.in_(sorted(department_ids_under(value))))
    return select(Enterprise.id).where(Enterprise.id.in_(sorted(enterprise_ids_with_subsidiaries(value))))


def node_condition(key):
    """Return a condition on Person selecting the persons of a node."""
    return Person.enterprise_id.in_(node_enterprise_ids(key))


# ---------------------------------------------------------------- building the tree

# The tree's departments as rows (a tree reads five columns, not ORM objects), with whether each
# reviews an enterprise (one index probe per department).
DEPARTMENT_ROWS = (select(ReviewDepartment.id, ReviewDepartment.name, ReviewDepartment.dimension,
                          ReviewDepartment.parent_id,
                          select(Enterprise.id).where(Enterprise.department_id == ReviewDepartment.id)
                          .exists().label("has_enterprises"))
                   .order_by(ReviewDepartment.sort_order, ReviewDepartment.id))


class _Index:
    """Departments, their counts and subsidiaries of one request, for rolling up.

    Counts per department come grouped from the database (a few dozen rows); counts per
    enterprise are asked only for the enterprises a page shows (an opened department's).
    """

    def __init__(self, statuses, condition=None, own_counts=None, departments=None):
        self.statuses, self.condition = statuses, condition
        self.departments = db.session.execute(DEPARTMENT_ROWS).all() if departments is None else departments
        self.by_id = {d.id: d for d in self.departments}
        self.child_departments = {}
        for department in self.departments:
            self.child_departments.setdefault(department.parent_id, []).append(department)
        self.own_counts = stats.persons_by_department(statuses, condition) if own_counts is None else own_counts
        self.with_enterprises = {d.id for d in self.departments if d.has_enterprises}
        self._subsidiaries = None
        self.person_counts = {}

    @property
    def subsidiaries(self):
        """{enterprise id: its direct subsidiaries}, read when an enterprise is shown (not for the district's tree)."""
        if self._subsidiaries is None:
            self._subsidiaries = subsidiary_children()
        return self._subsidiaries

    def department_counts(self):
        """Return {department id: persons counted in it and every unit below it}."""
        totals = {}

        def total(department):
            if department.id not in totals:
                totals[department.id] = self.own_counts.get(department.id, 0) + sum(
                    total(child) for child in self.child_departments.get(department.id, ())
                )
            return totals[department.id]

        for department in self.departments:
            total(department)
        return totals

    def load_enterprise_counts(self, enterprise_ids):
        """Fetch the counts of these enterprises and of every subsidiary below them."""
        wanted = {i for e in enterprise_ids for i in enterprise_ids_with_subsidiaries(e, self.subsidiaries)}
        wanted -= set(self.person_counts)
        if wanted:
            found = stats.persons_by_enterprise(self.statuses, self.condition, enterprise_ids=sorted(wanted))
            self.person_counts.update({i: found.get(i, 0) for i in wanted})

    def enterprise_count(self, enterprise_id):
        return sum(self.person_counts.get(i, 0)
                   for i in enterprise_ids_with_subsidiaries(enterprise_id, self.subsidiaries))


def _enterprise_node(enterprise, index, loaded, open_ids, selected):
    key = f"ent:{enterprise.id}"
    node = TreeNode(key, "ent", enterprise.name, index.enterprise_count(enterprise.id),
                    open=enterprise.id in open_ids, selected=key == selected)
    for child_id in index.subsidiaries.get(enterprise.id, ()):
        child = loaded.get(child_id)
        if child is not None:
            node.children.append(_enterprise_node(child, index, loaded, open_ids, selected))
    return node


def _enterprises_of(department_id, index, open_ids=(), selected=None):
    """Return the enterprise nodes of one department (groups nest their subsidiaries)."""
    rows = db.session.execute(
        select(Enterprise).where(Enterprise.department_id == department_id).order_by(Enterprise.id)
    ).scalars().all()
    loaded = {e.id: e for e in rows}
    # Subsidiaries of this department's groups that sit in other departments.
    missing = set()
    for enterprise in rows:
        missing.update(i for i in enterprise_ids_with_subsidiaries(enterprise.id, index.subsidiaries)
                       if i not in loaded)
    if missing:
        for enterprise in db.session.execute(select(Enterprise).where(Enterprise.id.in_(missing))).scalars():
            loaded[enterprise.id] = enterprise
    tops = [e for e in rows if e.parent_id is None or loaded.get(e.parent_id) is None
            or loaded[e.parent_id].department_id != department_id]
    index.load_enterprise_counts(loaded)
    nodes = [_enterprise_node(e, index, loaded, open_ids, selected) for e in tops]
    # People waiting first, then the order the enterprises registered in.
    nodes.sort(key=lambda n: n.count == 0)
    return nodes


def _path_of(selected):
    """Return (departments to open, enterprises to open) so the selected node is visible."""
    if not selected:
        return set(), set(), None
    kind, value = parse_node(selected)
    if kind == "dim":
        return set(), set(), value
    if kind == "dept":
        department = db.session.get(ReviewDepartment, value)
        if department is None:
            return set(), set(), None
        return _department_chain(department), set(), department.dimension
    enterprise = db.session.get(Enterprise, value)
    if enterprise is None:
        return set(), set(), None
    open_enterprises = {enterprise.id}  # show the chosen group's subsidiaries
    seen = set()
    while enterprise.parent is not None and enterprise.id not in seen:
        seen.add(enterprise.id)
        enterprise = enterprise.parent
        open_enterprises.add(enterprise.id)
    department = enterprise.department
    return _department_chain(department), open_enterprises, department.dimension


def _department_chain(department):
    chain, seen = set(), set()
    while department is not None and department.id not in seen:
        seen.add(department.id)
        chain.add(department.id)
        department = department.parent
    return chain


def build_tree(statuses, selected=None, condition=None, own_counts=None, departments=None):
    """Return the two dimension nodes with their departments, counting persons in `statuses`.

    `own_counts` ({department id: persons}) and `departments` (DEPARTMENT_ROWS) when the caller has them.
    """
    index = _Index(statuses, condition, own_counts, departments)
    counts = index.department_counts()
    open_departments, open_enterprises, open_dimension = _path_of(selected)

    def department_node(department):
        key = f"dept:{department.id}"
        node = TreeNode(key, "dept", department.name, counts.get(department.id, 0),
                        open=department.id in open_departments, selected=key == selected)
        node.children = [department_node(child) for child in index.child_departments.get(department.id, ())]
        if department.id in index.with_enterprises:
            if node.open:
                node.children.extend(_enterprises_of(department.id, index, open_enterprises, selected))
            else:
                node.lazy = True
        return node

    roots = []
    for dimension, label in DIMENSION_LABELS.items():
        key = f"dim:{dimension}"
        tops = [department_node(d) for d in index.child_departments.get(None, ()) if d.dimension == dimension]
        roots.append(TreeNode(key, "dim", label, sum(n.count for n in tops), tops,
                              open=dimension == open_dimension or not selected, selected=key == selected))
    return roots


def enterprise_children(department_id, statuses, selected=None, condition=None):
    """Return the enterprise nodes of one department (the lazily loaded part of the tree)."""
    index = _Index(statuses, condition)
    if department_id not in index.by_id:
        raise NodeError(f"dept:{department_id}")
    return _enterprises_of(department_id, index, selected=selected)


def tree_html(nodes, node_urls, count_label=""):
    """The tree's HTML: a list of nodes, each a link with its count, departments folding their children.

    Drawn here rather than by a recursive template macro: a district's tree has a hundred
    nodes, and a macro call per node cost about as much as the page's list.
    """
    slot, index_url, tree_url = node_urls["slot"], node_urls["index"], node_urls["tree"]
    title = escape(count_label)
    parts = ['<ul class="tree">']
    for node in nodes:
        href = escape(index_url.replace(slot, node.key))
        link_class, current = ("tree-link selected", ' aria-current="true"') if node.selected else ("tree-link", "")
        count_class = "tree-count zero" if not node.count else "tree-count"
        link = (f'<a class="{link_class}" href="{href}"{current}>{escape(node.label)}</a>'
                f'<span class="{count_class}" title="{title}">{node.count}</span>')
        parts.append(f'<li class="tree-node tree-{node.kind}">')
        if node.expandable:
            lazy = f' data-lazy="{escape(tree_url.replace(slot, node.key))}"' if node.lazy else ""
            parts.append(f'<details{" open" if node.open else ""}{lazy}><summary>{link}</summary>')
            if node.children:
                parts.append(tree_html(node.children, node_urls, count_label))
            if node.lazy:
                parts.append(f'<div class="tree-lazy"><a href="{href}">查看下属企业…</a></div>')
            parts.append("</details>")
        else:
            parts.append(f'<div class="tree-leaf">{link}</div>')
        parts.append("</li>")
    parts.append("</ul>")
    return Markup("".join(parts))


# The whole district's tree as HTML, by everything it is drawn from: the departments (names,
# places, whether they review an enterprise), their counts, the page's links. Most pages of a
# center list show it, and most show the same one: drawing it is as much work as the list.
_DISTRICT_TREES = {}
_DISTRICT_TREES_KEPT = 32
_district_trees_lock = threading.Lock()


def district_tree_html(statuses, own_counts, node_urls, count_label="", condition=None):
    """tree_html of build_tree with no node chosen, drawn once for the same departments, counts and links."""
    departments = db.session.execute(DEPARTMENT_ROWS).all()
    key = (tuple(statuses), tuple(tuple(d) for d in departments), tuple(sorted(own_counts.items())),
           node_urls["slot"], node_urls["index"], node_urls["tree"], count_label)
    with _district_trees_lock:
        html = _DISTRICT_TREES.get(key)
    if html is None:
        nodes = build_tree(statuses, None, condition, own_counts, departments=departments)
        html = tree_html(nodes, node_urls, count_label)
        with _district_trees_lock:
            if len(_DISTRICT_TREES) >= _DISTRICT_TREES_KEPT:
                _DISTRICT_TREES.pop(next(iter(_DISTRICT_TREES)))
            _DISTRICT_TREES[key] = html
    return html


# ---------------------------------------------------------------- the node's details

def describe_node(key):
    """Return (title, [(label, value)]) for the panel beside the tree; None for the whole district."""
    if not key:
        return None
    kind, value = parse_node(key)
    if kind == "dim":
        departments = db.session.execute(
            select(ReviewDepartment.id).where(ReviewDepartment.dimension == value)
        ).scalars().all()
        enterprises = sum(stats.enterprises_by_department().get(d, 0) for d in departments)
        return DIMENSION_LABELS[value], [("审核部门", f"{len(departments)} 个"), ("企业", f"{enterprises} 家")]
    if kind == "dept":
        department = db.session.get(ReviewDepartment, value)
        if department is None:
            raise NodeError(key)
        by_department = stats.enterprises_by_department()
        under = department_ids_under(department.id)
        return department.name, [
            ("维度", DIMENSION_LABELS.get(department.dimension, "")),
            ("上级部门", department.parent.name if department.parent else "—"),
            ("下属单位", "、".join(c.name for c in department.children) or "—"),
            ("联系电话", department.contact_phone or "—"),
            ("企业", f"{sum(by_department.get(d, 0) for d in under)} 家"),
        ]
    enterprise = db.session.get(Enterprise, value)
    if enterprise is None:
        raise NodeError(key)
    subsidiaries = len(enterprise_ids_with_subsidiaries(enterprise.id)) - 1
    return enterprise.name, [
        ("企业名称", enterprise.name),
        ("统一社会信用代码", enterprise.credit_code),
        ("企业地址", enterprise.address or "—"),
        ("联系人", enterprise.contact_name or "—"),
        ("联系电话", enterprise.phone or "—"),
        ("申报部门", enterprise.department.name if enterprise.department else "—"),
        ("所属辖区", enterprise.territory.name if enterprise.territory else "—"),
        ("上级企业", enterprise.parent.name if enterprise.parent else "—"),
        ("下属企业", f"{subsidiaries} 家（已含在本节点人员中）" if subsidiaries else "—"),
    ]


# ---------------------------------------------------------------- the list view beside the tree

@dataclass(frozen=True)
class ToolButton:
    """A button above a person list.

    kind: "all" posts the action for every row of the current list (全部…);
    "ticked" posts it for the ticked rows (批量…); "choose_all" / "choose_ticked" open
    the view's `endpoint` page (e.g. 请选择接种站) for the whole list or the ticked rows.
    """

    kind: str
    action: str
    label: str
    confirm: str | None = None
    reason: str | None = None  # placeholder of a required reason field, when the action needs one
    style: str = "primary"
    endpoint: str | None = None


class TreePersonListView(EnterpriseNameSearchMixin, PersonListView):
    """A center person list narrowed by the department tree on its left (?node=…)."""

    tree_html = staticmethod(tree_html)  # for the templates (center/_macros.html)

    role = CENTER
    list_template = "center/tree_list.html"
    tree_statuses = ()
    tree_title = "审核部门"
    tree_count_label = ""
    tool_buttons = {}
    column_display_actions = False
    column_list = ("enterprise.name", "name", "gender", "id_number", "age", "phone", "category", "status")
    column_searchable_list = ("name", "id_number")

    def current_node(self):
        """The chosen node key (None: the whole district); 404 for a key naming nothing."""
        key = request.args.get("node") or None
        if key is not None:
            try:
                parse_node(key)
            except NodeError:
                abort(404)
        return key

    def node_condition(self):
        key = self.current_node()
        return None if key is None else node_condition(key)

    def tree_condition(self):
        """A condition on Person that the tree's counts and the list share (None: none)."""
        return None

    def narrowing_conditions(self):
        """Everything that narrows the list besides the tab: the node, the view's own condition."""
        conditions = [c for c in (self.node_condition(), self.tree_condition()) if c is not None]
        return tuple(conditions)

    def extra_conditions(self):
        return tuple(super().extra_conditions()) + self.narrowing_conditions()

    def link_args(self):
        """Query arguments every link of the page keeps (besides tab and node)."""
        return {}

    def node_urls(self):
        """The tree's two links with a slot where each node's key goes (keys need no escaping)."""
        args = {"tab": self.current_tab(), "node": NODE_SLOT, **self.link_args()}
        return {"slot": NODE_SLOT, "index": self.get_url(".index_view", **args),
                "tree": self.get_url(".tree_fragment", **args)}

    def current_buttons(self):
        return self.tool_buttons.get(self.current_tab(), ())

    @property
    def bulk_buttons(self):
        # The 全部… actions act_on_all accepts: only those shown on the current tab.
        if not has_request_context():
            return ()
        return tuple((b.action, b.label, b.confirm) for b in self.current_buttons() if b.kind == "all")

    def tab_counts(self):
        """Return {tab: count} for the current node with one GROUP BY status (once per request)."""
        memo = request.environ  # one request's own (flask.g may outlive a request in tests)
        if "binhai.tab_counts" not in memo:
            shown = sorted({s for _, statuses in self.tabs.values() for s in statuses})
            if self.current_node() is None:
                by_status = {}
                for (_, status), n in self.district_counts().items():
                    by_status[status] = by_status.get(status, 0) + n
            else:
                by_status = stats.status_counts(and_(person_scope(current_user), Person.status.in_(shown),
                                                     *self.narrowing_conditions()))
            memo["binhai.tab_counts"] = {key: sum(by_status.get(s, 0) for s in statuses)
                                         for key, (_, statuses) in self.tabs.items()}
        return memo["binhai.tab_counts"]

    def district_counts(self):
        """{(department, status): persons} of the tabs' and the tree's statuses: one query for both.

        The center sees every person (person_scope is true), so without a chosen node the
        tabs count what the tree counts, with the view's own condition.
        """
        memo = request.environ
        if "binhai.district_counts" not in memo:
            statuses = sorted({s for _, group in self.tabs.values() for s in group} | set(self.tree_statuses))
            memo["binhai.district_counts"] = stats.persons_by_department_and_status(statuses, self.tree_condition())
        return memo["binhai.district_counts"]

    def tree_own_counts(self):
        """{department id: persons of the tree's statuses} from district_counts (no node chosen), else None."""
        if self.current_node() is not None:
            return None
        counts = {}
        for (department_id, status), n in self.district_counts().items():
            if status in self.tree_statuses:
                counts[department_id] = counts.get(department_id, 0) + n
        return counts

    def unfiltered_count(self):
        # The tabs above the list count the same rows: one query answers both.
        tab = self.current_tab()
        return super().unfiltered_count() if tab is None else self.tab_counts()[tab]

    def ticked_ids(self):
        """The ticked rows posted or passed in the query string (rowid=…)."""
        values = request.values.getlist("rowid")
        try:
            ids = {int(v) for v in values}
        except ValueError:
            abort(400)
        return sorted(set(bounded_ids(ids)))

    def chosen_condition(self):
        """The people a tool button posted for: the whole current list (scope=all) or the ticked rows."""
        scope = request.values.get("scope")
        if scope == "all":
            return self.current_list_condition()
        if scope == "ticked":
            return Person.id.in_(self.ticked_ids())
        abort(400)

    @expose("/tree")
    def tree_fragment(self):
        """The enterprises of one department, for a tree node opened in the browser."""
        try:
            kind, value = parse_node(request.args.get("node"))
            if kind != "dept":
                raise NodeError(kind)
            nodes = enterprise_children(value, self.tree_statuses, condition=self.tree_condition())
        except NodeError:
            abort(404)
        return self.render("center/tree_fragment.html", nodes=nodes, current_node=None, link_args=self.link_args(),
                           node_urls=self.node_urls())

    def tree_markup(self, node, urls):
        """The tree beside the list: the district's (drawn once while nothing in it changes), or opened at `node`."""
        if node is None:
            return district_tree_html(self.tree_statuses, self.tree_own_counts(), urls, self.tree_count_label,
                                      condition=self.tree_condition())
        nodes = build_tree(self.tree_statuses, node, condition=self.tree_condition(), own_counts=self.tree_own_counts())
        return tree_html(nodes, urls, self.tree_count_label)

    def render(self, template, **kwargs):
        if template == self.list_template:
            node = self.current_node()
            try:
                details = describe_node(node)
            except NodeError:
                abort(404)
            urls = self.node_urls()
            kwargs.update(
                tree_markup=self.tree_markup(node, urls),
                current_node=node, node_details=details, link_args=self.link_args(), node_urls=urls,
                tab_counts=self.tab_counts(), tool_buttons=self.current_buttons(),
                tree_title=self.tree_title, tree_count_label=self.tree_count_label,
            )
        return super().render(template, **kwargs)
