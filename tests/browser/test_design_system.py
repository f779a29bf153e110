"""Every class of issue 16's shared vocabulary, styled by whistle.css, as a browser draws it.

A sample page uses each class (buttons and their variants, badges, data tables, a scrolling
table, page head, panels, notices, stages, the next step, collapsed actions) with the app's
own style sheet. axe-core checks it (colour contrast included) at a phone's and a desktop's
width, and the states a person sees are checked: a destructive button is red, not the
primary blue; hover darkens; the keyboard focus ring shows; a disabled button looks disabled.
Screenshots: ``test-output/browser/design-system/``.
"""

from __future__ import annotations

import pytest

from tests.browser.availability import TIMEOUT_MS, require_playwright

require_playwright()

from playwright.sync_api import Browser, Page, Route  # noqa: E402

from tests.browser.evidence import Evidence, Visitor  # noqa: E402
from whistle.admin.accent import contrast  # noqa: E402

pytestmark = pytest.mark.browser

SAMPLE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Design system sample</title><link rel="stylesheet" href="/static/whistle.css"></head>
<body><header class="site"><div class="wrap wide"><span class="brand"><span>Fake Org</span></span>
<nav class="lang" aria-label="Language"><a href="#">Dansk</a></nav></div></header>
<main id="main" class="wrap wide">
<div class="page-head"><h1>Case 2026-0001</h1><div class="actions">
<a class="button" href="#">Primary link</a>
<a class="button secondary" href="#">Secondary</a></div></div>
<p class="muted">Muted text. <span class="badge overdue">&#9888; 3 days overdue</span>
<span class="badge soon">&#9680; due in 2 days</span> <span class="badge ok">&#10003; on time</span>
<span class="badge done">&#10003; done</span> <span class="badge closed">&#9632; closed</span></p>
<ol class="stages"><li class="stage done">&#10003; Received</li>
<li class="stage done">&#10003; Acknowledged</li>
<li class="stage current" aria-current="step">&#9679; Investigating</li>
<li class="stage todo">&#9675; Feedback given</li>
<li class="stage todo">&#9675; Closed</li></ol>
<div class="next-step"><p>Feedback due in 12 days: give the reporter feedback by 2 June 2026.</p>
<a href="#">A link in the next step</a></div>
<section class="panel"><h2>A panel</h2><p>Boxed section with <a href="#">a link</a>.</p></section>
<p class="notice">A notice with <a href="#">a link</a>.</p>
<p class="notice warn">A warning with <a href="#">a link</a>.</p>
<p class="notice ok">Done: <a href="#">a link</a>.</p>
<details class="action"><summary>Step aside from this case</summary>
<p>What happens.</p><button type="button" class="danger">Step aside</button></details>
<details class="action" open><summary>Add a note</summary><p>Opened.</p></details>
<p class="actions"><button type="button" id="primary">Send</button>
<button type="button" class="secondary">Cancel</button>
<button type="button" class="danger" id="danger">Remove for good</button>
<button type="button" class="link">Looks like a link</button>
<button type="button" disabled id="disabled">Not now</button></p>
<table class="data"><caption>A data table</caption><thead><tr><th scope="col">Case</th>
<th scope="col">Received</th><th scope="col">Status</th></tr></thead><tbody>
<tr><td class="nowrap">2026-0001</td><td class="nowrap">2 March 2026</td>
<td><span class="badge soon">&#9680; due soon</span></td></tr>
<tr><td class="nowrap">2026-0002</td><td class="nowrap">3 March 2026</td><td>Closed</td></tr>
</tbody></table>
<div class="table-scroll" role="region" tabindex="0" aria-label="A wide table"><table class="data">
<thead><tr>WIDE_HEAD</tr></thead><tbody><tr>WIDE_ROW</tr></tbody></table></div>
</main><footer class="site"><div class="wrap wide">Footer text.</div></footer></body></html>"""
WIDE = 14

STATE = """(sel) => {
  const s = getComputedStyle(document.querySelector(sel));
  return {background: s.backgroundColor, color: s.color, outline: s.outlineStyle,
          cursor: s.cursor};
}"""


def rgb_hex(css: str) -> str:
    """A computed colour (``rgb(r, g, b)``, or ``color(srgb r g b)`` from ``color-mix``) as
    ``#rrggbb``."""
    inner = css[css.index("(") + 1 : css.index(")")]
    if css.startswith("color(srgb"):
        channels = [round(float(v) * 255) for v in inner.split()[1:4]]
    else:
        channels = [int(v) for v in inner.split(",")[:3]]
    return "#" + "".join(f"{c:02x}" for c in channels)


def sample() -> str:
    head = "".join(f'<th scope="col">Column {i}</th>' for i in range(WIDE))
    row = "".join(f'<td class="nowrap">Value number {i}</td>' for i in range(WIDE))
    return SAMPLE.replace("WIDE_HEAD", head).replace("WIDE_ROW", row)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_every_class_of_the_vocabulary_is_styled_and_readable(
    browser: Browser, checker: Page, axe_source: str, live_server: str
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    address = f"{live_server}/design-system-sample"

    def serve(route: Route) -> None:
        route.fulfill(status=200, content_type="text/html; charset=utf-8", body=sample())

    page.route(address, serve)
    page.goto(address)
    evidence = Evidence.start("design-system", "en", axe_source, checker, accessibility=True)
    visitor = Visitor(page, scripts=True)

    for width in (360, 1280):
        page.set_viewport_size({"width": width, "height": 900})
        evidence.record(visitor, f"sample-{width}")
        sideways = page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
        assert not sideways, f"the sample page scrolls sideways at {width} px"

    primary, danger = page.evaluate(STATE, "#primary"), page.evaluate(STATE, "#danger")
    assert danger["background"] != primary["background"], "a danger button looks primary"
    assert rgb_hex(danger["background"]) == "#b3261e"
    assert contrast(rgb_hex(danger["color"]), rgb_hex(danger["background"])) >= 4.5

    page.hover("#danger")
    hovered = page.evaluate(STATE, "#danger")
    assert hovered["background"] != danger["background"], "hovering changes nothing"
    assert contrast(rgb_hex(hovered["color"]), rgb_hex(hovered["background"])) >= 4.5
    page.hover("#primary")
    hovered = page.evaluate(STATE, "#primary")
    assert hovered["background"] != primary["background"]
    assert contrast(rgb_hex(hovered["color"]), rgb_hex(hovered["background"])) >= 4.5

    page.focus("#primary")
    page.keyboard.press("Tab")  # to the next button, by keyboard: focus-visible applies
    assert page.evaluate("document.activeElement.textContent") == "Cancel"
    assert page.evaluate(STATE, "button.secondary")["outline"] == "solid"

    disabled = page.evaluate(STATE, "#disabled")
    assert disabled["cursor"] == "not-allowed" and disabled["background"] != primary["background"]
    assert contrast(rgb_hex(disabled["color"]), rgb_hex(disabled["background"])) >= 4.5
    context.close()
    evidence.assert_accessible()
