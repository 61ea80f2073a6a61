"""The dispatch report as a file to hand over: its bytes, media type and headers.

Shared by the API (``GET /api/v1/supervision/dispatch?format=html|xlsx``) and the console's
download buttons, so both hand over the same file under the same name (调度通报-2026-10.xlsx,
RFC 6266 with the RFC 5987 ``filename*`` for the Chinese name, and an ASCII name for old
clients).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote
from zoneinfo import ZoneInfo

from hub.supervision import report_html, report_xlsx

Kind = Literal["html", "xlsx"]
NAME = "调度通报"
ASCII_NAME = "dispatch"


@dataclass(frozen=True)
class ReportFile:
    """A rendering of the report: its content, media type and file name."""

    content: bytes
    mimetype: str
    filename: str
    ascii_filename: str

    def disposition(self, *, attachment: bool) -> str:
        """The Content-Disposition header: an attachment, or shown inline (HTML)."""
        kind = "attachment" if attachment else "inline"
        return (
            f'{kind}; filename="{self.ascii_filename}"; '
            f"filename*=UTF-8''{quote(self.filename, safe='')}"
        )

    def headers(self, *, attachment: bool) -> dict[str, str]:
        """The response headers for this file (the HTML with its own stylesheet's CSP)."""
        headers = {"Content-Disposition": self.disposition(attachment=attachment)}
        if self.mimetype.startswith("text/html"):
            headers["Content-Security-Policy"] = report_html.CONTENT_SECURITY_POLICY
        return headers


def report_file(report: Mapping[str, Any], kind: Kind, zone: ZoneInfo) -> ReportFile:
    """The report (its JSON form) rendered as ``kind``."""
    period = str(report["period"])
    if kind == "html":
        content = report_html.render(report, zone).encode("utf-8")
        mimetype = "text/html; charset=utf-8"
    else:
        content = report_xlsx.render(report, zone)
        mimetype = report_xlsx.MEDIA_TYPE
    return ReportFile(content, mimetype, f"{NAME}-{period}.{kind}", f"{ASCII_NAME}-{period}.{kind}")
