"""Identifiers: the unified project code (and its administrative division) and record keys."""

from __future__ import annotations

from urllib.parse import quote, unquote, urlsplit

import pytest

from schemas import registry
from tests.factories import OTHER_PROJECT_CODE, PROJECT_CODE, parcel_data, permit_data, project_data
from tests.type_helpers import (
    KEY_FIELDS,
    KEYS,
    OWNERS,
    TYPES,
    canonical_errors,
    refused,
    valid_body,
    without,
)

LINKED_TYPES = ("land_parcel", "funding", "permit")


# --- the unified project code -----------------------------------------------------------------

WELL_FORMED_CODES = [
    PROJECT_CODE,
    OTHER_PROJECT_CODE,
    "2512-110101-00-99-ABCDEF",
    "0001-650102-12-34-000000",
    "9912-820000-01-01-Z9Z9Z9",
    "2507-440305-04-01-A1B2C3",
]
MALFORMED_CODES = {
    "month 00": "2500-330102-04-01-7K3Q9B",
    "month 13": "2513-330102-04-01-7K3Q9B",
    "division 99 is no province": "2503-990102-04-01-7K3Q9B",
    "division 00 is no province": "2503-000000-04-01-7K3Q9B",
    "lower-case letters": "2503-330102-04-01-7k3q9b",
    "one lower-case letter": "2503-330102-04-01-7K3q9B",
    "too short": "2503-330102-04-01-7K3Q9",
    "too long": "2503-330102-04-01-7K3Q9BX",
    "division of 5 digits": "2503-33010-204-01-7K3Q9B",
    "letters in the date": "25AB-330102-04-01-7K3Q9B",
    "letter in the department": "2503-330102-0A-01-7K3Q9B",
    "letter in the project type": "2503-330102-04-X1-7K3Q9B",
    "underscores for dashes": "2503_330102_04_01_7K3Q9B",
    "no dashes": "250333010204017K3Q9BXXXX",
    "empty segments": "2503--04-01-7K3Q9B",
}


@pytest.mark.parametrize("code", WELL_FORMED_CODES)
def test_well_formed_project_code_is_accepted_as_the_project_key(put, code):
    response = put("project", project_data(), key=code)
    assert response.status_code == 201, response.json
    assert response.json["key"] == code
    assert response.json["project_code"] == code
    assert response.json["data"]["project_code"] == code


@pytest.mark.parametrize("code", MALFORMED_CODES.values(), ids=MALFORMED_CODES.keys())
def test_malformed_project_code_in_the_url_is_refused_naming_project_code(
    client, put, headers, code
):
    refused(put("project", project_data(), key=code), "project_code")
    got = client.get(f"/api/v1/records/project/{code}", headers=headers("ndrc"))
    assert got.status_code == 404


@pytest.mark.parametrize(
    ("code", "fragment"),
    [
        ("2500-330102-04-01-7K3Q9B", "00"),
        ("2513-330102-04-01-7K3Q9B", "13"),
        ("2503-990102-04-01-7K3Q9B", "99"),
    ],
    ids=["month 00", "month 13", "province 99"],
)
def test_project_code_message_names_the_bad_part(put, code, fragment):
    errors = refused(put("project", project_data(), key=code), "project_code")
    assert any(fragment in message for message in errors["project_code"])


@pytest.mark.parametrize("type_name", LINKED_TYPES)
@pytest.mark.parametrize(
    "code", [MALFORMED_CODES["month 13"], MALFORMED_CODES["lower-case letters"], 25033301020401]
)
def test_malformed_project_code_in_a_linked_record_is_refused(put, type_name, code):
    refused(put(type_name, valid_body(type_name, project_code=code)), "project_code")


@pytest.mark.parametrize("type_name", LINKED_TYPES)
@pytest.mark.parametrize("code", [*MALFORMED_CODES.values(), ""], ids=[*MALFORMED_CODES, "empty"])
def test_linked_record_refuses_every_malformed_project_code(type_name, code):
    body = valid_body(type_name, project_code=code)
    assert set(canonical_errors(type_name, body, KEYS[type_name])) == {"project_code"}


@pytest.mark.parametrize("type_name", LINKED_TYPES)
def test_linked_record_must_name_a_published_project(put, type_name):
    response = put(type_name, valid_body(type_name, project_code=OTHER_PROJECT_CODE))
    refused(response, "project_code")


def test_project_body_naming_another_code_is_refused(client, put, headers):
    body = project_data(project_code=PROJECT_CODE)
    refused(put("project", body, key=OTHER_PROJECT_CODE), "project_code")
    for code in (PROJECT_CODE, OTHER_PROJECT_CODE):
        got = client.get(f"/api/v1/records/project/{code}", headers=headers("ndrc"))
        assert got.status_code == 404


def test_project_body_may_repeat_its_own_code(put):
    response = put("project", project_data(project_code=OTHER_PROJECT_CODE))
    assert response.status_code == 201, response.json
    assert response.json["data"]["project_code"] == OTHER_PROJECT_CODE


@pytest.mark.parametrize(
    "code",
    [
        PROJECT_CODE + "\n",
        "2503-33\u0660\u0661\u0660\u0662-04-01-7K3Q9B",  # Arabic-Indic digits in the division
        "\uff12\uff1503-330102-04-01-7K3Q9B",  # full-width digits in the year
    ],
    ids=["trailing newline", "arabic-indic digits", "full-width digits"],
)
def test_project_code_refuses_lookalike_characters(code):
    messages = canonical_errors("land_parcel", parcel_data(project_code=code), "L-1")
    assert set(messages) == {"project_code"}


