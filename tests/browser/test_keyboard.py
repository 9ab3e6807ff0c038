"""The console with the keyboard alone: Tab order (skip link first, then the navigation, then
the view), the skip link, logging in and changing views without a mouse."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from tests.browser.console import demo_login, expect, heading, nav_link, open_view
from tests.browser.traffic import Traffic

if TYPE_CHECKING:
    from playwright.sync_api import Page

NAV = ["Patient", "Principal", "Request", "Alerts", "Integrity"]
SKIP = re.compile(r"skip to (main )?content", re.I)
FOCUSED = """() => {
  const e = document.activeElement;
  const label = e.labels && e.labels.length ? e.labels[0].textContent : "";
  const name = e.getAttribute("aria-label") || label || e.textContent || "";
  const box = e.getBoundingClientRect();
  return {
    tag: e.tagName.toLowerCase(),
    name: name.replace(/\\s+/g, " ").trim().slice(0, 60),
    in_main: !!e.closest("main, [role=main]"),
    in_nav: !!e.closest("nav, [role=navigation]"),
    shown: box.width > 0 && box.height > 0,
    back_at_start: e === window.__tabStart,
  };
}"""


def tab_cycle(page: Page, limit: int = 80) -> list[dict[str, Any]]:
    """Press Tab until focus comes back to the first element it reached: every stop of one
    round, in order (the document itself, where focus leaves the page and wraps, left out)."""
    stops: list[dict[str, Any]] = []
    for press in range(limit):
        page.keyboard.press("Tab")
        if press == 0:
            page.evaluate("() => { window.__tabStart = document.activeElement; }")
        stop = page.evaluate(FOCUSED)
        if stop["back_at_start"] and stops:
            return stops
        if stop["tag"] != "body":
            stops.append(stop)
    names = [stop["name"] for stop in stops[:20]]
    raise AssertionError(f"Tab did not come back round in {limit} presses: {names} …")


def test_tab_order_skip_link_then_navigation_then_the_view(page: Page, traffic: Traffic) -> None:
    demo_login(page)
    open_view(page, "Alerts")
    expect(nav_link(page, "Alerts")).to_have_attribute("aria-current", "page")
    stops = tab_cycle(page)
    names = [stop["name"] for stop in stops]
    first = next(i for i, stop in enumerate(stops) if SKIP.search(stop["name"]))
    order = stops[first:] + stops[:first]  # from the top of the page
    assert SKIP.search(order[0]["name"]), names
    nav_stops = [i for i, stop in enumerate(order) if stop["in_nav"]]
    assert [order[i]["name"] for i in nav_stops] == NAV, names
    assert any(stop["in_main"] for stop in order[nav_stops[-1] :]), names
    hidden = [stop for stop in order if not stop["shown"] and not SKIP.search(stop["name"])]
    assert not hidden, f"focus lands on elements not shown: {hidden}"


def test_skip_link_moves_focus_to_the_main_content(page: Page, traffic: Traffic) -> None:
    demo_login(page)
    open_view(page, "Alerts")
    skip = page.get_by_role("link", name=SKIP)
    skip.focus()
    box = skip.bounding_box()
    assert box and box["y"] >= 0 and box["x"] >= 0, "the skip link is not on screen when focused"
    page.keyboard.press("Enter")
    main = page.get_by_role("main")
    page.wait_for_function("() => document.activeElement && document.activeElement.closest('main')")
    assert main.evaluate("m => m.contains(document.activeElement)")
    expect(heading(page, "Alerts")).to_be_visible(timeout=2_000)  # still on the same view


def test_log_in_and_change_views_with_the_keyboard(page: Page, traffic: Traffic) -> None:
    page.goto("/console")
    expect(heading(page, "Log in")).to_be_visible()
    token_box = page.get_by_label(re.compile("access token", re.I))
    for _ in range(10):
        page.keyboard.press("Tab")
        if token_box.evaluate("e => e === document.activeElement"):
            break
    expect(token_box).to_be_focused()
    page.keyboard.insert_text(traffic.token("keyboard-auditor", "system/AuditEvent.rs"))
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name=re.compile(r"^log in$", re.I))).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_text("keyboard-auditor")).to_be_visible()
    first_view = page.get_by_role("heading", level=1)
    expect(first_view).to_be_focused()  # focus follows the change of view

    nav_link(page, "Integrity").focus()
    page.keyboard.press("Enter")
    expect(heading(page, "Integrity")).to_be_focused()
