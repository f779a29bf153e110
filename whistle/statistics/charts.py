"""Small charts drawn on the server as SVG: no JavaScript, no third-party service, no fonts.

Two kinds: a bar chart (vertical bars, for a few to a few dozen values in order, such as
months) and a horizontal bar chart (one row per value with its label above the bar, for long
labels such as categories and outcomes). Each returns one ``<svg>`` element as
:class:`markupsafe.Markup`, ready to place in a page:

- every text in it (title, description, labels, value texts) is escaped with markupsafe, so a
  label typed by an administrator cannot inject markup;
- ``role="img"`` with ``aria-label`` (the title), and ``<title>`` and ``<desc>`` (the
  description followed by every label and value), for screen readers; pages also show the
  numbers in a table next to each chart;
- colours, fonts and sizes are presentation attributes, not ``style``: the Content-Security-
  Policy forbids inline styles, and nothing is loaded from anywhere;
- the output depends on the input only (fixed sizes, numbers written with at most one
  decimal), so the same figures always give the same bytes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup

WIDTH = 640
BAR_COLOUR = "#0b5cad"
TEXT_COLOUR = "#1b1f24"
AXIS_COLOUR = "#6e7781"

# Vertical bar chart layout.
HEIGHT = 240
LEFT, RIGHT, TOP, BOTTOM = 16, 16, 24, 32
MAX_LABELS = 12  # more bars than this: only every n-th bar is labelled under the axis
MAX_VALUE_TEXTS = 24  # more bars than this: no value text above each bar (the table has them)

# Horizontal bar chart layout.
ROW = 40  # label line, then the bar
PAD = 8
VALUE_ROOM = 80  # right of the longest bar, for its value text


@dataclass(frozen=True)
class Bar:
    """One value: its ``label`` and, when given, how the value is written (``text``)."""

    label: str
    value: float
    text: str | None = None

    @property
    def shown(self) -> str:
        return self.text if self.text is not None else _number(self.value)


def _number(value: float) -> str:
    """A number as an SVG coordinate or value text: at most one decimal, no trailing zero."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _check(bars: Sequence[Bar]) -> None:
    for bar in bars:
        if not math.isfinite(bar.value) or bar.value < 0:
            raise ValueError("chart values must be finite and not negative")


# Every piece of markup is a constant template; ``format`` escapes each value put in.
SVG_OPEN = Markup(
    '<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{title}" '
    'width="{width}" height="{height}" viewBox="0 0 {width} {height}" class="chart">'
    "<title>{title}</title><desc>{desc}</desc>"
    '<g fill="{text}" font-family="system-ui, sans-serif" font-size="12">'
)
SVG_CLOSE = Markup('</g><line stroke="{axis}" x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}"/></svg>')
BAR = Markup('<rect class="bar" fill="{fill}" x="{x}" y="{y}" width="{width}" height="{height}"/>')
VALUE_ABOVE = Markup('<text class="value" x="{x}" y="{y}" text-anchor="middle">{text}</text>')
LABEL_UNDER = Markup('<text class="label" x="{x}" y="{y}" text-anchor="middle">{text}</text>')
LABEL_LEFT = Markup('<text class="label" x="{x}" y="{y}">{text}</text>')
VALUE_RIGHT = Markup('<text class="value" x="{x}" y="{y}">{text}</text>')


def _open(title: str, description: str, bars: Sequence[Bar], height: float) -> Markup:
    values = "; ".join(f"{bar.label}: {bar.shown}" for bar in bars)
    return SVG_OPEN.format(
        title=str(title),
        desc=f"{description} {values}".strip(),
        width=WIDTH,
        height=_number(height),
        text=TEXT_COLOUR,
    )


def bar_chart(bars: Sequence[Bar], *, title: str, description: str = "") -> Markup:
    """Vertical bars from left to right, the value above each bar, the label under it."""
    _check(bars)
    plot_width = WIDTH - LEFT - RIGHT
    plot_height = HEIGHT - TOP - BOTTOM
    baseline = TOP + plot_height
    highest = max((bar.value for bar in bars), default=0.0)
    scale = plot_height / highest if highest > 0 else 0.0
    slot = plot_width / len(bars) if bars else plot_width
    every = math.ceil(len(bars) / MAX_LABELS) if bars else 1
    parts = [_open(title, description, bars, HEIGHT)]
    for i, bar in enumerate(bars):
        height = bar.value * scale
        width = slot * 0.7
        middle = LEFT + i * slot + slot / 2
        parts.append(
            BAR.format(
                fill=BAR_COLOUR,
                x=_number(middle - width / 2),
                y=_number(baseline - height),
                width=_number(width),
                height=_number(height),
            )
        )
        if len(bars) <= MAX_VALUE_TEXTS:
            parts.append(
                VALUE_ABOVE.format(
                    x=_number(middle), y=_number(baseline - height - 4), text=bar.shown
                )
            )
        if i % every == 0:
            parts.append(
                LABEL_UNDER.format(x=_number(middle), y=_number(baseline + 18), text=bar.label)
            )
    parts.append(
        SVG_CLOSE.format(axis=AXIS_COLOUR, x1=LEFT, y1=baseline, x2=LEFT + plot_width, y2=baseline)
    )
    return Markup("").join(parts)


def horizontal_bar_chart(bars: Sequence[Bar], *, title: str, description: str = "") -> Markup:
    """One row per value, top to bottom: the label, and under it the bar and its value."""
    _check(bars)
    longest = WIDTH - 2 * PAD - VALUE_ROOM
    highest = max((bar.value for bar in bars), default=0.0)
    scale = longest / highest if highest > 0 else 0.0
    height = 2 * PAD + ROW * len(bars)
    parts = [_open(title, description, bars, height)]
    for i, bar in enumerate(bars):
        top = PAD + i * ROW
        width = bar.value * scale
        parts += [
            LABEL_LEFT.format(x=PAD, y=top + 13, text=bar.label),
            BAR.format(fill=BAR_COLOUR, x=PAD, y=top + 18, width=_number(width), height=14),
            VALUE_RIGHT.format(x=_number(PAD + width + 6), y=top + 30, text=bar.shown),
        ]
    parts.append(SVG_CLOSE.format(axis=AXIS_COLOUR, x1=PAD, y1=PAD, x2=PAD, y2=height - PAD))
    return Markup("").join(parts)
