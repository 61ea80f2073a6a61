"""Working days in the hub: the city's extra days, and the warning for a year the calendar does
not know (counted Monday to Friday, and said so in ``calendar_warnings``).

Records responses carry ``calendar_warnings`` only when one of their working-day figures (a
permit's ``overdue``) was counted in such a year; supervision's responses always carry it.
"""

from __future__ import annotations

import pytest

from tests.factories import PROJECT_CODE, permit_data, project_data
from tests.supervision.conftest import FIRST_UNKNOWN_YEAR, Clock, Supervision

LAST_KNOWN_YEAR = FIRST_UNKNOWN_YEAR - 1
# submitted late in the last known year: 30 working days run into the next
INTO_UNKNOWN_YEAR = permit_data(submitted_at=f"{LAST_KNOWN_YEAR}-12-20", statutory_days=30)
RECORDS = "/api/v1/records"


def warned_years(warnings: list[str]) -> set[int]:
    return {year for year in range(2000, 2101) if any(str(year) in w for w in warnings)}


# --- records ----------------------------------------------------------------------------------


def test_a_permit_counted_into_an_unknown_year_says_so(project, put, client, headers):
    response = put("permit", INTO_UNKNOWN_YEAR)
    assert response.status_code == 201, response.json
    assert warned_years(response.json["calendar_warnings"]) == {FIRST_UNKNOWN_YEAR}
    assert "Monday to Friday" in response.json["calendar_warnings"][0]
    read = client.get(f"{RECORDS}/permit/P-1", headers=headers("audit"))
    assert warned_years(read.json["calendar_warnings"]) == {FIRST_UNKNOWN_YEAR}
    listed = client.get(f"{RECORDS}/permit", headers=headers("audit")).json["items"]
    assert warned_years(listed[0]["calendar_warnings"]) == {FIRST_UNKNOWN_YEAR}
    dossier = client.get(f"/api/v1/projects/{PROJECT_CODE}/dossier", headers=headers("audit"))
    (permit,) = dossier.json["records"]["permit"]
    assert warned_years(permit["calendar_warnings"]) == {FIRST_UNKNOWN_YEAR}
    assert "calendar_warnings" not in dossier.json["project"]
    history = client.get(f"{RECORDS}/permit/P-1/history", headers=headers("audit")).json
    assert warned_years(history["items"][0]["calendar_warnings"]) == {FIRST_UNKNOWN_YEAR}


def test_the_feed_carries_the_warning_with_the_record(project, put, client, headers):
    assert put("permit", INTO_UNKNOWN_YEAR).status_code == 201
    events = client.get("/api/v1/events", headers=headers("audit")).json["events"]
    by_type = {event["data"]["type"]: event["data"] for event in events}
    assert warned_years(by_type["permit"]["calendar_warnings"]) == {FIRST_UNKNOWN_YEAR}
    assert "calendar_warnings" not in by_type["project"]


@pytest.mark.parametrize(
    "body",
    [
        permit_data(submitted_at=f"{LAST_KNOWN_YEAR}-03-02", statutory_days=20),
        {
            **INTO_UNKNOWN_YEAR,
            "status": "approved",
            "approved_at": f"{LAST_KNOWN_YEAR}-12-28",
            "permit_no": "EIA-1",
        },
    ],
    ids=["counted in a known year", "decided, so nothing is counted"],
)
def test_no_warning_without_a_guessed_year(project, put, body):
    response = put("permit", body)
    assert response.status_code == 201, response.json
    assert "calendar_warnings" not in response.json


# --- supervision ------------------------------------------------------------------------------


def test_supervision_warns_when_a_day_of_an_unknown_year_is_counted(
    publish, clock: Clock, supervision: Supervision
):
    clock.at(f"{LAST_KNOWN_YEAR}-12-01")
    publish("project", PROJECT_CODE, project_data(stage="construction"))
    # whether last month's report is late depends on the working days of January
    as_of = f"{FIRST_UNKNOWN_YEAR}-01-20"
    for answer in (
        supervision.board(as_of=as_of),
        supervision.project(PROJECT_CODE, as_of=as_of),
        supervision.summary(as_of=as_of),
    ):
        assert warned_years(answer["calendar_warnings"]) == {FIRST_UNKNOWN_YEAR}
    known = f"{LAST_KNOWN_YEAR}-12-20"
    assert supervision.board(as_of=known)["calendar_warnings"] == []
