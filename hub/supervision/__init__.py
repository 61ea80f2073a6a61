"""Supervision (DESIGN §6): signals, views and reports computed from the shared records.

``signals`` is pure computation on plain data, with no Flask and no database, so that the
HTTP views, the dispatch report and the tests all judge a project the same way.
"""

from hub.supervision.signals import (
    CODES,
    DEFAULT_THRESHOLDS,
    PermitClock,
    ProjectFacts,
    Signal,
    Thresholds,
    project_signals,
    status_of,
)

__all__ = [
    "CODES",
    "DEFAULT_THRESHOLDS",
    "PermitClock",
    "ProjectFacts",
    "Signal",
    "Thresholds",
    "project_signals",
    "status_of",
]
