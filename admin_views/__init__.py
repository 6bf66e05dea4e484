"""One Flask-Admin console per role, built inside create_app()."""

from pathlib import Path

from flask_admin import Admin
from flask_admin.theme import Bootstrap4Theme

from admin_views import center, enterprise, labels, review, station, system
from admin_views.base import query_args
from admin_views.console_layout import init_console_layout
from admin_views.labels import ROLE_LABELS

CONSOLE_MODULES = {
    "enterprise": enterprise,
    "review": review,
    "center": center,
    "station": station,
    "admin": system,
}

TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"


def init_consoles(app):
    """Mount each role's console under /<role>/ and return them by role."""
    consoles = {}
    for role, module in CONSOLE_MODULES.items():
        console = Admin(
            app,
            name=f"滨海新区疫苗接种管理系统 · {ROLE_LABELS[role]}",
            index_view=module.home_view(),
            theme=Bootstrap4Theme(base_template="admin/console_base.html", fluid=True),
            translations_path=str(TRANSLATIONS) if TRANSLATIONS.is_dir() else None,
        )
        module.build_console(console)
        consoles[role] = console
    app.extensions["consoles"] = consoles
    init_console_layout(app)
    app.jinja_env.globals["query_args"] = query_args
    app.jinja_env.globals["labels"] = labels  # every template words codes from the one table
    return consoles
