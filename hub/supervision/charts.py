"""Bar charts as SVG markup, drawn on the server: no script, no stylesheet, no external file.

For the printable dispatch report and the console (whose Content-Security-Policy forbids
inline styles): everything is drawn with SVG presentation attributes (``fill=``,
``font-size=``...), never ``style``. A chart has a ``<title>`` for screen readers; the page
gives the same figures in a table beside it.

:func:`bar_chart` draws columns (or horizontal bars with ``horizontal``), side by side per
category or ``stacked``; :func:`share_bar` a small bar for a percentage in a table cell.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

FONT = "'Noto Sans CJK SC', 'Microsoft YaHei', 'PingFang SC', sans-serif"
TEXT = "#0b0c0c"
MUTED = "#505a5f"
GRID = "#d8dadb"
# colours with the status names, for charts of green, yellow and red projects
STATUS_COLOURS = {"green": "#00703c", "yellow": "#f0b400", "red": "#d4351c"}
PLAN_COLOUR = "#b1b4b6"
DONE_COLOUR = "#1d70b8"


@dataclass(frozen=True)
class Series:
    """One set of bars: its name (in the legend), a value per category, and its colour."""

    name: str
    values: Sequence[float | None]
    colour: str


def plain_number(value: float) -> str:
    """A number for an axis or a bar: thousands separated, at most one decimal."""
    text = f"{value:,.1f}"
    return text.removesuffix(".0")


def bar_chart(
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    ident: str,
    title: str,
    stacked: bool = False,
    horizontal: bool = False,
    width: int = 680,
    number: Callable[[float], str] = plain_number,
    maximum: float | None = None,
) -> Markup:
    """An SVG bar chart of ``series`` over ``categories``, its title's id based on ``ident``
    (unique on the page); ``maximum`` fixes the axis' end (100 for percentages)."""
    chart = _Chart(ident, categories, series, title, stacked, width, number, maximum)
    return chart.horizontal() if horizontal else chart.vertical()


def share_bar(share: float | None, *, width: int = 80, height: int = 10) -> Markup:
    """A small bar filled to ``share`` percent, coloured by how good it is; empty for None."""
    if share is None:
        return Markup("")
    filled = max(0.0, min(100.0, share)) * width / 100
    colour = (
        STATUS_COLOURS["green"]
        if share >= 90
        else STATUS_COLOURS["yellow"]
        if share >= 60
        else STATUS_COLOURS["red"]
    )
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="share-bar" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" aria-hidden="true" focusable="false">'
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="{GRID}"></rect>'
        f'<rect x="0" y="0" width="{filled:.1f}" height="{height}" fill="{colour}"></rect>'
        "</svg>"
    )


def _nice_step(top: float, ticks: int = 5) -> float:
    """A round step (1, 2 or 5 × 10^n) dividing ``top`` into about ``ticks`` parts."""
    raw = top / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if raw <= factor * magnitude:
            return float(factor * magnitude)
    return float(10 * magnitude)  # pragma: no cover - factor 10 always fits


def _text(x: float, y: float, content: str, **attributes: str | float) -> str:
    extra = "".join(f' {name.replace("_", "-")}="{value}"' for name, value in attributes.items())
    return f'<text x="{x:.1f}" y="{y:.1f}"{extra}>{escape(content)}</text>'


