"""Small charts as inline SVG, drawn on the server (the console runs no script)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from markupsafe import Markup, escape

WIDTH, HEIGHT, PAD = 640, 150, 24
#: the left margin, where the scale is written
LEFT = 44


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 or value == int(value) else f"{value:,.2f}"


def _frame(label: str, body: str, low: str, high: str, left: str, right: str) -> Markup:
    """The SVG around a chart: its label for screen readers, the scale's ends, the range.
    Every text in it is escaped here; ``body`` is made of numbers and escaped titles."""
    return Markup(  # noqa: S704
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(label)}"><title>{escape(label)}</title>'
        f'<line class="axis" x1="{LEFT}" y1="{HEIGHT - PAD}" x2="{WIDTH}" y2="{HEIGHT - PAD}"/>'
        f"{body}"
        f'<text class="scale end" x="{LEFT - 4}" y="{PAD + 4}">{escape(high)}</text>'
        f'<text class="scale end" x="{LEFT - 4}" y="{HEIGHT - PAD}">{escape(low)}</text>'
        f'<text class="scale" x="{LEFT}" y="{HEIGHT - 6}">{escape(left)}</text>'
        f'<text class="scale end" x="{WIDTH - 2}" y="{HEIGHT - 6}">{escape(right)}</text>'
        "</svg>"
    )


def _y(value: float, top: float) -> float:
    span = HEIGHT - 2 * PAD
    return HEIGHT - PAD - (value / top * span if top else 0.0)


def line_chart(points: Sequence[tuple[datetime, float]], label: str) -> Markup:
    """A value over time, one point per measurement (from zero up to the largest value)."""
    if not points:
        return Markup('<p class="empty">No measurements yet.</p>')
    top = max(value for _, value in points) or 1.0
    first, last = points[0][0], points[-1][0]
    span = (last - first).total_seconds() or 1.0
    xs = [LEFT + (at - first).total_seconds() / span * (WIDTH - LEFT - 4) for at, _ in points]
    coords = " ".join(f"{x:.1f},{_y(v, top):.1f}" for x, (_, v) in zip(xs, points, strict=True))
    dots = "".join(
        f'<circle class="point" cx="{x:.1f}" cy="{_y(v, top):.1f}" r="2.5">'
        f"<title>{at:%Y-%m-%d %H:%M} UTC: {_number(v)}</title></circle>"
        for x, (at, v) in zip(xs, points, strict=True)
    )
    body = f'<polyline class="series" points="{coords}"/>{dots}'
    return _frame(
        label, body, "0", _number(top), f"{first:%Y-%m-%d %H:%M}", f"{last:%Y-%m-%d %H:%M} UTC"
    )


def bar_chart(bars: Sequence[tuple[str, float]], label: str) -> Markup:
    """One bar per labelled value (a day's usage), from zero up to the largest."""
    if not bars:
        return Markup('<p class="empty">No usage in this range.</p>')
    top = max(value for _, value in bars) or 1.0
    step = (WIDTH - LEFT - 4) / len(bars)
    width = max(step * 0.8, 1.0)
    rects = "".join(
        f'<rect class="bar" x="{LEFT + i * step + (step - width) / 2:.1f}" '
        f'y="{_y(value, top):.1f}" width="{width:.1f}" '
        f'height="{HEIGHT - PAD - _y(value, top):.1f}">'
        f"<title>{escape(name)}: {_number(value)}</title></rect>"
        for i, (name, value) in enumerate(bars)
    )
    return _frame(label, rects, "0", _number(top), bars[0][0], bars[-1][0])
