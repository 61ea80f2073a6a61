"""The console's Simplified Chinese: every message of the sources is translated (none fuzzy,
placeholders kept), the compiled catalogue is the one the .po describes, and pages read in
Chinese by default, with no English left, and in English once a person chooses it."""

from __future__ import annotations

import re
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from flask.testing import FlaskClient

from tests.console.conftest import Browser
from tests.factories import PROJECT_CODE, parcel_data

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "hub" / "console" / "translations"
TEMPLATE = TRANSLATIONS / "messages.pot"
CHINESE = TRANSLATIONS / "zh_Hans_CN" / "LC_MESSAGES" / "messages.po"
COMPILED = CHINESE.with_suffix(".mo")
# the keywords `make translations` extracts with (see the Makefile and babel.cfg)
KEYWORDS = {**DEFAULT_KEYWORDS, "lazy_gettext": None, "_l": None}
# %(name)s, %(count)d ... and marshmallow's {min}, {max}
PLACEHOLDER = re.compile(r"%\(\w+\)[sdifr]|\{\w+\}")
CJK = re.compile(r"[\u4e00-\u9fff]")
# words the Chinese pages must not show, and the English ones must
ENGLISH_WORDS = ("Sign out", "Projects", "Access keys", "Sharing requests", "Users", "Audit")


def load(path: Path) -> Catalog:
    with path.open("rb") as file:
        return read_po(file)


def messages(catalog: Catalog) -> list[Message]:
    return [message for message in catalog if message.id]


def singular(message: Message) -> str:
    return str(message.id[0] if isinstance(message.id, tuple | list) else message.id)


def forms(message: Message) -> list[str]:
    """The translation's forms (one for a Chinese plural)."""
    if isinstance(message.string, tuple | list):
        return [str(form or "") for form in message.string]
    return [str(message.string or "")]


def placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text))


@pytest.fixture(scope="module")
def chinese() -> Catalog:
    return load(CHINESE)


# ---------- the catalogue ----------


def test_every_message_has_a_chinese_translation_and_none_is_fuzzy(chinese: Catalog) -> None:
    found = messages(chinese)
    assert len(found) > 400, "the catalogue holds the console's messages"
    untranslated = [singular(m) for m in found if not all(f.strip() for f in forms(m))]
    fuzzy = [singular(m) for m in found if m.fuzzy]
    assert untranslated == [], "translate these in messages.po"
    assert fuzzy == [], "check these translations, then remove their fuzzy flag"
    assert chinese.fuzzy is False, "the catalogue's header is not fuzzy"


def test_every_translation_is_chinese(chinese: Catalog) -> None:
    """A translation copied from its English msgid is no translation."""
    english = [singular(m) for m in messages(chinese) if not any(CJK.search(f) for f in forms(m))]
    assert english == []


def test_placeholders_in_each_translation_match_the_msgid(chinese: Catalog) -> None:
    wrong = {}
    for message in messages(chinese):
        ids = message.id if isinstance(message.id, tuple | list) else (message.id,)
        expected = set().union(*(placeholders(str(text)) for text in ids))
        for form in forms(message):
            if placeholders(form) != expected:
                wrong[singular(message)] = (sorted(expected), form)
    assert wrong == {}


def test_the_template_and_the_chinese_catalogue_hold_the_same_messages(chinese: Catalog) -> None:
    template = {singular(m) for m in messages(load(TEMPLATE))}
    assert {singular(m) for m in messages(chinese)} == template, "run `make translations`"


def test_every_message_of_the_sources_is_in_the_catalogue(chinese: Catalog) -> None:
    """What `make translations` would extract today: a new `_()` in a view or template must
    be extracted and translated before it reaches a page."""
    with (ROOT / "babel.cfg").open() as config:
        method_map, options_map = parse_mapping_cfg(config)  # type: ignore[no-untyped-call]
    extracted = {
        str(found[2][0] if isinstance(found[2], tuple) else found[2])
        for found in extract_from_dir(str(ROOT), method_map, options_map, keywords=KEYWORDS)
    }
    missing = sorted(extracted - {singular(m) for m in messages(chinese)})
    assert missing == [], "run `make translations` and translate these in messages.po"


def test_the_compiled_catalogue_is_the_one_the_po_describes(chinese: Catalog) -> None:
    assert COMPILED.exists(), "compile it: `make pytest` does (pybabel compile)"
    with COMPILED.open("rb") as file:
        compiled = {singular(m): forms(m) for m in messages(read_mo(file))}
    stale = [singular(m) for m in messages(chinese) if compiled.get(singular(m)) != forms(m)]
    assert stale == [], "messages.mo is older than messages.po: recompile it"


# ---------- the pages ----------


class PageText(HTMLParser):
    """What a person reads or hears on a page: its text (scripts aside), its title, and the
    attributes read out or shown (aria-label, title, alt, placeholder, data-confirm ...)."""

    SPOKEN = frozenset(
        {"aria-label", "title", "alt", "placeholder", "data-confirm", "data-copied-label"}
    )

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self.skipping += 1
        self.parts.extend(value for name, value in attrs if name in self.SPOKEN and value)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self.skipping:
            self.skipping -= 1

    def handle_data(self, data: str) -> None:
        if not self.skipping and data.strip():
            self.parts.append(data.strip())


