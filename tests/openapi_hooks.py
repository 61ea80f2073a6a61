"""Schemathesis hooks of tests/test_openapi_schemathesis.py (loaded by the schemathesis CLI).

Long-polls are cut short: the document rightly allows ``wait`` up to 60 seconds, and a run
that waits that long on a filter nothing matches would blow the test's time budget.
"""

from __future__ import annotations

from typing import Any

import schemathesis

# the longest long-poll of a fuzzed request, in seconds
LONGEST_WAIT = 0.2


@schemathesis.hook
def map_query(context: Any, query: dict[str, Any] | None) -> dict[str, Any] | None:
    """Cap a numeric ``wait`` (what is not a number stays, to be refused)."""
    wait = (query or {}).get("wait")
    if isinstance(wait, int | float) and not isinstance(wait, bool) and wait > LONGEST_WAIT:
        assert query is not None
        query["wait"] = LONGEST_WAIT
    return query
