"""What every console page draws around its content, rendered once per process rather than per request.

The menu of a console is the same for every page of one view and every user who may see the
same items: it is rendered by Flask-Admin's own macro the first time and kept, keyed by the
console, the page's view and which items the user may reach (each item's is_accessible still
runs on every request, so an account sees exactly the items it saw before). The URLs of
Flask-Admin's CSS and scripts (a dozen url_for calls a page) are built once per console, and
the blocks that list them once per console and view, with the request's CSP nonce put in.
"""

from flask import current_app, request, url_for
from jinja2 import pass_context
from markupsafe import Markup

from services.security_headers import csp_nonce

# Far more than the consoles' views times the kinds of account: a full cache means something keys it oddly.
MAX_ENTRIES = 512


def _remember(name, key, make):
    """The value kept under `key` in the app's cache `name`, made on first use."""
    cache = current_app.extensions["console_layout"][name]
    value = cache.get(key)
    if value is None:
        if len(cache) >= MAX_ENTRIES:
            cache.clear()
        value = cache[key] = make()
    return value


def _reachable(items):
    """The menu items (and categories' children) the current user may see, by position."""
    return tuple((index, _reachable(item.get_children()) if item.is_category() else ())
                 for index, item in enumerate(items) if item.is_accessible() and item.is_visible())


@pass_context
def console_menu(context):
    """The console's menu (Flask-Admin's `layout.menu()`), rendered once per view and reachable items."""
    view = context["admin_view"]
    items = view.admin.menu()
    key = (request.script_root, view.admin.endpoint, view.endpoint, _reachable(items))

    def render():
        layout = context.environment.get_template("admin/layout.html").make_module(context.get_all())
        return Markup(layout.menu())

    return _remember("menus", key, render)


def admin_static_url(admin_endpoint, filename, **kwargs):
    """url_for of a Flask-Admin asset (admin/static.html's `url` macro), built once per console."""
    key = (request.script_root, admin_endpoint, filename, tuple(sorted(kwargs.items())))
    return _remember("static_urls", key, lambda: url_for(f"{admin_endpoint}.static", filename=filename, **kwargs))


NONCE_SLOT = "\x00nonce\x00"  # cannot occur in rendered HTML


@pass_context
def flask_admin_block(context, name, parent):
    """Flask-Admin's own `name` block (head_css, tail_js: its asset links), rendered once per console and view.

    `parent` is the block's `super`; the kept copy holds a slot where each request's nonce goes.
    """
    view = context["admin_view"]
    key = (request.script_root, view.admin.endpoint, name, tuple(view.extra_css or ()), tuple(view.extra_js or ()))
    nonce = csp_nonce()

    def render():
        return str(parent()).replace(nonce, NONCE_SLOT)

    return Markup(_remember("blocks", key, render).replace(NONCE_SLOT, nonce))


def init_console_layout(app):
    app.extensions["console_layout"] = {"menus": {}, "static_urls": {}, "blocks": {}}
    app.jinja_env.globals.update(console_menu=console_menu, admin_static_url=admin_static_url,
                                 flask_admin_block=flask_admin_block)