def page_text(response: Any, status: int = 200) -> str:
    assert response.status_code == status, response.get_data(as_text=True)[:2000]
    parser = PageText()
    parser.feed(response.get_data(as_text=True))
    return "\n".join(parser.parts)


def english_phrases(chinese: Catalog) -> list[str]:
    """The English of every message of two words or more, as a page could show it (the
    longest stretch between its placeholders)."""
    phrases = set()
    for message in messages(chinese):
        for text in message.id if isinstance(message.id, tuple | list) else (message.id,):
            longest = max(PLACEHOLDER.split(str(text)), key=len).strip(" .:,;?")
            if len(re.findall(r"[A-Za-z]+", longest)) >= 2:
                phrases.add(longest)
    return sorted(phrases, key=len, reverse=True)


@pytest.fixture
def sample(
    admin: dict[str, str],
    publish: Callable[..., Any],
    project: str,
    make_key: Callable[..., str],
    client: FlaskClient,
    headers: Callable[..., dict[str, str]],
) -> None:
    """Something on every page: a project and a land parcel, a key, a pending request."""
    assert publish("land_parcel", "L-1", parcel_data()).status_code == 201
    make_key("land", ["records:read", "records:write"], name="land connector")
    asked = client.post(
        "/api/v1/grants",
        json={"type": "land_parcel", "purpose": "核对土地出让金拨付进度"},
        headers=headers("finance", ["grants", "records:read"]),
    )
    assert asked.status_code == 201, asked.get_data(as_text=True)


ADMIN_PAGES = (
    "/console/",
    "/console/projects",
    f"/console/projects/{PROJECT_CODE}",
    f"/console/records/project/{PROJECT_CODE}/history",
    "/console/grants",
    "/console/departments",
    "/console/departments/land",
    "/console/keys",
    "/console/users",
    "/console/audit",
    "/console/connectors",
)
OFFICER_PAGES = (
    "/console/",
    "/console/grants",
    "/console/grants?box=outbox",
    "/console/grants/new",
    "/console/subscriptions",
    f"/console/projects/{PROJECT_CODE}",
)


def assert_no_english(text: str, phrases: list[str], path: str) -> None:
    shown = [word for word in ENGLISH_WORDS if re.search(rf"\b{word}\b", text)]
    shown += [phrase for phrase in phrases if phrase in text]
    assert shown == [], f"{path} shows English in Chinese: {shown}"


def test_the_sign_in_page_is_chinese_by_default(visitor: Browser, chinese: Catalog) -> None:
    text = page_text(visitor.get("/console/sign-in"))
    assert "登录" in text
    assert "重大项目数据共享平台" in text
    assert_no_english(text, english_phrases(chinese), "/console/sign-in")
    assert "Sign in" not in text


def test_the_administrators_pages_show_no_english_in_chinese(
    sample: None, signed_in: Callable[..., Browser], chinese: Catalog
) -> None:
    visitor = signed_in("admin", "admin")
    phrases = english_phrases(chinese)
    for path in ADMIN_PAGES:
        text = page_text(visitor.get(path))
        assert_no_english(text, phrases, path)
        assert "退出" in text, path
    assert "访问密钥" in page_text(visitor.get("/console/keys"))
    assert "共享申请" in page_text(visitor.get("/console/grants"))


def test_an_officers_pages_show_no_english_in_chinese(
    sample: None, signed_in: Callable[..., Browser], chinese: Catalog
) -> None:
    visitor = signed_in("land", "officer")
    phrases = english_phrases(chinese)
    for path in OFFICER_PAGES:
        assert_no_english(page_text(visitor.get(path)), phrases, path)
    inbox = page_text(visitor.get("/console/grants"))
    assert "待我审批" in inbox
    assert "答复期限" in inbox


def test_a_form_error_and_a_flash_message_are_chinese(
    sample: None, signed_in: Callable[..., Browser], chinese: Catalog
) -> None:
    visitor = signed_in("admin", "admin")
    visitor.get("/console/departments")
    text = page_text(visitor.post("/console/departments", {"id": "", "name": ""}), 422)
    assert "请修改以下问题" in text
    assert "请输入部门标识。" in text
    assert_no_english(text, english_phrases(chinese), "the refused form")
    added = visitor.post("/console/departments", {"id": "harbour", "name": "市港航管理局"})
    assert added.status_code == 302
    assert "部门 harbour 已添加。" in page_text(visitor.get(added.headers["Location"]))


def test_the_english_switch_shows_the_english_words(
    sample: None, signed_in: Callable[..., Browser]
) -> None:
    visitor = signed_in("admin", "admin")
    visitor.get("/console/")
    switched = visitor.post("/console/language", {"locale": "en", "next": "/console/keys"})
    assert switched.status_code == 302
    for path in ("/console/", "/console/projects", "/console/grants", "/console/keys"):
        text = page_text(visitor.get(path))
        for word in ENGLISH_WORDS:
            assert word in text, (path, word)
        assert "退出" not in text, path
        assert "访问密钥" not in text, path
    visitor.post("/console/language", {"locale": "zh_Hans_CN"})
    assert "访问密钥" in page_text(visitor.get("/console/keys")), "and back to Chinese"
