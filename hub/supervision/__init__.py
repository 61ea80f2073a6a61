"""Supervision (DESIGN §6): signals, views and reports computed from the shared records.

``signals`` is pure computation on plain data, with no Flask and no database, so that the
HTTP views, the dispatch report and the tests all judge a project the same way. ``facts``
reads projects and their records as they stood at the end of a day from the version history;
``rules`` holds the configured thresholds, calendar and time zone; ``service`` builds the
board, a project's view and the summary from them. ``states`` reads records of one type as
they stood at a moment, for ``scorecard`` (the departments' assessment over a period) and
``dispatch`` (the monthly dispatch report), which ``report_html`` (with ``charts``) and
``report_xlsx`` render and ``downloads`` hands over as files. ``routes`` and ``schemas`` put
them on the wire (``/api/v1/supervision``, ``supervision`` scope).
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
