"""What browser tests do the same way on every page: logging in through a console's login page."""

import re

from tests.conftest import TEST_PASSWORD


def log_in(page, role, username, password=TEST_PASSWORD, *, base_url="", landed=True):
    """Log in at /login/<role> as a user would; with `landed`, wait until the console's first page is loaded.

    `base_url` is for pages of a context opened without one.
    """
    page.goto(f"{base_url}/login/{role}")
    page.get_by_label("账号").fill(username)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    if landed:
        page.wait_for_url(re.compile(rf"/{role}/"))
    page.wait_for_load_state()
