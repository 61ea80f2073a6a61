"""The Chinese words for the records' codes: the dispatch report's HTML and XLSX use them, and
the console names divisions with them."""

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


# the county-level divisions of the demo city (Hangzhou), named where a code alone would not
# tell a person much; any other division shows as its code
DIVISION = {
    "330102": "上城区",
    "330105": "拱墅区",
    "330106": "西湖区",
    "330108": "滨江区",
    "330109": "萧山区",
    "330110": "余杭区",
    "330111": "富阳区",
    "330112": "临安区",
    "330113": "临平区",
    "330114": "钱塘区",
    "330122": "桐庐县",
    "330127": "淳安县",
    "330182": "建德市",
}
