"""The console layout kept per process (admin_views/console_layout.py) shows each user their own menu."""

import re

MENU = re.compile(r'<ul class="nav navbar-nav mr-auto">(.*?)</ul>', re.S)
ITEM = re.compile(r'<li( class="active")?>\s*<a class="nav-link [^"]*" href="([^"]+)">\s*([^<]+?)</a>', re.S)


def menu_of(client, url):
    """[(label, href, active)] of the console menu on the page at `url`."""
    response = client.get(url)
    assert response.status_code == 200, url
    [menu] = MENU.findall(response.get_data(as_text=True))
    return [(label.strip(), href, bool(active)) for active, href, label in ITEM.findall(menu)]


def test_each_page_marks_its_own_item_of_a_menu_drawn_once(app, make_user, make_enterprise, login):
    client = login(make_user("enterprise", make_enterprise()))
    home, again = menu_of(client, "/enterprise/"), menu_of(client, "/enterprise/")
    on_import = menu_of(client, "/enterprise/import/")
    assert home == again
    assert [label for label, _, active in home if active] == ["企业看板"]
    assert [label for label, _, active in on_import if active] == ["批量导入"]
    assert [label for label, _, _ in home] == [label for label, _, _ in on_import] == [
        "企业看板", "人员清单", "批量导入", "企业专属二维码"]


def test_an_account_that_reaches_fewer_pages_gets_the_shorter_menu(app, make_user, make_enterprise, login):
    with_unit = login(make_user("enterprise", make_enterprise()))
    assert len(menu_of(with_unit, "/enterprise/")) == 4
    without_unit = login(make_user("enterprise"), test_client=app.test_client())
    assert [label for label, _, _ in menu_of(without_unit, "/enterprise/")] == ["企业看板", "人员清单"]
    assert len(menu_of(with_unit, "/enterprise/")) == 4


def test_asset_links_are_the_ones_flask_admin_builds(app, make_user, login):
    client = login(make_user("center"))
    page = client.get("/center/lots/").get_data(as_text=True)
    with app.test_request_context():
        from flask import url_for

        jquery = url_for("center.static", filename="vendor/jquery.min.js", v="3.5.1")
    assert f'src="{jquery}"' in page
    assert 'href="/center/static/admin/css/bootstrap4/admin.css?v=1.1.1"' in page


def test_the_kept_asset_blocks_carry_each_responses_own_nonce(app, make_user, login):
    client = login(make_user("center"))
    seen = set()
    for _ in range(3):
        response = client.get("/center/lots/")
        [nonce] = re.findall(r"'nonce-([^']+)'", response.headers["Content-Security-Policy"])
        page = response.get_data(as_text=True)
        tags = re.findall(r'<(?:script|link)\b[^>]*\bnonce="([^"]*)"', page)
        assert len(tags) >= 10 and set(tags) == {nonce}
        seen.add(nonce)
    assert len(seen) == 3
