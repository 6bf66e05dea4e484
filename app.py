"""The application factory; `flask --app app …` finds create_app() here."""

import logging

from flask import Flask, render_template
from flask_wtf.csrf import CSRFError

import models  # noqa: F401 - registers every table with the metadata
from admin_views import init_consoles
from admin_views.base import BoundedIntConverter
from config import Config, instance_dir
from extensions import babel, csrf, db, limiter, login_manager, migrate
from public_forms.expired_session import expired_form_page
from services.connection_check import init_connection_check
from services.desk_connection import init_desk_engine
from services.input_hygiene import init_input_hygiene
from services.request_log import init_request_log
from services.security_headers import init_security_headers
from services.startup_checks import run_startup_checks


def create_app(config=None):
    """Build the app; `config` is a dict of settings overriding the environment."""
    app = Flask(__name__, instance_path=str(instance_dir()), instance_relative_config=True)
    app.url_map.converters["int"] = BoundedIntConverter  # <int:id> over the column's range: 404
    app.config.from_object(Config())
    if config:
        app.config.update(config)
    init_logging(app)
    init_extensions(app)
    init_blueprints(app)
    init_consoles(app)
    init_security_headers(app)
    init_error_pages(app)
    init_request_log(app)
    init_input_hygiene(app)  # after the request log: a refused request is logged too
    init_cli(app)
    run_startup_checks(app)
    return app


def init_logging(app):
    logging.basicConfig(level=app.config["LOG_LEVEL"], format="%(asctime)s %(levelname)s %(name)s %(message)s")


def init_extensions(app):
    db.init_app(app)
    init_desk_engine(app)
    init_connection_check(app)
    migrate.init_app(app, db, compare_type=True, render_as_batch=True)
    login_manager.init_app(app)
    login_manager.login_view = "portal.index"
    login_manager.login_message = "请先登录"
    csrf.init_app(app)
    babel.init_app(app, locale_selector=lambda: app.config["BABEL_DEFAULT_LOCALE"])
    limiter.init_app(app)


def init_blueprints(app):
    from public_forms import auth, portal

    app.register_blueprint(portal.bp)
    app.register_blueprint(auth.bp)
    from public_forms import forgot_password

    app.register_blueprint(forgot_password.bp)
    from public_forms import employee_form, registration

    app.register_blueprint(registration.bp)
    app.register_blueprint(employee_form.bp)
    from public_forms import self_service, verify

    app.register_blueprint(verify.bp)
    app.register_blueprint(self_service.bp)
    from api import bp as api_bp

    app.register_blueprint(api_bp)


def init_error_pages(app):
    def page(status, title, message):
        return render_template("message.html", title=title, message=message), status

    app.register_error_handler(403, lambda e: page(403, "无权访问", "当前账号无权访问此页面。"))
    app.register_error_handler(404, lambda e: page(404, "页面不存在", "您访问的页面不存在或已失效。"))
    app.register_error_handler(413, lambda e: page(413, "文件过大", "上传的文件过大。"))
    app.register_error_handler(429, lambda e: page(429, "操作过于频繁", "操作过于频繁，请稍后再试。"))
    app.register_error_handler(CSRFError, expired_form_page)
    app.register_error_handler(500, lambda e: page(500, "系统繁忙", "系统繁忙，请稍后再试。"))


def init_cli(app):
    from cli import register_commands

    register_commands(app)
