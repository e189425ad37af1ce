"""English, the second language: the catalogue is complete, compiled, and reaches the admin, the map and the API.

Simplified Chinese is the source language, so a missing English entry shows Chinese to an English
reader; these tests make that a failure instead of something found by a visitor.
"""

from __future__ import annotations

import ast
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings
from django.utils import translation

from tests.factories import LotFactory

LOCALE_DIR = Path(settings.BASE_DIR) / "locale"
PO_PATH = LOCALE_DIR / "en" / "LC_MESSAGES" / "django.po"
MO_PATH = LOCALE_DIR / "en" / "LC_MESSAGES" / "django.mo"
CJK = re.compile(r"[\u4e00-\u9fff]")
# Where the marked strings live (makemessages is run with --ignore for everything else).
SOURCE_DIRS = ["apps", "templates", "wuxi_parking"]


@dataclass
class Entry:
    msgid: str = ""
    msgctxt: str | None = None
    msgid_plural: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    obsolete: bool = False

    @property
    def key(self) -> tuple[str | None, str]:
        return self.msgctxt, self.msgid


def read_po(path: Path) -> list[Entry]:
    """The entries of a .po file: enough of the format for makemessages' output (no polib here)."""
    entries: list[Entry] = []
    entry, target = Entry(), None

    def finish():
        nonlocal entry, target
        if target is not None:
            entries.append(entry)
        entry, target = Entry(), None

    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line:
            finish()
            continue
        if line.startswith("#~"):
            entry.obsolete = True
            line = line[2:].strip()
        elif line.startswith("#,"):
            entry.flags.update(flag.strip() for flag in line[2:].split(","))
            continue
        elif line.startswith("#"):
            continue
        if line.startswith('"'):
            value = ast.literal_eval(line)
        else:
            keyword, _, quoted = line.partition(" ")
            value = ast.literal_eval(quoted)
            if keyword in ("msgctxt", "msgid") and target not in (None, "msgctxt"):
                finish()  # entries without a blank line between them
            if keyword.startswith("msgstr["):
                target = int(keyword[7:-1])
            elif keyword == "msgstr":
                target = 0
            else:
                target = keyword
            if isinstance(target, int):
                entry.msgstr[target] = ""
            else:
                setattr(entry, target, "")
        if isinstance(target, int):
            entry.msgstr[target] += value
        else:
            setattr(entry, target, getattr(entry, target) + value)
    finish()
    return entries


def _messages(path: Path) -> list[Entry]:
    return [e for e in read_po(path) if e.msgid and not e.obsolete]


# --- the catalogue ---------------------------------------------------------------------------

def test_every_message_has_an_english_translation():
    messages = _messages(PO_PATH)
    assert len(messages) > 400
    untranslated = [e.msgid for e in messages if not all(e.msgstr.values())]
    fuzzy = [e.msgid for e in messages if "fuzzy" in e.flags]
    header = next(e for e in read_po(PO_PATH) if e.msgid == "")
    assert untranslated == []
    assert fuzzy == []
    assert "fuzzy" not in header.flags  # msgfmt drops a fuzzy header and with it the plural rule
    assert "Language: en" in header.msgstr[0]


def test_translations_keep_every_placeholder():
    placeholder = re.compile(r"%\([a-z_]+\)[-.0-9]*[sdfr]|%[sd]|\{[a-z_0-9]*\}")
    wrong = []
    for e in _messages(PO_PATH):
        expected = sorted(placeholder.findall(e.msgid))
        for text in e.msgstr.values():
            if sorted(placeholder.findall(text)) != expected:
                wrong.append((e.msgid, text))
    assert wrong == []


def test_english_translations_contain_no_chinese():
    assert [e.msgid for e in _messages(PO_PATH) if any(CJK.search(t) for t in e.msgstr.values())] == []