@pytest.mark.parametrize(
    "division",
    [
        "990102",
        "000000",
        "33010",
        "3301020",
        "abcdef",
        "33010a",
        330102,
        "330102\n",
        "33\u0660\u0661\u0660\u0662",
        "",
    ],
)
def test_admin_division_must_be_six_digits_with_a_province_prefix(division):
    body = project_data(admin_division=division)
    assert set(canonical_errors("project", body, PROJECT_CODE)) == {"admin_division"}


@pytest.mark.parametrize("division", ["990102", "33010", "330102\n"], ids=repr)
def test_bad_admin_division_is_refused_over_http(put, division):
    refused(put("project", project_data(admin_division=division)), "admin_division")


# --- keys ---------------------------------------------------------------------------------------

GOOD_KEYS = [
    "P-1",
    "a",
    "A.b_c:d-9",
    "2025:eia.v2",
    "x" * 128,
    "_",
    "0",
    # what Chinese systems call things: document numbers, brackets and all
    "杭财建〔2025〕12号",
    "杭政储出〔2025〕7号",
    "审批（2025）第3号",
    "【甲】A-1",
    "[B]#2",
    "P\u00fc1",
    "许可:٣",  # digits of other scripts are digits
    "字" * 128,
]
BAD_KEYS = {
    "129 characters": "x" * 129,
    "129 Chinese characters": "字" * 129,
    "space": "P 1",
    "ideographic space": "P\u30001",
    "at sign": "P@1",
    "plus": "P+1",
    "emoji": "P\U0001f600",
    "dot alone": ".",
    "two dots alone": "..",
    "tab": "P\t1",
    "trailing newline": "P-1\n",
    "slash-free percent": "P%1",
    "comma": "P,1",
}


@pytest.mark.parametrize("key", GOOD_KEYS)
def test_keys_of_the_allowed_characters_are_accepted(client, project, put, headers, key):
    response = put("permit", permit_data(), key=quote(key, safe=""))
    assert response.status_code == 201, response.json
    assert response.json["key"] == key
    assert response.json["data"]["permit_id"] == key
    url = f"/api/v1/records/permit/{quote(key, safe='')}"
    assert unquote(urlsplit(response.headers["Location"]).path) == unquote(url)
    got = client.get(url, headers=headers("approval"))
    assert got.status_code == 200
    assert got.json["key"] == key


def test_a_key_is_one_key_whatever_its_unicode_normal_form(client, project, put, headers):
    composed = "许可证编号-\u00fc"  # ü as one character (NFC)
    decomposed = "许可证编号-u\u0308"  # u and a combining diaeresis (NFD)
    assert put("permit", permit_data(), key=quote(composed, safe="")).status_code == 201
    again = put("permit", permit_data(authority="Another"), key=quote(decomposed, safe=""))
    assert again.status_code == 200, again.json
    assert again.json["key"] == composed
    assert again.json["version"] == 2


@pytest.mark.parametrize("key", BAD_KEYS.values(), ids=BAD_KEYS.keys())
def test_bad_key_is_refused_naming_key(client, project, put, headers, key):
    quoted = quote(key, safe="")
    refused(put("permit", permit_data(), key=quoted), "key")
    listed = client.get("/api/v1/records/permit", headers=headers("approval"))
    assert listed.json["items"] == []


@pytest.mark.parametrize("type_name", TYPES)
def test_body_may_omit_its_key_field(project, put, type_name):
    body = without(valid_body(type_name), KEY_FIELDS[type_name])
    response = put(type_name, body)
    assert response.status_code == 201, response.json
    assert response.json["data"][KEY_FIELDS[type_name]] == KEYS[type_name]


@pytest.mark.parametrize("type_name", TYPES)
def test_body_may_name_its_own_key(project, put, type_name):
    body = valid_body(type_name, **{KEY_FIELDS[type_name]: KEYS[type_name]})
    response = put(type_name, body)
    assert response.status_code == 201, response.json


@pytest.mark.parametrize("type_name", LINKED_TYPES)
@pytest.mark.parametrize("other", ["OTHER-9", 1])
def test_body_naming_another_key_is_refused(client, project, put, headers, type_name, other):
    body = valid_body(type_name, **{KEY_FIELDS[type_name]: other})
    refused(put(type_name, body), KEY_FIELDS[type_name])
    got = client.get(
        f"/api/v1/records/{type_name}/{KEYS[type_name]}", headers=headers(OWNERS[type_name])
    )
    assert got.status_code == 404


# --- the canonical form, directly ---------------------------------------------------------------


@pytest.mark.parametrize("type_name", TYPES)
def test_canonical_form_fills_in_the_key_field(type_name):
    body = without(valid_body(type_name), KEY_FIELDS[type_name])
    data = registry()[type_name].canonical(body, KEYS[type_name])
    assert data[KEY_FIELDS[type_name]] == KEYS[type_name]


@pytest.mark.parametrize("code", MALFORMED_CODES.values(), ids=MALFORMED_CODES.keys())
def test_canonical_refuses_a_malformed_project_key(code):
    assert set(canonical_errors("project", project_data(), code)) == {"project_code"}


@pytest.mark.parametrize("code", WELL_FORMED_CODES)
def test_canonical_accepts_a_well_formed_project_key(code):
    assert registry()["project"].canonical(project_data(), code)["project_code"] == code
