"""Charts as inline SVG, drawn on the server: no script, no chart library, nothing to download.

Each chart is an ``<svg role="img">`` with a ``<title>`` and ``<desc>`` (what a screen reader
says), axis labels, and a ``<title>`` on every bar or cell (its value on hover). The numbers a
chart shows are also in a table on the page, so nothing is only visible as a shape. A few
dozen lines of SVG per chart are simpler to keep than a JavaScript dependency served offline.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from html import escape

from markupsafe import Markup

_ids = itertools.count(1)
WIDTH, HEIGHT = 640, 240
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 56, 12, 12, 44
CHAR_PX = 7  # the width of a character of an 11px label, about


def _vertical_grid(
    left: float, inner_w: float, bottom: float, value_at: Callable[[float], float]
) -> str:
    """Grid lines at 0, 1/2 and 1 of a horizontal axis, each with its value below."""
    out = []
    for frac in (0.0, 0.5, 1.0):
        x = left + inner_w * frac
        out.append(
            f'<line class="grid" x1="{x:.1f}" x2="{x:.1f}" y1="{PAD_TOP}" y2="{bottom}"/>'
            f'<text class="tick" x="{x:.1f}" y="{bottom + 14}" text-anchor="middle">'
            f"{escape(_fmt(value_at(frac)))}</text>"
        )
    return "".join(out)


def _fmt(value: float) -> str:
    if abs(value) >= 1_000_000:
        return f"{value / 1_000_000:.1f}M"
    if abs(value) >= 10_000:
        return f"{value / 1_000:.0f}k"
    if abs(value) >= 1_000:
        return f"{value / 1_000:.1f}k"
    if value == int(value):
        return str(int(value))
    return f"{value:.2f}"


def _open(kind: str, title: str, desc: str, width: int, height: int) -> tuple[str, str]:
    n = next(_ids)
    head = (
        f'<svg class="chart chart-{kind}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="chart{n}-t chart{n}-d" data-chart="{kind}" '
        f'preserveAspectRatio="xMidYMid meet" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="chart{n}-t">{escape(title)}</title><desc id="chart{n}-d">{escape(desc)}'
        "</desc>"
    )
    return head, "</svg>"


def _axes(top: float, y_label: str, x_label: str, width: int, height: int) -> str:
    """Y grid lines at 0, 1/2 and the top, and the axis labels."""
    inner_h = height - PAD_TOP - PAD_BOTTOM
    parts = []
    for frac in (0.0, 0.5, 1.0):
        y = PAD_TOP + inner_h * (1 - frac)
        parts.append(
            f'<line class="grid" x1="{PAD_LEFT}" x2="{width - PAD_RIGHT}" y1="{y:.1f}" '
            f'y2="{y:.1f}"/><text class="tick" x="{PAD_LEFT - 6}" y="{y + 4:.1f}" '
            f'text-anchor="end">{escape(_fmt(top * frac))}</text>'
        )
    parts.append(
        f'<text class="axis-label" x="{PAD_LEFT + (width - PAD_LEFT - PAD_RIGHT) / 2:.0f}" '
        f'y="{height - 4}" text-anchor="middle">{escape(x_label)}</text>'
        f'<text class="axis-label" x="12" y="{PAD_TOP + inner_h / 2:.0f}" text-anchor="middle" '
        f'transform="rotate(-90 12 {PAD_TOP + inner_h / 2:.0f})">{escape(y_label)}</text>'
    )
    return "".join(parts)


def bar_chart(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    title: str,
    x_label: str,
    y_label: str,
    tick_every: int | None = None,
    fmt: Callable[[float], str] = _fmt,
    width: int = WIDTH,
    height: int = HEIGHT,
) -> Markup:
    """Vertical bars, one per label (days, segments, bins)."""
    head, tail = _open("bar", title, _describe(labels, values, fmt), width, height)
    if not values:
        return Markup(head + _empty(width, height) + tail)
    top = _nice(max(max(values), 0.0))
    inner_w = width - PAD_LEFT - PAD_RIGHT
    inner_h = height - PAD_TOP - PAD_BOTTOM
    step = inner_w / len(values)
    bar_w = max(1.0, step * 0.8)
    every = tick_every or max(1, len(labels) // 8)
    fits = max(6, int(step * every / 7))  # characters of an 11px label that fit its room
    parts = [head, _axes(top, y_label, x_label, width, height)]
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        h = 0.0 if top == 0 else inner_h * max(value, 0.0) / top
        x = PAD_LEFT + i * step + (step - bar_w) / 2
        y = PAD_TOP + inner_h - h
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
            f'data-value="{value}"><title>{escape(str(label))}: {escape(fmt(value))}</title>'
            "</rect>"
        )
        if i % every == 0:
            parts.append(
                f'<text class="tick" x="{x + bar_w / 2:.1f}" y="{PAD_TOP + inner_h + 14}" '
                f'text-anchor="middle">{escape(_short(str(label), fits))}</text>'
            )
    parts.append(tail)
    return Markup("".join(parts))


def hbar_chart(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    title: str,
    x_label: str,
    fmt: Callable[[float], str] = _fmt,
    width: int = WIDTH,
) -> Markup:
    """Horizontal bars, one row per label, each label written in full at its row's left (named
    figures: under vertical bars their names were cut); the value is written after its bar."""
    row = 26
    height = PAD_TOP + PAD_BOTTOM + row * max(1, len(labels))
    head, tail = _open("hbar", title, _describe(labels, values, fmt), width, height)
    if not values:
        return Markup(head + _empty(width, height) + tail)
    top = _nice(max(max(values), 0.0))
    # an 11px label is about 7px a character; the bars keep at least half the width
    left = min(width // 2, 16 + CHAR_PX * max(len(str(label)) for label in labels))
    value_room = 8 + CHAR_PX * max(len(fmt(v)) for v in values)
    inner_w = width - left - PAD_RIGHT - value_room
    bottom = PAD_TOP + row * len(values)
    parts = [head]
    parts.append(_vertical_grid(left, inner_w, bottom, lambda frac: top * frac))
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        w = 0.0 if top == 0 else inner_w * max(value, 0.0) / top
        y = PAD_TOP + row * i
        parts.append(
            f'<text class="tick" x="{left - 8}" y="{y + row / 2 + 4:.1f}" text-anchor="end">'
            f"{escape(str(label))}</text>"
            f'<rect class="bar" x="{left}" y="{y + 4}" width="{w:.1f}" height="{row - 8}" '
            f'data-value="{value}"><title>{escape(str(label))}: {escape(fmt(value))}</title>'
            f'</rect><text class="tick" x="{left + w + 6:.1f}" y="{y + row / 2 + 4:.1f}">'
            f"{escape(fmt(value))}</text>"
        )
    parts.append(
        f'<text class="axis-label" x="{left + inner_w / 2:.0f}" y="{height - 4}" '
        f'text-anchor="middle">{escape(x_label)}</text>'
    )
    parts.append(tail)
    return Markup("".join(parts))


def heatmap(
    rows: Sequence[str],
    columns: Sequence[str],
    cells: dict[tuple[str, str], float | None],
    *,
    title: str,
    row_label: str,
    column_label: str,
    fmt: Callable[[float], str] = _fmt,
    low: float | None = None,
    high: float | None = None,
    width: int = 420,
    height: int = 320,
) -> Markup:
    """A grid of cells shaded by value (darker is higher), with the value written in each."""
    shown = [v for v in cells.values() if v is not None]
    desc = f"{len(shown)} cells; " + (
        f"values from {fmt(min(shown))} to {fmt(max(shown))}" if shown else "no data"
    )
    head, tail = _open("heatmap", title, desc, width, height)
    if not shown:
        return Markup(head + _empty(width, height) + tail)
    lo = min(shown) if low is None else low
    hi = max(shown) if high is None else high
    inner_w = width - PAD_LEFT - PAD_RIGHT
    inner_h = height - PAD_TOP - PAD_BOTTOM
    cw, ch = inner_w / len(columns), inner_h / len(rows)
    parts = [head]
    for r, row in enumerate(rows):
        y = PAD_TOP + r * ch
        parts.append(
            f'<text class="tick" x="{PAD_LEFT - 6}" y="{y + ch / 2 + 4:.1f}" '
            f'text-anchor="end">{escape(row)}</text>'
        )
        for c, column in enumerate(columns):
            x = PAD_LEFT + c * cw
            value = cells.get((row, column))
            if value is None:
                shade, text = "#f2f2f2", ""
            else:
                t = 0.0 if hi == lo else (value - lo) / (hi - lo)
                shade, text = _shade(t), fmt(value)
            ink = (
                "#ffffff"
                if value is not None and hi != lo and (value - lo) / (hi - lo) > 0.55
                else "#1a1a1a"
            )
            label = f"{row_label} {row}, {column_label} {column}: {text or 'none'}"
            parts.append(
                f'<rect class="cell" x="{x:.1f}" y="{y:.1f}" width="{cw - 2:.1f}" '
                f'height="{ch - 2:.1f}" fill="{shade}" data-value="{value}">'
                f"<title>{escape(label)}</title></rect>"
                f'<text class="cell-text" x="{x + cw / 2 - 1:.1f}" y="{y + ch / 2 + 4:.1f}" '
                f'text-anchor="middle" fill="{ink}">{escape(text)}</text>'
            )
    for c, column in enumerate(columns):
        parts.append(
            f'<text class="tick" x="{PAD_LEFT + c * cw + cw / 2:.1f}" '
            f'y="{PAD_TOP + inner_h + 14}" text-anchor="middle">{escape(column)}</text>'
        )
    parts.append(
        f'<text class="axis-label" x="{PAD_LEFT + inner_w / 2:.0f}" y="{height - 4}" '
        f'text-anchor="middle">{escape(column_label)}</text>'
        f'<text class="axis-label" x="12" y="{PAD_TOP + inner_h / 2:.0f}" text-anchor="middle" '
        f'transform="rotate(-90 12 {PAD_TOP + inner_h / 2:.0f})">{escape(row_label)}</text>'
    )
    parts.append(tail)
    return Markup("".join(parts))


def interval_chart(
    labels: Sequence[str],
    means: Sequence[float],
    lows: Sequence[float],
    highs: Sequence[float],
    *,
    title: str,
    x_label: str,
    width: int = WIDTH,
) -> Markup:
    """Horizontal dots with interval whiskers, one row per label (reward rate per variant)."""
    height = PAD_TOP + PAD_BOTTOM + 28 * max(1, len(labels))
    pairs = zip(labels, means, lows, highs, strict=True)
    desc = "; ".join(f"{lab}: {_fmt(m)} ({_fmt(lo)} to {_fmt(hi)})" for lab, m, lo, hi in pairs)
    head, tail = _open("interval", title, desc, width, height)
    finite = [v for v in (*lows, *highs, *means) if v == v and abs(v) != float("inf")]
    if not finite:
        return Markup(head + _empty(width, height) + tail)
    lo_all, hi_all = min(0.0, min(finite)), max(finite)
    span = (hi_all - lo_all) or 1.0
    left, inner_w = PAD_LEFT + 60, width - PAD_LEFT - 60 - PAD_RIGHT

    def x_of(v: float) -> float:
        v = min(max(v, lo_all), hi_all) if v == v else lo_all
        return left + inner_w * (v - lo_all) / span

    parts = [head]
    parts.append(
        _vertical_grid(left, inner_w, height - PAD_BOTTOM, lambda frac: lo_all + span * frac)
    )
    for i, (label, mean, low, high) in enumerate(zip(labels, means, lows, highs, strict=True)):
        y = PAD_TOP + 14 + 28 * i
        parts.append(
            f'<text class="tick" x="{left - 8}" y="{y + 4}" text-anchor="end">'
            f"{escape(_short(label, 14))}</text>"
            f'<line class="whisker" x1="{x_of(low):.1f}" x2="{x_of(high):.1f}" y1="{y}" '
            f'y2="{y}"/><circle class="dot" cx="{x_of(mean):.1f}" cy="{y}" r="5" '
            f'data-value="{mean}"><title>{escape(label)}: {escape(_fmt(mean))} '
            f"({escape(_fmt(low))} to {escape(_fmt(high))})</title></circle>"
        )
    parts.append(
        f'<text class="axis-label" x="{left + inner_w / 2:.0f}" y="{height - 4}" '
        f'text-anchor="middle">{escape(x_label)}</text>'
    )
    parts.append(tail)
    return Markup("".join(parts))


def _describe(labels: Sequence[str], values: Sequence[float], fmt: Callable) -> str:
    if not values:
        return "no data"
    top = max(range(len(values)), key=lambda i: values[i])
    return (
        f"{len(values)} bars; total {fmt(sum(values))}; highest {fmt(values[top])} at {labels[top]}"
    )


def _empty(width: int, height: int) -> str:
    return (
        f'<text class="empty" x="{width / 2:.0f}" y="{height / 2:.0f}" '
        'text-anchor="middle">no data yet</text>'
    )


def _nice(top: float) -> float:
    """A round axis maximum at or above ``top``."""
    if top <= 0:
        return 1.0
    import math

    magnitude = 10 ** math.floor(math.log10(top))
    for step in (1, 2, 2.5, 5, 10):
        if step * magnitude >= top:
            return step * magnitude
    return 10 * magnitude


def _shade(t: float) -> str:
    """From a pale to a deep blue (t in [0, 1])."""
    t = min(max(t, 0.0), 1.0)
    lo, hi = (232, 240, 250), (16, 66, 140)
    r, g, b = (round(a + (z - a) * t) for a, z in zip(lo, hi, strict=True))
    return f"#{r:02x}{g:02x}{b:02x}"


def _short(text: str, length: int = 10) -> str:
    """``text`` cut to ``length`` characters; a date (YYYY-MM-DD) that does not fit loses its
    year first (``02-14``: the full date is in the bar's title)."""
    if len(text) <= length:
        return text
    if length >= 5 and len(text) == 10 and text[4] == "-" and text[7] == "-":
        return text[5:]
    return text[: length - 1] + "…"


__all__ = ["bar_chart", "hbar_chart", "heatmap", "interval_chart"]