def test_compiled_catalogue_is_current():
    """The .mo is committed (a fresh machine may lack gettext), so it must match the .po it came from."""
    assert MO_PATH.exists()
    assert MO_PATH.stat().st_size > 10_000
    with translation.override("en"):
        for e in _messages(PO_PATH):
            if e.msgid_plural:
                got = translation.npgettext(e.msgctxt, e.msgid, e.msgid_plural, 2) if e.msgctxt else \
                    translation.ngettext(e.msgid, e.msgid_plural, 2)
                assert got == e.msgstr[1]
            elif e.msgctxt:
                assert translation.pgettext(e.msgctxt, e.msgid) == e.msgstr[0]
            else:
                assert translation.gettext(e.msgid) == e.msgstr[0], e.msgid


@pytest.mark.skipif(shutil.which("xgettext") is None, reason="gettext tools are not installed")
def test_catalogue_covers_every_marked_string(tmp_path, monkeypatch):
    """Every string marked in the source has an entry: running makemessages again would add nothing.

    makemessages writes next to the sources it reads, so it runs on a copy and never touches locale/.
    """
    source = tmp_path / "src"
    for folder in SOURCE_DIRS:
        shutil.copytree(Path(settings.BASE_DIR) / folder, source / folder,
                        ignore=shutil.ignore_patterns("__pycache__", "migrations", "*.pyc"))
    (source / "locale").mkdir()
    monkeypatch.chdir(source)
    with override_settings(LOCALE_PATHS=[source / "locale"]):
        call_command("makemessages", locale=["en"], verbosity=0)
    fresh = {e.key for e in _messages(source / "locale" / "en" / "LC_MESSAGES" / "django.po")}
    known = {e.key for e in _messages(PO_PATH)}
    assert len(fresh) > 400
    assert sorted(fresh - known, key=str) == []


_TEMPLATE_MARKED = re.compile(
    r"{%\s*(?:translate|trans)\s.*?%}|{%\s*blocktranslate.*?endblocktranslate\s*%}|{#.*?#}"
    r"|{%\s*comment\s*%}.*?{%\s*endcomment\s*%}", re.S)


def test_templates_mark_all_their_chinese_text():
    base = Path(settings.BASE_DIR)
    templates = [*base.glob("templates/**/*.html"), *base.glob("apps/*/templates/**/*.html")]
    assert len(templates) >= 5
    unmarked = {str(path.relative_to(base)): CJK.findall(_TEMPLATE_MARKED.sub("", path.read_text(encoding="utf-8")))
                for path in templates}
    assert {path: chars for path, chars in unmarked.items() if chars} == {}


_GETTEXT = {"_", "gettext", "gettext_lazy", "gettext_noop", "ngettext", "ngettext_lazy", "pgettext", "pgettext_lazy",
            "npgettext", "npgettext_lazy"}


