"""Supervision's settings: every threshold of DESIGN §6 a setting with its default, the
working-day calendar's extra days, and a bad value stopping the hub at start, named."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hub.core.config import DEFAULTS, ConfigError, load_settings
from hub.supervision.rules import rules
from hub.supervision.signals import Thresholds
from tests.factories import PROJECT_CODE, project_data
from tests.supervision.conftest import Clock, Supervision

SECRET = "s" * 40


def load(tmp_path: Path, environ: dict[str, str] | None = None, **overrides: Any) -> dict[str, Any]:
    return load_settings(tmp_path, {"SECRET_KEY": SECRET, **overrides}, environ=environ or {})


def test_every_threshold_is_a_setting_with_designs_default():
    supervision = {
        name: value for name, value in DEFAULTS.items() if name.startswith("SUPERVISION_")
    }
    assert supervision == Thresholds.settings()


def test_the_app_judges_by_its_configured_thresholds(app):
    # this module's city calls a project stalled after 10 days (the settings fixture below)
    assert rules(app).thresholds == Thresholds(stalled_days=10)


def test_thresholds_come_from_the_environment(tmp_path):
    settings = load(
        tmp_path,
        {
            "HUB_SUPERVISION_STALLED_DAYS": "10",
            "HUB_SUPERVISION_INVESTMENT_RULE": "ratio",
            "HUB_SUPERVISION_ACTIVE_STAGES": "construction",
            "HUB_SUPERVISION_PERMIT_RED_FACTOR": "2",
        },
    )
    thresholds = Thresholds.from_settings(settings)
    assert thresholds.stalled_days == 10
    assert thresholds.investment_rule == "ratio"
    assert thresholds.active_stages == frozenset({"construction"})
    assert thresholds.permit_red_factor == 2


def test_extra_days_come_from_the_environment_or_the_config_file(tmp_path):
    settings = load(tmp_path, {"HUB_WORKDAYS_EXTRA_HOLIDAYS": "2027-01-01, 2027-02-16"})
    assert settings["WORKDAYS_EXTRA_HOLIDAYS"] == ["2027-01-01", "2027-02-16"]
    config = tmp_path / "hub.toml"
    config.write_text(f'secret_key = "{SECRET}"\nworkdays_extra_workdays = [2027-02-14]\n')
    load_settings(tmp_path, environ={"HUB_CONFIG": str(config)})


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"SUPERVISION_INVESTMENT_RULE": "linear"}, "HUB_SUPERVISION_INVESTMENT_RULE"),
        ({"SUPERVISION_INVESTMENT_SHARE_BASIS": "month"}, "HUB_SUPERVISION_INVESTMENT_SHARE_BASIS"),
        ({"SUPERVISION_PERMIT_RED_FACTOR": 0.5}, "HUB_SUPERVISION_PERMIT_RED_FACTOR"),
        ({"SUPERVISION_STALLED_DAYS": -1}, "HUB_SUPERVISION_STALLED_DAYS"),
        ({"SUPERVISION_MILESTONE_RED_DAYS": -5}, "HUB_SUPERVISION_MILESTONE_RED_DAYS"),
        ({"SUPERVISION_REPORT_DUE_WORKDAY": 0}, "HUB_SUPERVISION_REPORT_DUE_WORKDAY"),
        ({"SUPERVISION_FUNDING_SHORT_RATIO": -0.1}, "HUB_SUPERVISION_FUNDING_SHORT_RATIO"),
        (
            {"SUPERVISION_INVESTMENT_YELLOW_POINTS": 40.0},
            "HUB_SUPERVISION_INVESTMENT_YELLOW_POINTS",
        ),
        ({"SUPERVISION_INVESTMENT_RED_RATIO": 0.9}, "HUB_SUPERVISION_INVESTMENT_RED_RATIO"),
        ({"SUPERVISION_ACTIVE_STAGES": ["building"]}, "HUB_SUPERVISION_ACTIVE_STAGES"),
        ({"SUPERVISION_STALLED_DAYS": "30"}, "SUPERVISION_STALLED_DAYS"),
        ({"WORKDAYS_EXTRA_HOLIDAYS": ["2027-02-30"]}, "HUB_WORKDAYS_EXTRA_HOLIDAYS"),
        ({"WORKDAYS_EXTRA_WORKDAYS": ["20270214"]}, "HUB_WORKDAYS_EXTRA_WORKDAYS"),
        ({"WORKDAYS_EXTRA_HOLIDAYS": "2027-01-01"}, "WORKDAYS_EXTRA_HOLIDAYS"),
        (
            {"WORKDAYS_EXTRA_HOLIDAYS": ["2027-01-01"], "WORKDAYS_EXTRA_WORKDAYS": ["2027-01-01"]},
            "HUB_WORKDAYS_EXTRA_HOLIDAYS",
        ),
    ],
    ids=repr,
)
def test_a_bad_value_stops_the_hub_naming_the_setting(tmp_path, overrides, named):
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, **overrides)
    assert named in str(caught.value)


def test_a_bad_value_in_the_environment_is_named_as_set(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, {"HUB_SUPERVISION_STALLED_DAYS": "a month"})
    assert "HUB_SUPERVISION_STALLED_DAYS" in str(caught.value)


@pytest.fixture
def settings(settings):
    """A city that calls a project stalled after 10 days."""
    return {**settings, "SUPERVISION_STALLED_DAYS": 10}


def test_the_signals_follow_the_configured_thresholds(
    publish, clock: Clock, supervision: Supervision
):
    clock.at("2026-01-01")
    publish("project", PROJECT_CODE, project_data())
    assert supervision.signals(PROJECT_CODE, "2026-01-10", "stalled") == []
    (signal,) = supervision.signals(PROJECT_CODE, "2026-01-11", "stalled")
    assert "10 天无更新即为停滞" in signal["message"]
