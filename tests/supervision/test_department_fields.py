"""A coordination item's ``raised_by`` and ``assigned_to`` must name departments that exist on
the hub, on every write path: PUT, PATCH and each item of a batch (``department_fields``)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import event

from hub.core.extensions import db
from tests.factories import PROJECT_CODE, coordination_item_data
from tests.record_helpers import assert_problem

ITEMS = "/api/v1/records/coordination_item"
DEPARTMENT_LOOK_UP = re.compile(r"FROM departments\s+WHERE departments\.id IN", re.IGNORECASE)


@pytest.fixture
def office(headers) -> dict[str, str]:
    """The leading group's office, which publishes the problem list."""
    return headers("office")


def test_an_item_assigned_to_an_unknown_department_is_refused_naming_assigned_to(
    project, client, office
):
    body = coordination_item_data(assigned_to=["finance", "fgw"])
    problem = assert_problem(
        client.put(f"{ITEMS}/C-1", json=body, headers=office), 422, "assigned_to"
    )
    assert "fgw" in problem["errors"]["assigned_to"][0]
    assert "finance" not in " ".join(problem["errors"]["assigned_to"])
    assert client.get(f"{ITEMS}/C-1", headers=office).status_code == 404


def test_an_item_raised_by_an_unknown_department_is_refused_naming_raised_by(
    project, client, office
):
    body = coordination_item_data(raised_by="nobody")
    problem = assert_problem(
        client.put(f"{ITEMS}/C-1", json=body, headers=office), 422, "raised_by"
    )
    assert "assigned_to" not in problem["errors"]


def test_an_item_naming_existing_departments_is_published(project, client, office):
    response = client.put(f"{ITEMS}/C-1", json=coordination_item_data(), headers=office)
    assert response.status_code == 201, response.json


def test_a_patch_is_checked_too(project, client, office):
    assert (
        client.put(f"{ITEMS}/C-1", json=coordination_item_data(), headers=office).status_code == 201
    )
    response = client.patch(f"{ITEMS}/C-1", json={"assigned_to": ["ghost"]}, headers=office)
    assert_problem(response, 422, "assigned_to")
    fine = client.patch(f"{ITEMS}/C-1", json={"assigned_to": ["approval"]}, headers=office)
    assert fine.status_code == 200, fine.json


@pytest.fixture
def department_look_ups(app: Flask) -> Iterator[list[str]]:
    """The statements that look departments up by id, as they run."""
    seen: list[str] = []

    def note(connection, cursor, statement, parameters, context, executemany):
        if DEPARTMENT_LOOK_UP.search(statement):
            seen.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", note)
    yield seen
    event.remove(engine, "before_cursor_execute", note)


def test_each_batch_item_is_checked_with_one_look_up_for_the_batch(
    project, client, office, department_look_ups
):
    records = [
        {"key": "C-1", "data": coordination_item_data()},
        {"key": "C-2", "data": coordination_item_data(assigned_to=["fgw"])},
        {"key": "C-3", "data": coordination_item_data(raised_by="ghost"), "if_match": "*"},
        {"key": "C-4", "data": coordination_item_data(raised_by="approval")},
        {"key": "C-1", "data": coordination_item_data(assigned_to=["land", "nowhere"])},
    ]
    response = client.post(f"{ITEMS}/batch", json={"records": records}, headers=office)
    assert response.status_code == 200, response.json
    results = response.json["results"]
    assert [r["status"] for r in results] == [201, 422, 422, 201, 422]
    assert list(results[1]["errors"]) == ["assigned_to"]
    assert "fgw" in results[1]["errors"]["assigned_to"][0]
    assert list(results[2]["errors"]) == ["raised_by"]
    assert list(results[4]["errors"]) == ["assigned_to"]
    assert len(department_look_ups) == 1
    listed = client.get(f"{ITEMS}?project_code={PROJECT_CODE}", headers=office).json["items"]
    assert sorted(item["key"] for item in listed) == ["C-1", "C-4"]


def test_records_naming_no_departments_look_none_up(project, put, department_look_ups):
    assert (
        put(
            "permit",
            {
                "project_code": PROJECT_CODE,
                "item": "eia",
                "authority": "EEB",
                "status": "not_started",
            },
        ).status_code
        == 201
    )
    assert department_look_ups == []
