"""The Chinese words the dispatch report's HTML and XLSX use for the records' codes."""

from __future__ import annotations

from hub.supervision.signals import ITEM_STATUSES, STAGES

STAGE = STAGES
ITEM_STATUS = {code: words[0] for code, words in ITEM_STATUSES.items()}
FACTOR = {
    "land": "用地",
    "funding": "资金",
    "permit": "审批",
    "talent": "人才",
    "other": "其他",
}
OUTCOME = {"in_time": "按时", "late": "逾期", "pending_overdue": "超期未办结"}
CASE_TYPE = {
    "permit": "审批事项",
    "grant": "共享申请",
    "coordination_item": "协调事项",
    "progress_report": "进度报告",
}
# the scorecard's figures, in order: (field, heading)
FIGURES = (
    ("permits", "审批按时办结"),
    ("grants", "共享申请按时答复"),
    ("coordination_items", "协调事项按时办结"),
    ("progress_reports", "进度报告按时报送"),
)
SEVERITY = {"red": "红", "yellow": "黄"}


def word(table: dict[str, str], code: str | None) -> str:
    """The word for ``code`` in ``table``, or the code itself."""
    if code is None:
        return ""
    return table.get(code, code)
