"""A client generated from the served OpenAPI document works: openapi-python-client writes it
(offline, without complaint about the document), and through its typed methods a department
exchanges its key for a token, publishes a project and a land parcel, reads them back, lists
them and follows the feed, against a live hub."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.factories import PROJECT_CODE, project_data

PACKAGE = "generated_hub_client"
READ_WRITE = ["records:read", "records:write", "events:read"]


def _generate(document: dict[str, Any], folder: Path) -> str:
    """Generate the client package into ``folder``; return what the generator said."""
    spec = folder / "openapi.json"
    spec.write_text(json.dumps(document), encoding="utf-8")
    # no post hooks: the generated code is not reformatted (that would need ruff on PATH)
    config = folder / "generator.yaml"
    config.write_text("post_hooks: []\n", encoding="utf-8")
    command = [
        *_generator(),
        "generate",
        "--path",
        str(spec),
        "--output-path",
        str(folder / PACKAGE),
        "--meta",
        "none",
        "--config",
        str(config),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    return output


def _generator() -> list[str]:
    """The openapi-python-client command of this interpreter's environment."""
    script = Path(sys.executable).with_name("openapi-python-client")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "openapi_python_client"]


@pytest.fixture
def generated(
    client: FlaskClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[str], ModuleType]]:
    """The generated client's modules by name: ``generated("api.project.put_project")``."""
    output = _generate(client.get("/api/v1/openapi.json").json, tmp_path)
    assert "Warning" not in output, output
    assert "Error" not in output, output
    monkeypatch.syspath_prepend(str(tmp_path))
    yield lambda name: importlib.import_module(f"{PACKAGE}.{name}")
    for name in [module for module in sys.modules if module.split(".")[0] == PACKAGE]:
        del sys.modules[name]


def test_the_generator_writes_a_typed_method_per_record_type_operation(
    generated: Callable[[str], ModuleType],
) -> None:
    for type_name in ("project", "land_parcel", "funding", "permit"):
        for operation in ("put", "patch", "get", "delete", "list", "history", "batch"):
            module = generated(f"api.{type_name}.{operation}_{type_name}")
            assert callable(module.sync_detailed), module
    put_parcel = generated("api.land_parcel.put_land_parcel")
    assert put_parcel.sync.__annotations__["body"] is generated("models").LandParcelData


def test_a_generated_client_publishes_reads_and_follows_the_feed(
    generated: Callable[[str], ModuleType],
    live_hub: Any,
    make_department: Callable[..., str],
    make_key: Callable[..., str],
) -> None:
    make_department("ndrc", ["project"])
    make_department("land", ["land_parcel"])
    models = generated("models")
    api_client = generated("client")

    def signed_in(department: str) -> Any:
        """A client holding a token of a new key of ``department``."""
        key = make_key(department, READ_WRITE)
        with api_client.AuthenticatedClient(base_url=live_hub.url, token=key) as with_key:
            token = generated("api.auth.auth_token").sync(client=with_key)
        assert isinstance(token, models.TokenOut), token
        assert token.token_type == "Bearer"
        return api_client.AuthenticatedClient(base_url=live_hub.url, token=token.access_token)

    ndrc, land = signed_in("ndrc"), signed_in("land")
    with ndrc, land:
        project = models.ProjectData.from_dict(project_data())
        put = generated("api.project.put_project").sync_detailed(
            key=PROJECT_CODE, client=ndrc, body=project
        )
        assert put.status_code == 201, put.content
        assert put.parsed.version == 1

        parcel = models.LandParcelData(
            project_code=PROJECT_CODE,
            area_mu=86.4,
            land_use=models.LandParcelDataLandUse.INFRASTRUCTURE,
            supply_method=models.LandParcelDataSupplyMethod.ALLOCATION,
            supply_status=models.LandParcelDataSupplyStatus.READY,
            transfer_price=1200.5,
        )
        put = generated("api.land_parcel.put_land_parcel").sync_detailed(
            key="HZ-2025-0117", client=land, body=parcel
        )
        assert put.status_code == 201, put.content

        read = generated("api.project.get_project").sync(key=PROJECT_CODE, client=land)
        assert isinstance(read, models.ProjectRecordOut), read
        assert read.data.name == project_data()["name"]
        assert read.data.responsible_leader.name == "Wang Li"
        # the land department may not see a project's contacts (conditional)
        assert "contacts" in read.withheld

        parcel_read = generated("api.land_parcel.get_land_parcel").sync(
            key="HZ-2025-0117", client=ndrc
        )
        assert isinstance(parcel_read, models.LandParcelRecordOut), parcel_read
        assert parcel_read.data.area_mu == 86.4
        assert parcel_read.data.land_use == models.LandParcelShownLandUse.INFRASTRUCTURE

        listed = generated("api.land_parcel.list_land_parcel").sync(client=ndrc)
        assert [item.key for item in listed.items] == ["HZ-2025-0117"]
        projects = generated("api.project.list_project").sync(client=land, limit=10)
        assert [item.key for item in projects.items] == [PROJECT_CODE]

        feed = generated("api.events.read_feed").sync(client=land, after=0, limit=10)
        assert isinstance(feed, models.FeedPage), feed
        subjects = [event["subject"] for event in (e.to_dict() for e in feed.events)]
        assert subjects == [f"project/{PROJECT_CODE}", "land_parcel/HZ-2025-0117"]
        assert feed.next_after == 2
        # following on from next_after: nothing new yet
        later = generated("api.events.read_feed").sync(client=land, after=feed.next_after)
        assert later.events == []
        assert later.next_after == 2
