"""The server-side SVG charts (whistle/statistics/charts.py): well-formed, one bar per value, bars
to
scale, every text escaped, accessible, self-contained and deterministic."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Callable

import pytest
from markupsafe import Markup

from whistle.statistics import charts
from whistle.statistics.charts import Bar

Draw = Callable[..., Markup]

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = "<script>alert('x')</script> & \"Fake\""

BARS = [Bar("Jan", 4, "4"), Bar("Feb", 2, "2"), Bar("Mar", 0, "0"), Bar("Apr", 1, "1")]


def parse(svg: Markup) -> ET.Element:
    return ET.fromstring(str(svg))


def rects(root: ET.Element) -> list[ET.Element]:
    return [r for r in root.iter(f"{SVG}rect") if r.get("class") == "bar"]


def texts(root: ET.Element, kind: str) -> list[str]:
    return [t.text or "" for t in root.iter(f"{SVG}text") if t.get("class") == kind]


@pytest.mark.parametrize("draw", [charts.bar_chart, charts.horizontal_bar_chart])
def test_a_chart_is_an_accessible_svg_with_one_bar_per_value(draw: Draw) -> None:
    svg = draw(BARS, title="Reports per month", description="Number of reports.")
    assert isinstance(svg, Markup)
    root = parse(svg)
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    assert root.get("aria-label") == "Reports per month"
    assert root.findtext(f"{SVG}title") == "Reports per month"
    assert root.findtext(f"{SVG}desc") == "Number of reports. Jan: 4; Feb: 2; Mar: 0; Apr: 1"
    assert len(rects(root)) == len(BARS)
    assert texts(root, "label") == ["Jan", "Feb", "Mar", "Apr"]
    assert texts(root, "value") == ["4", "2", "0", "1"]


def test_vertical_bars_are_to_scale_and_stand_on_one_baseline() -> None:
    root = parse(charts.bar_chart(BARS, title="t"))
    heights = [float(r.get("height", "nan")) for r in rects(root)]
    bottoms = {
        round(float(r.get("y", "nan")) + float(r.get("height", "nan")), 1) for r in rects(root)
    }
    assert len(bottoms) == 1  # every bar stands on the axis
    assert heights[0] == charts.HEIGHT - charts.TOP - charts.BOTTOM  # the highest fills the plot
    assert heights[1] == pytest.approx(heights[0] / 2, abs=0.1)
    assert heights[2] == 0
    assert heights[3] == pytest.approx(heights[0] / 4, abs=0.1)
    xs = [float(r.get("x", "nan")) for r in rects(root)]
    assert xs == sorted(xs)  # left to right in the order given


def test_horizontal_bars_are_to_scale_one_row_each() -> None:
    root = parse(charts.horizontal_bar_chart(BARS, title="t"))
    widths = [float(r.get("width", "nan")) for r in rects(root)]
    assert widths[0] == charts.WIDTH - 2 * charts.PAD - charts.VALUE_ROOM
    assert widths[1] == pytest.approx(widths[0] / 2, abs=0.1)
    assert widths[2] == 0
    ys = [float(r.get("y", "nan")) for r in rects(root)]
    assert ys == sorted(ys) and len(set(ys)) == len(ys)
    assert float(root.get("height", "nan")) == 2 * charts.PAD + charts.ROW * len(BARS)


@pytest.mark.parametrize("draw", [charts.bar_chart, charts.horizontal_bar_chart])
def test_every_text_is_escaped(draw: Draw) -> None:
    svg = draw([Bar(HOSTILE, 3, HOSTILE), Bar("Fake", 1)], title=HOSTILE, description=HOSTILE)
    text = str(svg)
    assert "<script>" not in text
    assert "&lt;script&gt;" in text
    assert 'aria-label="<' not in text
    root = parse(svg)  # still well-formed XML
    assert root.get("aria-label") == HOSTILE
    assert root.findtext(f"{SVG}title") == HOSTILE
    assert texts(root, "label") == [HOSTILE, "Fake"]
    assert texts(root, "value") == [HOSTILE, "1"]
    assert not list(root.iter(f"{SVG}script"))


@pytest.mark.parametrize("draw", [charts.bar_chart, charts.horizontal_bar_chart])
def test_a_chart_loads_nothing_and_is_the_same_every_time(draw: Draw) -> None:
    first = str(draw(BARS, title="Fake", description="Fake."))
    assert first == str(draw(list(BARS), title="Fake", description="Fake."))
    for forbidden in ("style", "href", "url(", "@import", "<script", "<foreignObject", "<image"):
        assert forbidden not in first
    root = parse(draw(BARS, title="Fake"))
    assert all(not name.startswith("on") for el in root.iter() for name in el.attrib)


def test_many_bars_keep_the_axis_readable() -> None:
    bars = [Bar(f"M{i}", i) for i in range(36)]
    root = parse(charts.bar_chart(bars, title="Three years"))
    assert len(rects(root)) == 36
    assert texts(root, "label") == [f"M{i}" for i in range(0, 36, 3)]  # every third
    assert texts(root, "value") == []  # too many to write above the bars: the table has them
    assert "M35: 35" in (root.findtext(f"{SVG}desc") or "")


@pytest.mark.parametrize("draw", [charts.bar_chart, charts.horizontal_bar_chart])
def test_no_values_or_only_zeros_still_draw(draw: Draw) -> None:
    assert rects(parse(draw([], title="Nothing"))) == []
    zeros = rects(parse(draw([Bar("a", 0), Bar("b", 0)], title="Zeros")))
    assert len(zeros) == 2
    assert all(
        float(r.get("height" if draw is charts.bar_chart else "width", "")) == 0 for r in zeros
    )


@pytest.mark.parametrize("value", [-1, math.nan, math.inf])
def test_values_that_cannot_be_drawn_are_refused(value: float) -> None:
    with pytest.raises(ValueError):
        charts.bar_chart([Bar("x", value)], title="t")
    with pytest.raises(ValueError):
        charts.horizontal_bar_chart([Bar("x", value)], title="t")


def test_numbers_are_written_with_at_most_one_decimal() -> None:
    assert [Bar("x", v).shown for v in (3, 2.5, 1 / 3, 0)] == ["3", "2.5", "0.3", "0"]
