from tests.factories import PROJECT_CODE, parcel_data


def test_publish_and_read_a_parcel(client, project, publish, headers):
    response = publish("land_parcel", "L-1", parcel_data())
    assert response.status_code == 201, response.json
    got = client.get("/api/v1/records/land_parcel/L-1", headers=headers("finance"))
    assert got.status_code == 200
    assert got.json["data"]["project_code"] == PROJECT_CODE
    assert "rights_holder" not in got.json["data"]
    assert got.json["withheld"] == ["rights_holder", "transfer_price"]