class _Chart:
    def __init__(
        self,
        ident: str,
        categories: Sequence[str],
        series: Sequence[Series],
        title: str,
        stacked: bool,
        width: int,
        number: Callable[[float], str],
        maximum: float | None,
    ) -> None:
        self.categories, self.series, self.title = categories, series, title
        self.stacked, self.width, self.number = stacked, width, number
        self.ident = ident
        top = maximum if maximum is not None else self._largest()
        self.step = _nice_step(top if top > 0 else 1)
        self.top = self.step * math.ceil((top if top > 0 else 1) / self.step)

    def _largest(self) -> float:
        if self.stacked:
            sums = [sum(s.values[i] or 0 for s in self.series) for i in range(len(self.categories))]
            return max(sums, default=0)
        return max((v or 0 for s in self.series for v in s.values), default=0)

    def _open(self, height: float) -> str:
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" class="bar-chart" width="100%" '
            f'viewBox="0 0 {self.width} {height:.0f}" role="img" '
            f'aria-labelledby="{self.ident}-title" font-family="{FONT}" font-size="12" '
            f'fill="{TEXT}"><title id="{self.ident}-title">{escape(self.title)}</title>'
        )

    def _legend(self, y: float) -> str:
        parts, x = [], 0.0
        for item in self.series:
            parts.append(
                f'<rect x="{x:.1f}" y="{y - 10:.1f}" width="12" height="12" '
                f'fill="{item.colour}"></rect>'
            )
            parts.append(_text(x + 16, y, item.name))
            x += 16 + 14 * len(item.name) + 18
        return "".join(parts)

    def _ticks(self) -> list[float]:
        steps = round(self.top / self.step)
        return [self.step * i for i in range(steps + 1)]

    def vertical(self) -> Markup:
        left, right, top, plot_height, bottom = 64.0, 8.0, 32.0, 220.0, 34.0
        height = top + plot_height + bottom
        plot_width = self.width - left - right
        band = plot_width / max(1, len(self.categories))
        parts = [self._open(height), self._legend(14)]
        for tick in self._ticks():
            y = top + plot_height - tick / self.top * plot_height
            parts.append(
                f'<line x1="{left:.1f}" y1="{y:.1f}" x2="{self.width - right:.1f}" y2="{y:.1f}" '
                f'stroke="{GRID}" stroke-width="1"></line>'
            )
            parts.append(_text(left - 6, y + 4, self.number(tick), text_anchor="end", fill=MUTED))
        groups = 1 if self.stacked else max(1, len(self.series))
        bar = band * 0.7 / groups
        for index, category in enumerate(self.categories):
            x0 = left + band * index + band * 0.15
            base = top + plot_height
            for position, item in enumerate(self.series):
                value = item.values[index] or 0
                size = value / self.top * plot_height
                x = x0 if self.stacked else x0 + bar * position
                y = base - size
                parts.append(
                    f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{size:.1f}" '
                    f'fill="{item.colour}"><title>{escape(category)} {escape(item.name)}: '
                    f"{escape(self.number(value))}</title></rect>"
                )
                if self.stacked:
                    base = y
            parts.append(
                _text(
                    left + band * (index + 0.5),
                    top + plot_height + 18,
                    category,
                    text_anchor="middle",
                )
            )
        parts.append(
            f'<line x1="{left:.1f}" y1="{top + plot_height:.1f}" x2="{self.width - right:.1f}" '
            f'y2="{top + plot_height:.1f}" stroke="{MUTED}" stroke-width="1"></line></svg>'
        )
        return Markup("".join(parts))

    def horizontal(self) -> Markup:
        left, right, top, row, bottom = 180.0, 56.0, 32.0, 24.0, 22.0
        plot_height = row * max(1, len(self.categories))
        height = top + plot_height + bottom
        plot_width = self.width - left - right
        parts = [self._open(height), self._legend(14)]
        for tick in self._ticks():
            x = left + tick / self.top * plot_width
            parts.append(
                f'<line x1="{x:.1f}" y1="{top:.1f}" x2="{x:.1f}" y2="{top + plot_height:.1f}" '
                f'stroke="{GRID}" stroke-width="1"></line>'
            )
            parts.append(
                _text(
                    x, top + plot_height + 16, self.number(tick), text_anchor="middle", fill=MUTED
                )
            )
        groups = 1 if self.stacked else max(1, len(self.series))
        bar = row * 0.7 / groups
        for index, category in enumerate(self.categories):
            y0 = top + row * index + row * 0.15
            start, total = left, 0.0
            for position, item in enumerate(self.series):
                value = item.values[index]
                size = (value or 0) / self.top * plot_width
                y = y0 if self.stacked else y0 + bar * position
                parts.append(
                    f'<rect x="{start:.1f}" y="{y:.1f}" width="{size:.1f}" height="{bar:.1f}" '
                    f'fill="{item.colour}"><title>{escape(category)} {escape(item.name)}: '
                    f"{escape(self.number(value or 0))}</title></rect>"
                )
                total += value or 0
                if self.stacked:
                    start += size
                elif value is not None:
                    parts.append(
                        _text(left + size + 4, y + bar - 2, self.number(value), fill=MUTED)
                    )
            if self.stacked:
                parts.append(_text(start + 4, y0 + bar - 2, self.number(total), fill=MUTED))
            parts.append(
                _text(
                    left - 8, top + row * (index + 0.5) + 4, _clip(category, 14), text_anchor="end"
                )
            )
        parts.append(
            f'<line x1="{left:.1f}" y1="{top:.1f}" x2="{left:.1f}" y2="{top + plot_height:.1f}" '
            f'stroke="{MUTED}" stroke-width="1"></line></svg>'
        )
        return Markup("".join(parts))


def _clip(label: str, length: int) -> str:
    return label if len(label) <= length else label[: length - 1] + "…"