def _unmarked_chinese(path: Path) -> list[tuple[int, str]]:
    """Chinese string literals outside a gettext call, docstrings aside."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                skip.add(id(first.value))
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if name in _GETTEXT:
                skip.update(id(sub) for arg in node.args for sub in ast.walk(arg))
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and CJK.search(node.value)
            and id(node) not in skip]


def test_admin_models_and_app_names_mark_all_their_chinese_text():
    base = Path(settings.BASE_DIR)
    files = [path for name in ("admin.py", "models.py", "apps.py") for path in base.glob(f"apps/*/{name}")]
    assert len(files) >= 15
    found = {str(path.relative_to(base)): _unmarked_chinese(path) for path in files}
    assert {path: strings for path, strings in found.items() if strings} == {}


def test_the_unmarked_chinese_check_finds_what_it_should(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text('"""模块说明。"""\nfrom django.utils.translation import gettext_lazy as _\n'
                      'a = _("停车场")\nb = "泊位"\nc = f"{a}个"\n', encoding="utf-8")
    assert _unmarked_chinese(sample) == [(4, "泊位"), (5, "个")]


def test_a_few_translations_read_as_english():
    with translation.override("en"):
        assert translation.gettext("停车场") == "Parking lot"
        assert translation.pgettext("plural", "停车场") == "Parking lots"
        assert translation.gettext("统一社会信用代码") == "Unified social credit code"
        assert translation.gettext("先离场后付费") == "Leave first, pay later"
        assert translation.gettext("未找到停车场 %(code)s") % {"code": "WX-1"} == "Parking lot WX-1 not found"
    with translation.override("zh-hans"):
        assert translation.gettext("停车场") == "停车场"


# --- the admin -------------------------------------------------------------------------------

@pytest.mark.django_db
def test_admin_index_follows_accept_language(admin_client):
    english = admin_client.get("/admin/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Parking lots" in english
    assert "Operators" in english
    assert "停车场" not in english

    chinese = admin_client.get("/admin/", HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9").content.decode()
    assert "停车场" in chinese
    assert "Parking lots" not in chinese

    default = admin_client.get("/admin/").content.decode()  # no preference: Chinese, the default
    assert "停车场" in default
    assert "Parking lots" not in default


@pytest.mark.django_db
def test_set_language_view_switches_the_admin_to_english(admin_client):
    LotFactory()
    response = admin_client.post("/i18n/setlang/", {"language": "en", "next": "/admin/"})
    assert response.status_code == 302
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    # The cookie wins over a browser that asks for Chinese.
    page = admin_client.get("/admin/lots/parkinglot/", HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    assert "Parking lots" in page
    assert "Free/total spaces" in page
    assert "空余/总泊位" not in page


@pytest.mark.django_db
def test_language_cookie_alone_selects_english(admin_client):
    admin_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page = admin_client.get("/admin/lots/parkinglot/add/").content.decode()
    assert "Add Parking lot" in page
    assert "Off-street car park" in page
    assert "Allow leave first, pay later" in page
    assert "路外停车场" not in page


# --- the public map --------------------------------------------------------------------------

@pytest.mark.django_db
def test_map_page_in_english(client):
    page = client.get("/map/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="en">' in page
    assert "Wuxi Parking" in page
    assert "All regions" in page
    assert "Loading parking lots" in page  # the text map.js shows, handed over in the page's JSON
    assert "无锡停车" not in page
    assert "正在加载停车场" not in page


@pytest.mark.django_db
def test_map_page_in_chinese_by_default(client):
    page = client.get("/map/").content.decode()
    assert '<html lang="zh-hans">' in page
    assert "全部区域" in page
    assert "Loading parking lots" not in page


# --- API messages ----------------------------------------------------------------------------

@pytest.mark.django_db
def test_api_error_message_follows_accept_language(client):
    english = client.get("/api/v1/lots/NO-SUCH-LOT/", HTTP_ACCEPT_LANGUAGE="en")
    chinese = client.get("/api/v1/lots/NO-SUCH-LOT/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert english.status_code == chinese.status_code == 404
    assert english.json()["error"]["code"] == chinese.json()["error"]["code"]
    assert english.json()["error"]["message"] == "Parking lot NO-SUCH-LOT not found"
    assert chinese.json()["error"]["message"] == "未找到停车场 NO-SUCH-LOT"


@pytest.mark.django_db
def test_api_validation_message_follows_accept_language(client):
    lot = LotFactory()
    params = {"lot": lot.code, "entry": "2026-03-17T11:00:00+08:00", "exit": "2026-03-17T09:00:00+08:00"}
    english = client.get("/api/v1/fees/quote", params, HTTP_ACCEPT_LANGUAGE="en").json()["error"]
    chinese = client.get("/api/v1/fees/quote", params).json()["error"]
    assert english["details"]["field"] == chinese["details"]["field"] == "exit"
    assert english["message"] == "exit: The exit time cannot be earlier than the entry time"
    assert chinese["message"] == "exit: 离场时间不能早于入场时间"
