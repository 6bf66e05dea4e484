"""Flask-Admin's console chrome speaks Chinese: its own catalogue plus ours (translations/)."""

import io
import re
from pathlib import Path

import flask_admin
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from babel.support import Translations

REPO = Path(__file__).resolve().parents[1]
OURS = REPO / "translations"
THEIRS = Path(flask_admin.__file__).parent / "translations"
LOCALE = "zh_Hans_CN"
KEYWORDS = {"_gettext": None, "_ngettext": (1, 2), "gettext": None, "ngettext": (1, 2), "lazy_gettext": None}


def merged():
    """Both catalogues as the console loads them: ours first, Flask-Admin's merged over it."""
    translations = Translations.load(str(OURS), [LOCALE], "admin")
    return translations.merge(Translations.load(str(THEIRS), [LOCALE], "admin"))


def entries(catalog):
    def flat(value):
        return tuple(value) if isinstance(value, (list, tuple)) else value
    return {flat(m.id): flat(m.string) for m in catalog if m.id}


def test_the_compiled_catalogue_is_the_one_in_the_po_file():
    folder = OURS / LOCALE / "LC_MESSAGES"
    source = read_po(io.BytesIO((folder / "admin.po").read_bytes()))
    compiled = read_mo(io.BytesIO((folder / "admin.mo").read_bytes()))
    assert entries(source) == entries(compiled), \
        "admin.mo is stale: run .venv/bin/pybabel compile -D admin -d translations -l zh_Hans_CN"


def test_every_string_of_the_bootstrap4_console_chrome_has_a_chinese_translation():
    translations = merged()
    method_map = [("**/templates/bootstrap4/**.html", "jinja2"), ("**.py", "python")]
    missing = []
    for _, _, message, _, _ in extract_from_dir(str(THEIRS.parent), method_map, keywords=KEYWORDS):
        if isinstance(message, tuple):
            text = translations.ngettext(message[0], message[1], 2)
            english = message[1]
        else:
            text, english = translations.gettext(message), message
        if text == english and re.search(r"[A-Za-z]", re.sub(r"%\(\w+\)s", "", english)):
            missing.append(english)
    assert not missing, missing


def test_the_page_size_menu_is_chinese():
    translations = merged()
    for size in (20, 50, 100):
        assert translations.ngettext(f"{size} item", f"{size} items", size) == f"每页 {size} 条"


def test_a_console_list_shows_the_page_size_menu_in_chinese(client, login, make_user, make_enterprise):
    user = make_user("enterprise", make_enterprise())
    login(user)
    html = client.get("/enterprise/enterprise_persons/").get_data(as_text=True)
    assert "每页 20 条" in html and "每页 100 条" in html
    assert "20 items" not in html and "100 items" not in html
    # The menu's own button says the same (Flask-Admin's catalogue has '50 项目', "50 projects").
    assert re.search(r'data-toggle="dropdown" href="#">\s*每页 50 条\s*</a>', html)
    assert "项目" not in html
    assert ">批量操作</a>" in html and "选中的" not in html  # the menu of actions on ticked rows
